"""Local stand-ins for Google's TTS endpoint, all on 127.0.0.1, for the speech tests and bench.

- ``closed_port()``: a port nothing listens on, so connections are refused.
- ``SilentServer``: accepts connections and never answers (a black-holed service).
- ``FakeGoogleServer``: answers gTTS's batchexecute POST like Google does, with a real
  MP3 (a 24 kHz tone made with lameenc, as long as the text would take to say).
"""

from __future__ import annotations

import base64
import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

import lameenc
import numpy as np

GOOGLE_SAMPLE_RATE = 24000  # Google's TTS MP3s are 24 kHz mono


def closed_port() -> int:
    """Return a loopback port that was free a moment ago and has no listener."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def tone_mp3(seconds: float, freq: float = 440.0, sample_rate: int = GOOGLE_SAMPLE_RATE) -> bytes:
    """Return an MP3 of a sine tone (32 kbit/s mono), like the size of Google's answers."""
    t = np.arange(int(seconds * sample_rate)) / sample_rate
    pcm = (8000 * np.sin(2 * np.pi * freq * t)).astype("<i2").tobytes()
    encoder = lameenc.Encoder()
    encoder.set_bit_rate(32)
    encoder.set_in_sample_rate(sample_rate)
    encoder.set_out_sample_rate(sample_rate)
    encoder.set_channels(1)
    encoder.set_quality(7)
    return bytes(encoder.encode(pcm) + encoder.flush())


class _Server:
    """Start on enter, stop on exit; ``base_url`` is ``http://127.0.0.1:<port>``."""

    base_url: str

    def __enter__(self) -> _Server:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError


class SilentServer(_Server):
    """A socket that accepts every connection and never sends a byte."""

    def start(self) -> None:
        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(64)
        self._sock.settimeout(0.1)
        self._held: list[socket.socket] = []
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()
        self.base_url = f"http://127.0.0.1:{self._sock.getsockname()[1]}"

    def _accept(self) -> None:
        while not self._stopping.is_set():
            try:
                conn, _ = self._sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self._held.append(conn)

    def stop(self) -> None:
        self._stopping.set()
        self._thread.join(timeout=2)
        for conn in [*self._held, self._sock]:
            conn.close()


class FakeGoogleServer(_Server):
    """Answers ``POST /_/TranslateWebserverUi/data/batchexecute`` as Google does.

    Attributes:
        requests: (text, lang, slow) of every request, in order.
        status: HTTP status to answer with; set to 500 to play an outage.
        seconds_per_char: Length of the tone returned per character of text.
    """

    def __init__(self, seconds_per_char: float = 0.06) -> None:
        self.requests: list[tuple[str, str, bool]] = []
        self.status = 200
        self.seconds_per_char = seconds_per_char

    def start(self) -> None:
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        self.base_url = f"http://127.0.0.1:{self._httpd.server_address[1]}"

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=2)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                body = self.rfile.read(int(self.headers.get("Content-Length", 0))).decode()
                if self.path != "/_/TranslateWebserverUi/data/batchexecute" or server.status != 200:
                    self.send_error(404 if server.status == 200 else server.status)
                    return
                rpc = json.loads(parse_qs(body)["f.req"][0])
                text, lang, slow, _ = json.loads(rpc[0][0][1])
                server.requests.append((text, lang, bool(slow)))
                mp3 = tone_mp3(max(0.3, server.seconds_per_char * len(text) * (1.5 if slow else 1.0)))
                inner = json.dumps([base64.b64encode(mp3).decode()])
                line = json.dumps([["wrb.fr", "jQ1olc", inner, None, None, None, "generic"]], separators=(",", ":"))
                payload = f")]}}'\n\n{len(line)}\n{line}\n".encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args: object) -> None:
                pass  # keep test output quiet

        return Handler
