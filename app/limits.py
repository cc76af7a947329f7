"""Rate limits per client (Flask-Limiter): ``RATE_LIMIT`` conversions, and ``RATE_LIMIT`` failed admin
authentications, per client address and per owner cookie. Past it: 429 with ``Retry-After`` and the usual JSON
error. ``RATE_LIMIT = "off"`` turns both off.

The counts live where ``RATE_LIMIT_STORAGE_URL`` says: each worker's memory, or a Redis that every worker and
replica shares. While that Redis is unreachable, each worker counts in its own memory (a warning is logged, no
request fails for it) and goes back to Redis once it answers again.

The client's address is the connection's, or the one ``TRUSTED_PROXIES`` proxies forwarded (app/security.py).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

from flask import Flask, Response, current_app, g, request
from flask_limiter import Limiter, RateLimitExceeded
from limits import parse_many

from app.errors import error_response
from app.services import redis_client

OFF = "off"
MEMORY = "memory://"
CONVERT_ENDPOINT = "api.convert.convert"


def client_address() -> str:
    return request.remote_addr or "unknown"


def client_owner() -> str:
    """The owner cookie's id (app/owners.py sets it before any limit is checked)."""
    return f"owner:{g.get('owner') or client_address()}"  # never the same key as the address's own limit


def no_admin_token() -> bool:
    """Requests that offer no bearer token (which cannot succeed as admin, nor guess) are left to other limits:
    a visitor's own history is never held up by someone else's guessing."""
    return not request.headers.get("Authorization", "").lower().startswith("bearer ")


def admin_refused(response: Response) -> bool:
    """Whether this answer refused an admin token (only those count against the admin limit)."""
    return bool(g.get("admin_refused"))


def too_many_requests(exc: RateLimitExceeded) -> tuple[Response, int]:
    """429 in the usual JSON shape, with Retry-After: the seconds until the client may try again."""
    limit = current_app.extensions["limiter"].current_limit
    wait = max(1, math.ceil(limit.reset_at - time.time())) if limit else 60
    response, status = error_response(429, "too_many_requests", f"too many requests from this client (at most "
                                      f"{exc.description}): try again in {wait} s")
    response.headers["Retry-After"] = str(wait)
    return response, status


def check_rate(rate: str) -> None:
    """Fail at start on a limit Flask-Limiter cannot read."""
    if rate != OFF:
        try:
            parse_many(rate)
        except ValueError:
            raise ValueError(f"RATE_LIMIT must be like '60/minute' or '5 per second', or 'off'; not {rate!r}") from None


def check_storage(url: object) -> None:
    """Fail at start on a storage URL that is neither memory:// nor a Redis URL."""
    if url != MEMORY:
        try:
            redis_client.check_url("RATE_LIMIT_STORAGE_URL", url)
        except ValueError as error:
            raise ValueError(f"{error}, or {MEMORY} to count in each worker's memory") from None


def init_app(app: Flask) -> None:
    """Limit conversions, and failed admin authentication on every admin-capable view, per address and owner."""
    rate, storage = app.config["RATE_LIMIT"], app.config["RATE_LIMIT_STORAGE_URL"]
    timeouts = {} if storage == MEMORY else {"socket_timeout": redis_client.TIMEOUT_S,
                                             "socket_connect_timeout": redis_client.TIMEOUT_S}
    # in_memory_fallback_enabled: the same limits, counted in memory, while the storage is unreachable;
    # swallow_errors: a storage error met anywhere else is logged rather than failing the request
    limiter = Limiter(client_address, app=app, storage_uri=storage, storage_options=timeouts,
                      strategy="moving-window", enabled=rate != OFF, in_memory_fallback_enabled=True,
                      swallow_errors=True, key_prefix="image-to-audio")
    app.extensions["limiter"] = limiter
    app.register_error_handler(RateLimitExceeded, too_many_requests)

    def limited(view: Callable, **options) -> Callable:
        for key in (client_address, client_owner):
            view = limiter.shared_limit(rate, key_func=key, **options)(view)
        return view

    for endpoint, view in list(app.view_functions.items()):
        if endpoint == CONVERT_ENDPOINT:
            app.view_functions[endpoint] = limited(view, scope="convert")
        elif getattr(view, "admin", False):  # one count across every admin view
            app.view_functions[endpoint] = limited(view, scope="admin", deduct_when=admin_refused,
                                                  exempt_when=no_admin_token)
