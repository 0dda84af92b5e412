"""Reading credentials from a request: the Authorization header, cookies, the JSON body."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.http import HttpRequest

from ..conf import dualauth_settings
from ..exceptions import (
    AccessTokenInvalid,
    CredentialConflict,
    DeliveryNotAllowed,
    RefreshTokenInvalid,
    RefreshTokenMissing,
    ValidationFailed,
)
from ..types import Delivery
from .cookies import DuplicateCookie, access_cookie_name, read_cookie, refresh_cookie_name

BEARER, COOKIE = Delivery.BEARER, Delivery.COOKIE  # module globals: read on every request

__all__ = ["Credential", "OTHER_SCHEME", "existing_refresh_cookie", "read_access_credential",
           "logout_credential", "read_header_credential", "read_logout_credentials", "read_refresh_credential"]


@dataclass(frozen=True)
class Credential:
    raw: str
    via: Delivery  # the channel it came in

    def __repr__(self) -> str:  # never print the secret
        return "Credential(other scheme)" if self is OTHER_SCHEME else f"Credential(via={str(self.via)!r})"


#: An Authorization header with a scheme other than Bearer: not ours, and no cookie fallback.
#: Told apart by identity (``is OTHER_SCHEME``); the header it came in is the bearer channel.
OTHER_SCHEME = Credential(raw="", via=BEARER)


def read_header_credential(request: HttpRequest) -> Credential | None:
    """The ``Authorization`` header's credential: a Bearer token, :data:`OTHER_SCHEME` for
    another scheme, None when there is no header. A garbage Bearer value raises
    :class:`AccessTokenInvalid`."""
    header = request.META.get("HTTP_AUTHORIZATION")
    if header is None:
        return None
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer":
        return OTHER_SCHEME
    value = value.strip()
    if not value or " " in value:
        raise AccessTokenInvalid()
    return Credential(value, BEARER)


def read_access_credential(request: HttpRequest) -> Credential | None:
    """The access token from ``Authorization: Bearer`` or, failing that, the access cookie.

    A present but unusable header never falls back to the cookie: a garbage Bearer value
    raises :class:`AccessTokenInvalid`, another scheme returns :data:`OTHER_SCHEME`.
    """
    header = read_header_credential(request)
    if header is not None:
        return header
    if dualauth_settings.DELIVERY_POLICY == BEARER:
        return None
    try:
        raw = read_cookie(request, access_cookie_name())
    except DuplicateCookie as exc:
        raise AccessTokenInvalid() from exc
    return Credential(raw, COOKIE) if raw else None


def read_refresh_credential(request: HttpRequest, data: Any) -> Credential:
    """The refresh token from the JSON body (``refreshToken``) or the refresh cookie.

    Raises :class:`RefreshTokenMissing` when there is none, :class:`CredentialConflict` when
    both are present, :class:`DeliveryNotAllowed` when the policy forbids the channel used,
    and :class:`RefreshTokenInvalid` for duplicated cookies.
    """
    body = data.get("refreshToken") if hasattr(data, "get") else None
    policy = dualauth_settings.DELIVERY_POLICY
    cookie = None
    if policy != BEARER:
        try:
            cookie = read_cookie(request, refresh_cookie_name())
        except DuplicateCookie as exc:
            raise RefreshTokenInvalid() from exc
    if body is not None:
        if policy == COOKIE:
            raise DeliveryNotAllowed("Refresh tokens are accepted from the cookie only")
        if not isinstance(body, str):
            raise ValidationFailed(fields={"refreshToken": ["Must be a string."]})
        if cookie:
            raise CredentialConflict()
        return Credential(body, BEARER)
    if cookie:
        return Credential(cookie, COOKIE)
    raise RefreshTokenMissing()


def existing_refresh_cookie(request: HttpRequest) -> str | None:
    """The refresh cookie a browser already holds at login, or None (absent or duplicated)."""
    if dualauth_settings.DELIVERY_POLICY == BEARER:
        return None
    try:
        return read_cookie(request, refresh_cookie_name())
    except DuplicateCookie:
        return None


def read_logout_credentials(request: HttpRequest, data: Any) -> tuple[Credential | None, Credential | None]:
    """``(access, refresh)`` for logout, each from whichever channel the caller used.

    Malformed values are treated as absent: logout never fails on a bad credential.
    """
    try:
        access = read_access_credential(request)
    except AccessTokenInvalid:
        access = None
    if access is OTHER_SCHEME:
        access = None
    try:
        refresh: Credential | None = read_refresh_credential(request, data)
    except (RefreshTokenMissing, RefreshTokenInvalid, CredentialConflict, DeliveryNotAllowed,
            ValidationFailed):
        refresh = None
    return access, refresh


def logout_credential(request: HttpRequest, data: Any) -> tuple[str, Credential] | None:
    """The one credential that names the session to end at logout, as ``("access" or
    "refresh", credential)``, or None.

    A bearer credential wins over cookies (a native app never holds ours), an access token in
    the header over a refresh token in the body; among cookies the refresh one, which proves
    the session even once the access token has expired.
    """
    access, refresh = read_logout_credentials(request, data)
    if access is not None and access.via == BEARER:
        return "access", access
    if refresh is not None:
        return "refresh", refresh
    if access is not None:
        return "access", access
    return None
