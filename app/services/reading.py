"""The text reader for the service: one per worker process, loaded on first use (or warmed up at start), shared
by the worker's threads. A conversion with ``text=off`` never touches it."""

from __future__ import annotations

import logging
import threading
from typing import Any

from flask import Flask
from PIL import Image

log = logging.getLogger(__name__)
CHOICES = ("on", "off")  # the form field ``text``


class Reader:
    """Holds this process's ``pipeline.reading.TextReader``, built once."""

    def __init__(self) -> None:
        self._reader = None
        self._lock = threading.Lock()

    def get(self):
        """The reader, loaded (and warmed up) at the first call."""
        with self._lock:
            if self._reader is None:
                from pipeline.reading import TextReader

                reader = TextReader()
                reader.warm_up()
                self._reader = reader
                log.info("text reader loaded: %s", reader.describe()["version"])
            return self._reader

    def read(self, image: Image.Image) -> str:
        """The words in ``image``, in reading order ("" if none)."""
        return self.get().read(image).text

    def describe(self) -> dict[str, Any]:
        """What ``GET /api/models`` lists of the reader (loading it if need be)."""
        return {**self.get().describe(), "loaded": True}


def init_app(app: Flask) -> None:
    """Attach the process's reader; ``start`` warms it up when ``TEXT_WARM_UP`` is set."""
    app.extensions["reader"] = Reader()
