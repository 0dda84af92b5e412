"""Plant Django's CSRF cookie on the auth answers of a browser that has none.

node-auth's browser client reads its token from the CSRF cookie, which node-auth's router sets
on any answer that lacks one; so a browser whose first request is ``POST login`` gets a 403
that carries the cookie, and its retry passes. Here the same: every answer of the package's
views to a cookie-delivery request without the cookie, the CSRF 403 included, plants it through
Django's own machinery (``get_token``; ``CsrfViewMiddleware`` writes the cookie with the names
and flags of Django's ``CSRF_COOKIE_*`` settings). The check itself is unchanged: the 403 still
refuses that request, and only a request that echoes the token passes.

Bearer requests are skipped: they carry no cookies, and a native app has no use for one.
"""

from __future__ import annotations

from django.http import HttpRequest
from django.middleware.csrf import get_token

from ..conf import snapshot
from .selection import asks_for_bearer

__all__ = ["plant_csrf_cookie"]


def plant_csrf_cookie(http: HttpRequest) -> None:
    """Ask Django to set the CSRF cookie on this answer when a cookie-delivery request lacks it.

    Cheapest test first: a browser that has the cookie pays one dictionary look-up.
    """
    name = snapshot().planted_csrf_cookie
    if name is None or name in http.COOKIES:
        return
    if http.META.get("CSRF_COOKIE_NEEDS_UPDATE") or asks_for_bearer(http):
        return  # the view set (or rotated) it already; or a native app
    get_token(http)
