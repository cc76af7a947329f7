"""An HTTP proxy on loopback in front of an S3 API that passes every request on, except those a test tells it to
hold: a storage that stops answering midway, so a test can kill the service at a known point of a conversion
(some of its files stored, the rest not) without any hook in the service.

    with HoldingProxy(s3.endpoint) as proxy:        # the service's AWS_ENDPOINT_URL is proxy.url
        proxy.hold = lambda method, path: method == "PUT" and "/audio." in path
        ...                                         # start a conversion
        assert proxy.held.wait(60)                  # the image is stored, the audio is on its way, held
"""

from __future__ import annotations

import http.client
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Self
from urllib.parse import urlsplit

HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "expect"}


class HoldingProxy:
    """Forwards to ``upstream``; a request ``hold(method, path)`` matches is never answered (``held`` is set)."""

    def __init__(self, upstream: str) -> None:
        self.upstream = urlsplit(upstream)
        self.hold: Callable[[str, str], bool] | None = None
        self.held, self._release = threading.Event(), threading.Event()
        self.held_paths: list[str] = []
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._server.daemon_threads = True
        self._server.proxy = self  # type: ignore[attr-defined]
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> Self:
        threading.Thread(target=self._server.serve_forever, name="s3-proxy", daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._release.set()
        self._server.shutdown()
        self._server.server_close()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as boto3 expects; "Expect: 100-continue" is answered here

    def _forward(self) -> None:
        proxy: HoldingProxy = self.server.proxy  # type: ignore[attr-defined]
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if proxy.hold is not None and proxy.hold(self.command, self.path):
            proxy.held_paths.append(self.path)
            proxy.held.set()
            proxy._release.wait()
            self.close_connection = True
            return
        headers = {key: value for key, value in self.headers.items() if key.lower() not in HOP_BY_HOP}
        upstream = http.client.HTTPConnection(proxy.upstream.hostname, proxy.upstream.port, timeout=60)
        try:
            upstream.request(self.command, self.path, body=body, headers=headers)
            answer = upstream.getresponse()
            data = answer.read()
        finally:
            upstream.close()
        self.send_response(answer.status, answer.reason)
        for key, value in answer.getheaders():
            if key.lower() not in HOP_BY_HOP:
                self.send_header(key, value)
        self.send_header("Content-Length", answer.getheader("Content-Length") or "0" if self.command == "HEAD"
                         else str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _forward

    def log_message(self, format: str, *args: object) -> None:  # quiet: the tests' output is theirs
        pass
