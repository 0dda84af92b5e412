"""A delivery as a strategy object: :class:`TokenDelivery` and its two implementations.

A delivery guards the requests whose credential is (or will be) its own, tells which refresh
token the client already holds, and writes token and ended-session responses. Adding a
delivery is one subclass and one entry in ``_DELIVERIES``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, TypeVar

from django.http import HttpRequest, HttpResponseBase
from django.middleware.csrf import get_token, rotate_token
from django.utils import timezone
from rest_framework.response import Response

from ..conf import snapshot
from ..types import Delivery, IssuedTokens
from .cookies import access_cookie_name, clear_token_cookies, refresh_cookie_name, set_token_cookie
from .credentials import existing_refresh_cookie
from .csrf import http_request, protect_cookie_request

__all__ = ["TokenDelivery", "CookieDelivery", "BearerDelivery", "get_delivery", "no_store"]

R = TypeVar("R", bound=HttpResponseBase)


def no_store(response: R) -> R:
    """Token-bearing and auth responses must never be cached (RFC 6749 §5.1)."""
    response["Cache-Control"] = "no-store"
    response["Pragma"] = "no-cache"
    return response


def _expires_in(tokens: IssuedTokens) -> int:
    return max(0, int((tokens.access_expires_at - timezone.now()).total_seconds()))


class TokenDelivery(ABC):
    name: Delivery

    @abstractmethod
    def guard(self, request: HttpRequest) -> None:
        """Refuse a request that could be forged cross-site, when its credential is (or the
        session it starts will be) this delivery's. Raises a :class:`DualAuthError`."""

    @abstractmethod
    def held_refresh_token(self, request: HttpRequest) -> str | None:
        """The refresh token the client already holds through this delivery at login, if the
        server can see it (a browser's cookie), else None."""

    @abstractmethod
    def token_response(self, request: HttpRequest, tokens: IssuedTokens, *, status: int = 200,
                       new_login: bool = False, extra: dict[str, Any] | None = None) -> Response:
        """A response that hands ``tokens`` to the client through this delivery.

        ``extra`` is merged into the JSON body (it must not hold session secrets).
        """

    def logout_response(self, request: HttpRequest, data: dict[str, Any], *, status: int = 200) -> Response:
        """The answer when the caller's session ended (logout, account deleted)."""
        return no_store(Response(data, status=status))


class BearerDelivery(TokenDelivery):
    """Tokens in the JSON body; no cookie is ever set."""

    name = Delivery.BEARER

    def guard(self, request: HttpRequest) -> None:
        # A browser never attaches a bearer token by itself: nothing to forge.
        return None

    def held_refresh_token(self, request: HttpRequest) -> str | None:
        return None

    def token_response(self, request: HttpRequest, tokens: IssuedTokens, *, status: int = 200,
                       new_login: bool = False, extra: dict[str, Any] | None = None) -> Response:
        return no_store(Response({
            **(extra or {}),
            "success": True,
            "accessToken": tokens.access_token,
            "refreshToken": tokens.refresh_token,
            "expiresIn": _expires_in(tokens),
        }, status=status))


class CookieDelivery(TokenDelivery):
    """Tokens in HttpOnly cookies; the body never carries the refresh token.

    With ``DUALAUTH_COOKIE_ACCESS_TOKEN_IN_BODY`` the access token travels in the body (for
    clients that keep it in memory) and only the refresh token is a cookie.
    """

    name = Delivery.COOKIE

    def guard(self, request: HttpRequest) -> None:
        protect_cookie_request(request)

    def held_refresh_token(self, request: HttpRequest) -> str | None:
        return existing_refresh_cookie(request)

    def token_response(self, request: HttpRequest, tokens: IssuedTokens, *, status: int = 200,
                       new_login: bool = False, extra: dict[str, Any] | None = None) -> Response:
        http = http_request(request)
        # A new login gets a new CSRF secret (as django.contrib.auth.login does); a refresh
        # keeps the current one, and renews its cookie only if it could expire first:
        # re-sending costs a masked token and a cookie (``get_token``), which is most of what
        # the cookie delivery adds to a refresh.
        snap = snapshot()
        if new_login:
            rotate_token(http)
        elif snap.csrf_cookie_may_expire_first:
            get_token(http)
        data: dict[str, Any] = {**(extra or {}), "success": True, "expiresIn": _expires_in(tokens)}
        response = no_store(Response(data, status=status))
        if snap.access_token_in_body:
            data["accessToken"] = tokens.access_token
        else:
            set_token_cookie(response, access_cookie_name(), tokens.access_token,
                             tokens.access_expires_at)
        set_token_cookie(response, refresh_cookie_name(), tokens.refresh_token,
                         tokens.refresh_expires_at)
        return response

    def logout_response(self, request: HttpRequest, data: dict[str, Any], *, status: int = 200) -> Response:
        response = super().logout_response(request, data, status=status)
        clear_token_cookies(response)
        return response


_DELIVERIES: dict[str, TokenDelivery] = {d.name: d for d in (BearerDelivery(), CookieDelivery())}


def get_delivery(name: str) -> TokenDelivery:
    """The delivery of that name (a :class:`~django_dualauth.types.Delivery` or its value)."""
    return _DELIVERIES[name]
