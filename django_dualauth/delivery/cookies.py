"""Cookie names, reading with duplicate detection, setting and clearing."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.utils import timezone

from ..conf import dualauth_settings

__all__ = ["access_cookie_name", "refresh_cookie_name", "read_cookie", "DuplicateCookie",
           "set_token_cookie", "clear_token_cookies", "has_token_cookie"]


class DuplicateCookie(Exception):
    """The same cookie name appeared more than once: a sign of cookie tossing."""


def _prefixed(base: str) -> str:
    if dualauth_settings.COOKIE_SECURE and dualauth_settings.COOKIE_HOST_PREFIX:
        # __Host- demands Path=/ and no Domain; with a Domain only __Secure- is possible.
        return ("__Secure-" if dualauth_settings.COOKIE_DOMAIN else "__Host-") + base
    return base


def access_cookie_name() -> str:
    return _prefixed(dualauth_settings.ACCESS_COOKIE_NAME)


def refresh_cookie_name() -> str:
    return _prefixed(dualauth_settings.REFRESH_COOKIE_NAME)


def read_cookie(request: Any, name: str) -> str | None:
    """The value of the cookie named exactly ``name``, or None.

    Look-alike names (other case, other prefix) are ignored. Django keeps only the last of
    duplicate names, so the raw header is scanned: two cookies of one name raise
    :class:`DuplicateCookie` rather than letting a planted copy win.
    """
    header = request.META.get("HTTP_COOKIE", "")
    if name not in header:
        return None
    values = []
    for chunk in header.split(";"):
        key, sep, value = chunk.partition("=")
        if sep and key.strip() == name:
            values.append(value.strip().strip('"'))
    if len(values) > 1:
        raise DuplicateCookie(name)
    return values[0] if values else None


def has_token_cookie(request: Any) -> bool:
    header = request.META.get("HTTP_COOKIE", "")
    return access_cookie_name() in header or refresh_cookie_name() in header


def _max_age(expires_at: datetime) -> int:
    return max(0, int((expires_at - timezone.now()).total_seconds()))


def set_token_cookie(response: Any, name: str, value: str, expires_at: datetime) -> None:
    response.set_cookie(
        name,
        value,
        max_age=_max_age(expires_at),
        path="/",
        domain=dualauth_settings.COOKIE_DOMAIN,
        secure=dualauth_settings.COOKIE_SECURE,
        httponly=True,
        samesite=dualauth_settings.COOKIE_SAMESITE,
    )


def clear_token_cookies(response: Any) -> None:
    # Deletion must repeat Secure/Path/SameSite, or browsers reject it for __Host- names.
    for name in (access_cookie_name(), refresh_cookie_name()):
        response.set_cookie(
            name,
            "",
            max_age=0,
            expires="Thu, 01 Jan 1970 00:00:00 GMT",
            path="/",
            domain=dualauth_settings.COOKIE_DOMAIN,
            secure=dualauth_settings.COOKIE_SECURE,
            httponly=True,
            samesite=dualauth_settings.COOKIE_SAMESITE,
        )
