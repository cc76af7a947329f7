"""Opt-in wall-clock spans of a request's phases, answered in a ``Server-Timing`` header (``SERVER_TIMING``).

With ``SERVER_TIMING`` on, every answer carries ``Server-Timing: identify;dur=0.02, form;dur=0.31, ...``: each
request hook by its function's name, each ``span`` the views open (``/api/convert``: form, decode, caption,
speech, keep-image, history, json), and ``app``: from the WSGI call to the last hook, so what the spans leave
out (routing, the view's wrappers) is ``app`` minus their sum. Durations in milliseconds. Off by default: the
header tells any client how long each phase took (bench/bench_overhead.py turns it on).
"""

from __future__ import annotations

import contextlib
import functools
import time
from collections.abc import Callable, Iterator

from flask import Flask, Response, g, request

START = "image_to_audio.timing_start"  # the WSGI environ key of the request's start (perf_counter seconds)


@contextlib.contextmanager
def span(name: str) -> Iterator[None]:
    """Time the block as ``name`` when this request is timed; otherwise cost nothing but a lookup."""
    spans = g.get("spans")
    if spans is None:
        yield
        return
    start = time.perf_counter()
    try:
        yield
    finally:
        spans.append((name, time.perf_counter() - start))


def _timed(hook: Callable) -> Callable:
    """A request hook that times itself under its own name."""
    name = getattr(hook, "__name__", "hook").strip("_")

    @functools.wraps(hook)
    def wrapper(*args):
        with span(name):
            return hook(*args)

    return wrapper


def _begin() -> None:
    g.spans = []


def _header(response: Response) -> Response:
    spans = g.get("spans")
    if spans is not None:
        spans.append(("app", time.perf_counter() - request.environ[START]))
        response.headers["Server-Timing"] = ", ".join(f"{name};dur={seconds * 1000:.3f}" for name, seconds in spans)
    return response


def init_app(app: Flask) -> None:
    """When ``SERVER_TIMING`` is on, time every request hook registered so far (call it last) and the request."""
    if not app.config["SERVER_TIMING"]:
        return
    inner = app.wsgi_app

    def started(environ, start_response):
        environ[START] = time.perf_counter()
        return inner(environ, start_response)

    app.wsgi_app = started  # type: ignore[method-assign]
    before, after = app.before_request_funcs.setdefault(None, []), app.after_request_funcs.setdefault(None, [])
    before[:] = [_begin, *map(_timed, before)]
    after[:] = [_header, *map(_timed, after)]  # Flask calls after-request hooks last-registered first
