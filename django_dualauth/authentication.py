"""DRF authentication for access tokens from ``Authorization: Bearer`` or the access cookie."""

from __future__ import annotations

from typing import Any

from django.db import DatabaseError
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication

from . import audit
from .delivery import BEARER, COOKIE, OTHER_SCHEME, protect_cookie_request, read_access_credential
from .exceptions import DualAuthError, ServiceUnavailable, TempTokenInvalid, database_outage
from .services import authenticate_access_token
from .services.login import find_setup_challenge
from .types import AccessClaims

__all__ = ["DualAuthentication", "SetupTokenAuthentication", "as_drf_exception"]

REALM = 'Bearer realm="api"'


class _DualAuthFailed(exceptions.AuthenticationFailed):
    pass


class _DualAuthRefused(exceptions.APIException):
    pass


def as_drf_exception(error: DualAuthError) -> exceptions.APIException:
    """A DRF exception whose body is ``{"error", "code"}`` under any exception handler.

    A 503 carries ``wait``, which DRF's default handler sends as ``Retry-After``.
    """
    cls = _DualAuthFailed if error.status == 401 else _DualAuthRefused
    exc = cls(detail=error.as_dict())
    exc.status_code = error.status
    if isinstance(error, ServiceUnavailable):
        exc.wait = error.retry_after  # type: ignore[attr-defined]
    return exc


class DualAuthentication(BaseAuthentication):
    """Authenticates with django-dualauth access tokens.

    * The header wins; a present but invalid header never falls back to the cookie, and a
      header of another scheme (``Basic …``) is left to other authentication classes.
    * A token read from the cookie is CSRF- and Origin-checked on unsafe methods, as DRF's
      ``SessionAuthentication`` does for sessions.
    * Revoked sessions are refused on the next request (401 ``SESSION_REVOKED``); invalid,
      expired or foreign tokens get 401 ``INVALID_ACCESS_TOKEN``, never 403 and never 500.
    * A database that is down or locked is 503 ``SERVICE_UNAVAILABLE`` with ``Retry-After``,
      under the project's own exception handler too (DRF's default one passes a
      ``DatabaseError`` on as an HTML 500).

    ``request.auth`` is the verified :class:`~django_dualauth.types.AccessClaims`.
    """

    def authenticate(self, request: Any) -> tuple[Any, AccessClaims] | None:
        try:
            credential = read_access_credential(request)
            if credential is None or credential is OTHER_SCHEME:
                return None
            if credential.via == COOKIE:
                protect_cookie_request(request)
            return authenticate_access_token(credential.raw)
        except DualAuthError as error:
            if error.status == 401:
                request._dualauth_invalid_token = True
                audit.record("auth.token.invalid", code=error.code, path=repr(request.path[:200]))
            raise as_drf_exception(error) from None
        except DatabaseError as error:
            outage = database_outage(error)
            if outage is None:
                raise
            audit.record_outage(outage.reason, request.path)
            raise as_drf_exception(outage) from error

    def authenticate_header(self, request: Any) -> str:
        if getattr(request, "_dualauth_invalid_token", False):
            return f'{REALM}, error="invalid_token"'
        return REALM


class SetupTokenAuthentication(BaseAuthentication):
    """Accepts a *setup* temp token, for the 2FA setup endpoints only.

    A user whom policy forces to set up 2FA gets no session at login, only a setup temp
    token (``2FA_SETUP_REQUIRED``). Sent as ``Authorization: Bearer`` (what node-auth's
    clients do) or as the body's ``tempToken``, it authenticates these endpoints and no
    other: ``request.auth`` is then the :class:`~django_dualauth.models.LoginChallenge`.
    A JWT-shaped Bearer value is left to :class:`DualAuthentication`.
    """

    def authenticate(self, request: Any) -> tuple[Any, Any] | None:
        data = request.data if hasattr(request.data, "get") else {}
        raw = data.get("tempToken")
        if raw is None:
            try:
                credential = read_access_credential(request)
            except DualAuthError:
                return None  # DualAuthentication reports the bad header
            if credential is None or credential.via != BEARER or credential.raw.count(".") == 2:
                return None
            raw = credential.raw
        challenge = find_setup_challenge(raw)
        if challenge is None:
            raise as_drf_exception(TempTokenInvalid())
        return challenge.user, challenge

    def authenticate_header(self, request: Any) -> str:
        return REALM
