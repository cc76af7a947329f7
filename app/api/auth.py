"""Admin endpoints: ``Authorization: Bearer <ADMIN_TOKEN>``, compared in constant time.

Views that take the token are marked ``admin = True``: app/limits.py limits their failed attempts per client.
"""

from __future__ import annotations

import functools
import hmac
from collections.abc import Callable
from typing import Any

from flask import current_app, g, request

from app.errors import ApiError


def check_admin() -> None:
    """Pass only with the admin token: 403 when none is configured, 401 without one, 403 wrong."""
    expected = current_app.config["ADMIN_TOKEN"]
    if not expected:
        raise ApiError("admin endpoints are turned off: set ADMIN_TOKEN in the environment or the instance "
                       "config to use them", status=403, code="admin_disabled")
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not given.strip():
        g.admin_refused = True  # counted by the failed-authentication rate limit
        raise ApiError("this endpoint needs the header 'Authorization: Bearer <admin token>'", status=401,
                       code="unauthorized", headers={"WWW-Authenticate": 'Bearer realm="image-to-audio"'})
    if not hmac.compare_digest(given.strip().encode(), expected.encode()):
        g.admin_refused = True
        raise ApiError("the admin token is not valid", status=403, code="forbidden")


def is_admin() -> bool:
    """False without a bearer token (another scheme, say a proxy's Basic, is not ours); True with the admin
    token; a wrong one is refused as ``check_admin`` says."""
    if not request.headers.get("Authorization", "").lower().startswith("bearer "):
        return False
    check_admin()
    return True


def takes_admin(view: Callable[..., Any]) -> Callable[..., Any]:
    """Mark a view that checks the admin token itself (``is_admin``)."""
    view.admin = True  # type: ignore[attr-defined]
    return view


def require_admin(view: Callable[..., Any]) -> Callable[..., Any]:
    """Let the request through only with the admin token (``check_admin``)."""

    @functools.wraps(view)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        check_admin()
        return view(*args, **kwargs)

    return takes_admin(guarded)
