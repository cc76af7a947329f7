"""What every answer carries and every request must pass: trusted hosts and proxies, same-site state changes,
security headers.

- ``TRUSTED_HOSTS``: Flask refuses other ``Host`` headers (400).
- ``TRUSTED_PROXIES``: that many proxies' ``X-Forwarded-For``, ``-Proto`` and ``-Host`` are believed.
- A POST, PUT, PATCH or DELETE sent by another site's page (its ``Origin`` names another host, or the
  browser's ``Sec-Fetch-Site`` says ``cross-site`` or ``same-site``) gets 403; clients that send neither header
  (curl, scripts) are not affected.
- Every answer: a Content-Security-Policy without inline script, ``nosniff``, no framing, no referrer.
"""

from __future__ import annotations

import urllib.parse

from flask import Flask, Response, request
from werkzeug.middleware.proxy_fix import ProxyFix

from app.errors import ApiError

STATE_CHANGING = {"POST", "PUT", "PATCH", "DELETE"}
CONTENT_SECURITY_POLICY = "; ".join([
    "default-src 'self'", "script-src 'self'", "img-src 'self' blob: data:", "media-src 'self' blob:",
    "object-src 'none'", "base-uri 'none'", "form-action 'self'", "frame-ancestors 'none'",
])
HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",  # frame-ancestors for browsers that predate it
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
}


class CrossSiteRequest(ApiError):
    status, code = 403, "cross_site_request"


def check_same_site() -> None:
    """Refuse a state-changing request that another site's page made (403)."""
    if request.method not in STATE_CHANGING:
        return
    origin, fetch_site = request.headers.get("Origin"), request.headers.get("Sec-Fetch-Site", "").lower()
    if (origin is not None and _host_of(origin) != request.host.lower()) or fetch_site in ("cross-site", "same-site"):
        raise CrossSiteRequest("this request came from another site's page: the service takes changes only from "
                               "its own page and from clients that are not browsers")


def _host_of(origin: str) -> str | None:
    """``host[:port]`` of an ``Origin`` header, lower case; None for ``null`` or anything unreadable."""
    try:
        return urllib.parse.urlsplit(origin).netloc.lower() or None
    except ValueError:
        return None


def add_headers(response: Response) -> Response:
    for name, value in HEADERS.items():
        response.headers.setdefault(name, value)
    return response


def init_app(app: Flask) -> None:
    """Trust the configured hosts and proxies, check the origin of changes, and add the headers to every answer."""
    if app.config["TRUSTED_PROXIES"]:
        hops = app.config["TRUSTED_PROXIES"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)  # type: ignore[method-assign]
    app.before_request(check_same_site)
    app.after_request(add_headers)
