"""Fixtures for the fault tests (the stores, tiny captioners and trained project come from tests/conftest.py)."""

import pytest


@pytest.fixture(autouse=True)
def _no_proxies(monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep the tests' requests to 127.0.0.1 direct (gTTS, too, passes the environment's proxies on)."""
    for name in ("http_proxy", "https_proxy", "all_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
