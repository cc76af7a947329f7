"""Admin endpoints: ``Authorization: Bearer <ADMIN_TOKEN>``, compared in constant time."""

from __future__ import annotations

import functools
import hmac
from collections.abc import Callable
from typing import Any

from flask import current_app, request

from app.errors import ApiError


def require_admin(view: Callable[..., Any]) -> Callable[..., Any]:
    """Let the request through only with the admin token: 403 when none is configured, 401 without one, 403 wrong."""

    @functools.wraps(view)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        expected = current_app.config["ADMIN_TOKEN"]
        if not expected:
            raise ApiError("admin endpoints are turned off: set ADMIN_TOKEN in the environment or the instance "
                           "config to use them", status=403, code="admin_disabled")  # fmt: skip
        scheme, _, given = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not given.strip():
            raise ApiError("this endpoint needs the header 'Authorization: Bearer <admin token>'", status=401,
                           code="unauthorized", headers={"WWW-Authenticate": 'Bearer realm="image-to-audio"'})
        if not hmac.compare_digest(given.strip().encode(), expected.encode()):
            raise ApiError("the admin token is not valid", status=403, code="forbidden")
        return view(*args, **kwargs)

    return guarded
