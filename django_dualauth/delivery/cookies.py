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


def flow_cookie_name(key: str, *, cross_site_post: bool = False) -> str:
    """The redirect flow's browser-binding cookie for one sign-in (``key``: a digest prefix of
    its state, so two tabs signing in at once do not overwrite each other's). ``__Host-`` when
    the cookie is Secure (always for ``cross_site_post``) and host-only, so a sibling subdomain
    cannot toss one in."""
    policy = snapshot().cookie_policy
    prefix = "__Host-" if (policy.secure or cross_site_post) and not policy.domain else ""
    return f"{prefix}dualauth_oauth_{key}"


def set_flow_cookie(response: HttpResponseBase, key: str, value: str, max_age: int, *,
                    cross_site_post: bool = False) -> None:
    """Plant the browser-binding cookie: HttpOnly, ``SameSite=Lax`` whatever the token cookies'
    policy (the provider's redirect back is a cross-site top-level navigation, on which a
    ``Strict`` cookie is not sent), host-only.

    ``cross_site_post`` (Apple's ``form_post``: the provider's page POSTs to the callback, and a
    ``Lax`` cookie is not sent on a cross-site POST): ``SameSite=None; Secure`` instead, which
    browsers accept only with ``Secure`` (Apple allows only https callbacks anyway). Sending
    this cookie cross-site gives nothing away: it binds one state, which an attacker forging a
    POST does not have for the victim's browser (the cookie's name is derived from the state)."""
    policy = snapshot().cookie_policy
    response.set_cookie(flow_cookie_name(key, cross_site_post=cross_site_post), value, max_age=max_age, path="/",
                        secure=policy.secure or cross_site_post, httponly=True,
                        samesite="None" if cross_site_post else "Lax")


def clear_flow_cookie(response: HttpResponseBase, key: str, *, cross_site_post: bool = False) -> None:
    response.set_cookie(flow_cookie_name(key, cross_site_post=cross_site_post), "", max_age=0,
                        expires="Thu, 01 Jan 1970 00:00:00 GMT", path="/",
                        secure=snapshot().cookie_policy.secure or cross_site_post, httponly=True,
                        samesite="None" if cross_site_post else "Lax")


def read_flow_cookie(request: HttpRequest, key: str, *, cross_site_post: bool = False) -> str | None:
    """The binding cookie's value, or None (also for a duplicated one: cookie tossing)."""
    try:
        return read_cookie(request, flow_cookie_name(key, cross_site_post=cross_site_post))
    except DuplicateCookie:
        return None
