"""CSRF and Origin protection for requests whose credential is (or will be) a cookie.

Layers, each with its own reason:
1. JSON only (415): a cross-site HTML form cannot send ``application/json`` without a
   CORS preflight.
2. ``Sec-Fetch-Site: cross-site`` is refused (Fetch Metadata).
3. ``Origin`` (or, lacking it, ``Referer``) must be this origin or one of
   ``CSRF_TRUSTED_ORIGINS``; with neither header the request is refused.
4. Django's own ``CsrfViewMiddleware`` check of the CSRF cookie against the header named
   by ``CSRF_HEADER_NAME`` (set it to ``HTTP_X_CSRF_TOKEN`` for node-auth's browser client).
"""

from __future__ import annotations

import logging
from urllib.parse import urlsplit

from django.http import HttpRequest
from django.utils.http import is_same_domain

from .. import audit
from ..conf import dualauth_settings, snapshot
from ..exceptions import CSRFFailed, UnsupportedMediaType

__all__ = ["protect_cookie_request", "SAFE_METHODS", "csrf_header_name", "http_request", "request_origin"]

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})


def csrf_header_name() -> str:
    """The header a cookie client sends the CSRF token in, as on the wire (``X-Csrf-Token``)."""
    return dualauth_settings.CSRF_HEADER_NAME.removeprefix("HTTP_").replace("_", "-").title()


def http_request(request: HttpRequest) -> HttpRequest:
    """Django's own request under a DRF ``Request`` (CSRF and cookies need the original)."""
    http: HttpRequest = getattr(request, "_request", request)
    return http


def _require_json(http: HttpRequest) -> None:
    # Only a body can smuggle data past the CORS preflight; an empty POST (whatever
    # Content-Type the server fills in, wsgiref says text/plain) still meets the CSRF check.
    try:
        length = int(http.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 1
    chunked = "chunked" in http.META.get("HTTP_TRANSFER_ENCODING", "").lower()
    if not length and not chunked:
        return
    content_type = (http.META.get("CONTENT_TYPE") or "").split(";")[0].strip().lower()
    if content_type != "application/json":
        raise UnsupportedMediaType()


def request_origin(http: HttpRequest) -> str | None:
    """The origin the request says it comes from: ``Origin``, or lacking it ``Referer``'s."""
    origin = http.META.get("HTTP_ORIGIN")
    if origin is not None:
        return str(origin)
    referer = http.META.get("HTTP_REFERER")
    if referer:
        parts = urlsplit(referer)
        if parts.scheme and parts.netloc:
            return f"{parts.scheme}://{parts.netloc}"
    return None


def _origin_trusted(origin: str, http: HttpRequest) -> bool:
    if origin == "null":
        return False
    own = f"{'https' if http.is_secure() else 'http'}://{http.get_host()}"
    if origin == own:
        return True
    parts = urlsplit(origin)
    for trusted in dualauth_settings.CSRF_TRUSTED_ORIGINS:
        if origin == trusted:
            return True
        t = urlsplit(trusted)
        if "*" in t.netloc and t.scheme == parts.scheme and is_same_domain(parts.netloc, t.netloc.replace("*", "", 1)):
            return True
    return False


def protect_cookie_request(request: HttpRequest) -> None:
    """Refuse an unsafe cookie-mode request that could be forged cross-site.

    Safe methods pass. Raises :class:`UnsupportedMediaType` (415) or :class:`CSRFFailed` (403).
    """
    http = http_request(request)
    if http.method in SAFE_METHODS:
        return
    try:
        _refuse_forgery(http)
    except CSRFFailed as exc:
        # repr(): both values come from the client and must not forge log lines.
        audit.record("auth.csrf.rejected", level=logging.WARNING, path=repr(http.path[:200]),
                     origin=repr(str(http.META.get("HTTP_ORIGIN", ""))[:200]), reason=repr(exc.message))
        raise


def _refuse_forgery(http: HttpRequest) -> None:
    _require_json(http)
    if http.META.get("HTTP_SEC_FETCH_SITE") == "cross-site":
        raise CSRFFailed("Cross-site request refused")
    origin = request_origin(http)
    if origin is None:
        if dualauth_settings.REQUIRE_ORIGIN:
            raise CSRFFailed("Origin header required")
    elif not _origin_trusted(origin, http):
        raise CSRFFailed("Untrusted origin")
    if snapshot().csrf_check.refusal(http) is not None:
        raise CSRFFailed()
