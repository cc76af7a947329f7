"""Fixtures for the browser tests: the real app on a real HTTP server, and Debian's Chromium driven by Playwright.

Set-up (the project's Makefile does it): ``apt-get install chromium``, ``pip install playwright`` (never
``playwright install``: Playwright drives /usr/bin/chromium) and ``npm ci --prefix tests/browser`` for axe-core.
Anything missing fails the tests rather than skipping them.
"""

from __future__ import annotations

import contextlib
import logging
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from playwright.sync_api import Browser, Page, expect, sync_playwright
from werkzeug.serving import make_server

from app import create_app
from testkit.project import GIT_IDENTITY
from testkit.service import settings
from testkit.tiny_models import Store
from tests.browser.actions import TIMEOUT_MS, Site, open_page

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-proxy-server"]
AXE = Path(__file__).with_name("node_modules") / "axe-core" / "axe.min.js"

expect.set_options(timeout=TIMEOUT_MS)


def build_app(store: Store | str, instance: Path, **config: object) -> Flask:
    """The app as tests/app builds it (real tiny captioners, espeak), in ``instance``."""
    return create_app(settings(store, **config), instance_path=instance)


@contextlib.contextmanager
def serve(app: Flask) -> Iterator[Site]:
    """Serve ``app`` on a free port of 127.0.0.1 from a thread (werkzeug, one thread per request)."""
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no line per request
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="browser-test-server", daemon=True)
    thread.start()
    try:
        yield Site(f"http://127.0.0.1:{server.server_port}", app)
    finally:
        server.shutdown()
        thread.join(10)


@pytest.fixture(scope="session")
def site(shared_store: Store, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """The app over the shared store's tiny captioners (``caption_of`` gives their captions), for the whole session."""
    with serve(build_app(shared_store, tmp_path_factory.mktemp("browser-instance"))) as served:
        yield served


@pytest.fixture(scope="session")
def empty_site(shared_store: Store, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """The app serving an alias no version has yet: no model is ready."""
    instance = tmp_path_factory.mktemp("browser-empty-instance")
    with serve(build_app(shared_store, instance, MODEL_ALIAS="not-promoted-yet")) as served:
        yield served


@pytest.fixture
def training_site(trained_project, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Site]:
    """The app on the trained project's store, whose training jobs are real `dvc exp run`s in that project."""
    for key in GIT_IDENTITY:  # `dvc exp run` commits the experiment
        monkeypatch.setenv(key, trained_project.env[key])
    app = build_app(trained_project.env["MLFLOW_TRACKING_URI"], tmp_path / "instance",
                    TRAIN_COMMAND=[sys.executable, "-m", "dvc", "exp", "run"], TRAIN_CWD=str(trained_project.path))
    with serve(app) as served:
        yield served


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    """Debian's headless Chromium, one for the session."""
    if not CHROMIUM.is_file():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium (apt-get install chromium)")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Browser, site: Site) -> Iterator[Page]:
    yield from open_page(browser, site)


@pytest.fixture
def empty_page(browser: Browser, empty_site: Site) -> Iterator[Page]:
    yield from open_page(browser, empty_site)


@pytest.fixture
def training_page(browser: Browser, training_site: Site) -> Iterator[Page]:
    yield from open_page(browser, training_site)


@pytest.fixture(scope="session")
def axe_source() -> str:
    """axe-core's script, from the npm package installed beside this file."""
    if not AXE.is_file():
        pytest.fail(f"{AXE} is missing: run `npm ci --prefix tests/browser` (package-lock.json pins axe-core)")
    return AXE.read_text(encoding="utf-8")
