"""Cookie names, reading with duplicate detection, setting and clearing."""

from __future__ import annotations

from datetime import datetime

from django.http import HttpRequest, HttpResponseBase
from django.utils import timezone

from ..conf import snapshot

__all__ = ["access_cookie_name", "refresh_cookie_name", "read_cookie", "DuplicateCookie",
           "set_token_cookie", "clear_token_cookies", "has_token_cookie", "flow_cookie_name", "set_flow_cookie",
           "clear_flow_cookie", "read_flow_cookie"]


class DuplicateCookie(Exception):
    """The same cookie name appeared more than once: a sign of cookie tossing."""


def access_cookie_name() -> str:
    return snapshot().cookie_policy.access_name


def refresh_cookie_name() -> str:
    return snapshot().cookie_policy.refresh_name


def read_cookie(request: HttpRequest, name: str) -> str | None:
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


def has_token_cookie(request: HttpRequest) -> bool:
    header = request.META.get("HTTP_COOKIE", "")
    policy = snapshot().cookie_policy
    return policy.access_name in header or policy.refresh_name in header


def _max_age(expires_at: datetime) -> int:
    return max(0, int((expires_at - timezone.now()).total_seconds()))


def set_token_cookie(response: HttpResponseBase, name: str, value: str, expires_at: datetime) -> None:
    policy = snapshot().cookie_policy
    response.set_cookie(
        name,
        value,
        max_age=_max_age(expires_at),
        path="/",
        domain=policy.domain,
        secure=policy.secure,
        httponly=True,
        samesite=policy.samesite,
    )


def clear_token_cookies(response: HttpResponseBase) -> None:
    # Deletion must repeat Secure/Path/SameSite, or browsers reject it for __Host- names.
    policy = snapshot().cookie_policy
    for name in (policy.access_name, policy.refresh_name):
        response.set_cookie(
            name,
            "",
            max_age=0,
            expires="Thu, 01 Jan 1970 00:00:00 GMT",
            path="/",
            domain=policy.domain,
            secure=policy.secure,
            httponly=True,
            samesite=policy.samesite,
        )


def flow_cookie_name(key: str) -> str:
    """The redirect flow's browser-binding cookie for one sign-in (``key``: a digest prefix of
    its state, so two tabs signing in at once do not overwrite each other's). ``__Host-`` when
    the token cookies are Secure and host-only, so a sibling subdomain cannot toss one in."""
    policy = snapshot().cookie_policy
    prefix = "__Host-" if policy.secure and not policy.domain else ""
    return f"{prefix}dualauth_oauth_{key}"


def set_flow_cookie(response: HttpResponseBase, key: str, value: str, max_age: int) -> None:
    """Plant the browser-binding cookie: HttpOnly, ``SameSite=Lax`` whatever the token cookies'
    policy (the provider's redirect back is a cross-site top-level navigation, on which a
    ``Strict`` cookie is not sent), host-only."""
    response.set_cookie(flow_cookie_name(key), value, max_age=max_age, path="/",
                        secure=snapshot().cookie_policy.secure, httponly=True, samesite="Lax")


def clear_flow_cookie(response: HttpResponseBase, key: str) -> None:
    response.set_cookie(flow_cookie_name(key), "", max_age=0, expires="Thu, 01 Jan 1970 00:00:00 GMT", path="/",
                        secure=snapshot().cookie_policy.secure, httponly=True, samesite="Lax")


def read_flow_cookie(request: HttpRequest, key: str) -> str | None:
    """The binding cookie's value, or None (also for a duplicated one: cookie tossing)."""
    try:
        return read_cookie(request, flow_cookie_name(key))
    except DuplicateCookie:
        return None
