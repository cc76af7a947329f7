"""Who a visitor is, for their own history: an opaque random cookie the server sets on its first answer.

The cookie (``owner``: 32 random bytes, URL-safe) is HttpOnly, SameSite=Lax, Secure when served over HTTPS,
lives a year and is renewed on every answer. The database keeps only its SHA-256 (``g.owner``), so a copy of
the database names no cookie. API clients keep it like any cookie (``curl -b jar -c jar``).
"""

from __future__ import annotations

import hashlib
import re
import secrets

from flask import Flask, Response, g, request

COOKIE = "owner"
LIFETIME_S = 365 * 24 * 3600
TOKEN = re.compile(r"[A-Za-z0-9_-]{43}")  # secrets.token_urlsafe(32)


def owner_of(token: str) -> str:
    """The id the database keeps for an owner cookie's value."""
    return hashlib.sha256(token.encode()).hexdigest()


def identify() -> None:
    """``g.owner`` for this request: the cookie's owner, or a new one (anything that is not a token is replaced)."""
    token = request.cookies.get(COOKIE, "")
    if not TOKEN.fullmatch(token):
        token = secrets.token_urlsafe(32)
    g.owner_token, g.owner = token, owner_of(token)


def renew(response: Response) -> Response:
    """Set (or renew) the cookie; static files, which caches may share, never carry it."""
    if "owner_token" in g and request.endpoint != "static":
        response.set_cookie(COOKIE, g.owner_token, max_age=LIFETIME_S, httponly=True, samesite="Lax",
                            secure=request.is_secure)
    return response


def init_app(app: Flask) -> None:
    app.before_request(identify)
    app.after_request(renew)
