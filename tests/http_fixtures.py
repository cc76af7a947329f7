"""A real HTTP file server on 127.0.0.1 for tests, with failure modes on demand.

Serve a dict ``{"path/name": bytes}`` or a folder::

    from tests.http_fixtures import http_server_fixture  # noqa: F401 (provides `http_server`)

    def test_download(http_server):
        srv = http_server({"data.zip": payload}, drop_after=100)
        fetch(srv.url("data.zip"), tmp_path)
        assert srv.requests[-1].headers["Range"] == "bytes=100-"

    with FileServer(tmp_path / "site", ranges=False) as srv:  # outside pytest
        ...

Options are attributes, read on every request, so a test may change them while serving:

* ``ranges``: honour ``Range: bytes=N-M`` with 206/416 (True) or ignore it and send 200 (False).
* ``drop_after`` / ``drops``: for the first ``drops`` GET answers longer than ``drop_after``
  body bytes, send only that many bytes and close the connection (a dropped download).
* ``status``: answer every request with this status (404, 500, ...) and a short body.
* ``delay``: seconds to wait before answering.
* ``stall``: never answer (the handler waits until the server stops): for time-outs.
* ``stall_after``: send this many body bytes, then hang: a time-out mid-transfer.

``requests`` lists every request (method, path, Title-Cased headers) in arrival order.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import socket
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import quote, unquote, urlparse

import pytest

logger = logging.getLogger(__name__)
_RANGE = re.compile(r"bytes=(\d*)-(\d*)$")


@dataclass(frozen=True)
class LoggedRequest:
    """One request as the server saw it."""

    method: str
    path: str
    headers: dict[str, str]


class FileServer:
    """A threaded HTTP server on a free port of 127.0.0.1; a context manager."""

    def __init__(self, files: Mapping[str, bytes] | str | os.PathLike[str], *, ranges: bool = True,
                 drop_after: int | None = None, drops: int = 1, status: int | None = None,
                 delay: float = 0.0, stall: bool = False, stall_after: int | None = None) -> None:
        is_dict = isinstance(files, Mapping)
        self.files = {k.lstrip("/"): v for k, v in files.items()} if is_dict else None
        self.root = None if is_dict else Path(files)
        self.ranges, self.drop_after, self.drops, self.status = ranges, drop_after, drops, status
        self.delay, self.stall, self.stall_after = delay, stall, stall_after
        self.requests: list[LoggedRequest] = []
        self._dropped = 0
        self._lock = threading.Lock()
        self._stopped = threading.Event()
        self._conns: set[socket.socket] = set()
        self._httpd = _Server(("127.0.0.1", 0), _Handler)
        self._httpd.owner = self
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.05,), daemon=True)

    @property
    def port(self) -> int:
        return self._httpd.server_address[1]

    def url(self, name: str = "") -> str:
        """The URL of ``name`` on this server."""
        return f"http://127.0.0.1:{self.port}/{quote(name.lstrip('/'))}"

    def start(self) -> FileServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, release stalled handlers and close open connections."""
        self._stopped.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        with self._lock:
            for conn in self._conns:
                with contextlib.suppress(OSError):
                    conn.shutdown(socket.SHUT_RDWR)
        self._thread.join(5)

    def __enter__(self) -> FileServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def content(self, path: str) -> bytes | None:
        """The bytes served at ``path``, or None (404)."""
        key = unquote(urlparse(path).path).lstrip("/")
        if self.files is not None:
            return self.files.get(key)
        root = self.root.resolve()
        file = (root / key).resolve()
        return file.read_bytes() if file.is_relative_to(root) and file.is_file() else None

    def _take_drop(self, length: int) -> bool:
        with self._lock:
            if self.drop_after is None or self._dropped >= self.drops or length <= self.drop_after:
                return False
            self._dropped += 1
            return True


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False  # never wait on a client that keeps its connection open
    owner: FileServer

    def handle_error(self, request: object, client_address: tuple[str, int]) -> None:
        logger.debug("connection from %s ended with an error", client_address, exc_info=True)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def setup(self) -> None:
        super().setup()
        with self.server.owner._lock:
            self.server.owner._conns.add(self.connection)

    def finish(self) -> None:
        with self.server.owner._lock:
            self.server.owner._conns.discard(self.connection)
        super().finish()

    def log_message(self, format: str, *args: object) -> None:
        logger.debug("%s " + format, self.address_string(), *args)

    def do_GET(self) -> None:
        self._answer(send_body=True)

    def do_HEAD(self) -> None:
        self._answer(send_body=False)

    def _answer(self, send_body: bool) -> None:
        srv = self.server.owner
        with srv._lock:
            headers = {k.title(): v for k, v in self.headers.items()}
            srv.requests.append(LoggedRequest(self.command, self.path, headers))
        if srv.stall:
            srv._stopped.wait()
            self.close_connection = True
            return
        if srv.delay:
            srv._stopped.wait(srv.delay)
        data = srv.content(self.path)
        if srv.status or data is None:
            status = srv.status or 404
            return self._send(status, {}, f"status {status}\n".encode(), send_body)
        size, extra = len(data), {"Accept-Ranges": "bytes"} if srv.ranges else {}
        match = _RANGE.match(self.headers.get("Range", "")) if srv.ranges else None
        if match and (match[1] or match[2]):
            start, end = int(match[1] or 0), int(match[2]) if match[2] else size - 1
            if not match[1]:  # "bytes=-N": the last N bytes
                start, end = max(size - int(match[2]), 0), size - 1
            if start >= size or end < start:
                return self._send(416, {"Content-Range": f"bytes */{size}"}, b"", send_body)
            end = min(end, size - 1)
            extra["Content-Range"] = f"bytes {start}-{end}/{size}"
            return self._send(206, extra, data[start:end + 1], send_body)
        self._send(200, extra, data, send_body)

    def _send(self, status: int, headers: dict[str, str], body: bytes, send_body: bool) -> None:
        srv = self.server.owner
        self.send_response(status)
        for key, value in {"Content-Type": "application/octet-stream", **headers}.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if not send_body:
            return
        if srv.stall_after is not None and len(body) > srv.stall_after:
            self.wfile.write(body[:srv.stall_after])
            self.wfile.flush()
            srv._stopped.wait()
            self.close_connection = True
        elif status in (200, 206) and srv._take_drop(len(body)):
            self.wfile.write(body[:srv.drop_after])
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_RDWR)
            self.close_connection = True
        else:
            self.wfile.write(body)


@pytest.fixture(name="http_server")
def http_server_fixture(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., FileServer]]:
    """Factory: ``http_server(files, **options)`` starts a FileServer, stopped after the test."""
    for var in ("NO_PROXY", "no_proxy"):  # a developer's proxy must not intercept loopback
        monkeypatch.setenv(var, "127.0.0.1,localhost")
    servers: list[FileServer] = []

    def make(files: Mapping[str, bytes] | str | os.PathLike[str], **options: object) -> FileServer:
        servers.append(FileServer(files, **options).start())
        return servers[-1]

    yield make
    for server in servers:
        server.stop()
