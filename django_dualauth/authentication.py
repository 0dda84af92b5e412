"""DRF authentication for access tokens from ``Authorization: Bearer`` or the access cookie."""

from __future__ import annotations

from typing import Any

from django.db import DatabaseError
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication
from rest_framework.request import Request

from . import audit
from .api.errors import INVALID_TOKEN_CHALLENGE, REALM, as_drf_exception
from .delivery import OTHER_SCHEME, Credential, for_credential, read_access_credential, read_header_credential
from .exceptions import AccessTokenInvalid, DualAuthError, TempTokenInvalid, database_outage
from .models import LoginChallenge
from .services import authenticate_access_token
from .services.login import find_setup_challenge
from .types import AccessClaims

__all__ = ["DualAuthentication", "SetupTokenAuthentication", "as_drf_exception"]


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

    Override points, called in this order (as simplejwt's ``JWTAuthentication`` offers):
    :meth:`get_credential`, :meth:`enforce_csrf`, :meth:`authenticate_token`,
    :meth:`validate_claims`, :meth:`get_user`. Any of them refuses by raising a
    :class:`~django_dualauth.exceptions.DualAuthError`, answered as the package answers it.
    """

    def authenticate(self, request: Request) -> tuple[Any, AccessClaims] | None:
        try:
            credential = self.get_credential(request)
            if credential is None:
                return None
            self.enforce_csrf(request, credential)
            user, claims = self.authenticate_token(credential.raw)
            self.validate_claims(claims)
            return self.get_user(user, claims), claims
        except DualAuthError as error:
            if error.status == 401:
                audit.record("auth.token.invalid", code=error.code, path=repr(request.path[:200]))
            raise as_drf_exception(error) from None
        except DatabaseError as error:
            outage = database_outage(error)
            if outage is None:
                raise
            audit.record_outage(outage.reason, request.path)
            raise as_drf_exception(outage) from error

    def get_credential(self, request: Request) -> Credential | None:
        """The raw access token and the channel it came in, or None when the request carries
        none of ours (no header and no cookie, or a header of another scheme)."""
        credential = read_access_credential(request)
        return None if credential is OTHER_SCHEME else credential

    def enforce_csrf(self, request: Request, credential: Credential) -> None:
        """Refuse a forgeable request: a cookie credential on an unsafe method must pass the
        CSRF and Origin checks; a bearer one needs none."""
        for_credential(credential).guard(request)

    def authenticate_token(self, raw: str) -> tuple[Any, AccessClaims]:
        """``(user, claims)`` for a token whose signature, expiry and session are valid.

        In the cache revocation mode ``user`` is a lazy ``TokenUser``.
        """
        return authenticate_access_token(raw)

    def validate_claims(self, claims: AccessClaims) -> None:
        """Further checks of verified claims (none by default): raise
        :class:`~django_dualauth.exceptions.AccessTokenInvalid` to refuse the token."""

    def get_user(self, user: Any, claims: AccessClaims) -> Any:
        """The user that becomes ``request.user`` (``user`` by default)."""
        return user

    def authenticate_header(self, request: Request) -> str:
        # Called by DRF for a 401 answer. Naming the invalid token needs no state kept on the
        # request: it is the case where a credential of ours came in and did not authenticate.
        return INVALID_TOKEN_CHALLENGE if _refused_credential(self, request) else REALM


def _refused_credential(authenticator: DualAuthentication, request: Request) -> bool:
    try:
        if authenticator.get_credential(request) is None:
            return False
    except DualAuthError:
        return True  # a garbage Authorization: Bearer value
    try:
        return request.successful_authenticator is None
    except exceptions.APIException:  # authentication had not run yet, and refuses now
        return True


class SetupTokenAuthentication(BaseAuthentication):
    """Accepts a *setup* temp token, for the 2FA setup endpoints only.

    A user whom policy forces to set up 2FA gets no session at login, only a setup temp
    token (``2FA_SETUP_REQUIRED``). Sent as ``Authorization: Bearer`` (what node-auth's
    clients do) or as the body's ``tempToken``, it authenticates these endpoints and no
    other: ``request.auth`` is then the :class:`~django_dualauth.models.LoginChallenge`.
    A JWT-shaped Bearer value is left to :class:`DualAuthentication`.
    """

    def authenticate(self, request: Request) -> tuple[Any, LoginChallenge] | None:
        data = request.data if hasattr(request.data, "get") else {}
        raw = data.get("tempToken")
        if raw is None:
            try:
                credential = read_header_credential(request)
            except AccessTokenInvalid:
                return None  # DualAuthentication reports the bad header
            if credential is None or credential is OTHER_SCHEME or credential.raw.count(".") == 2:
                return None
            raw = credential.raw
        challenge = find_setup_challenge(raw)
        if challenge is None:
            raise as_drf_exception(TempTokenInvalid())
        return challenge.user, challenge

    def authenticate_header(self, request: Request) -> str:
        return REALM
