"""Redis URLs of the service's settings (``RATE_LIMIT_STORAGE_URL``, ``TRAIN_BROKER_URL``): checked at start,
and clients that give up after ``TIMEOUT_S`` rather than hang when Redis stops answering."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import redis

TIMEOUT_S = 2.0  # seconds to connect, and to wait for an answer, before a call fails
SCHEMES = ("redis", "rediss")
EXAMPLE = "redis://HOST:6379/0 (rediss:// for TLS, redis://:PASSWORD@HOST:6379/0 with a password)"


def check_url(name: str, url: object) -> str:
    """``url`` if it is a Redis URL a client can be made from; else a ValueError saying what to set."""
    if not isinstance(url, str) or urlsplit(url).scheme not in SCHEMES:
        raise ValueError(f"{name} must be a Redis URL such as {EXAMPLE}")
    try:
        parts = urlsplit(url)
        redis.connection.parse_url(url)
        parts.port  # noqa: B018  (raises on a port that is not a number)
    except ValueError:
        raise ValueError(f"{name} is not a valid Redis URL: it must look like {EXAMPLE}") from None
    if not parts.hostname or not re.fullmatch(r"/?(\d+)?", parts.path or ""):
        raise ValueError(f"{name} must name a host and, if any, a database number: {EXAMPLE}")
    return url


def connect(url: str) -> redis.Redis:
    """A client of ``url`` (connections are made on first use) whose calls fail after ``TIMEOUT_S``."""
    return redis.Redis.from_url(url, socket_timeout=TIMEOUT_S, socket_connect_timeout=TIMEOUT_S,
                                health_check_interval=30)
