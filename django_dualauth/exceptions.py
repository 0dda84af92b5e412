"""Domain errors. Each has an HTTP status and a stable ``code``; no DRF import here.

The API layer turns any :class:`DualAuthError` into ``{"error": message, "code": code}``.
"""

from __future__ import annotations

from typing import Any

from django.db import InterfaceError, OperationalError

__all__ = [
    "DualAuthError",
    "InvalidCredentials",
    "AccessTokenInvalid",
    "SessionRevoked",
    "RefreshTokenInvalid",
    "RefreshTokenMissing",
    "CredentialConflict",
    "CSRFFailed",
    "UnsupportedMediaType",
    "PayloadTooLarge",
    "BadRequest",
    "ValidationFailed",
    "RateLimited",
    "TooManyAttempts",
    "DeliveryNotAllowed",
    "EndpointDisabled",
    "NotAuthenticated",
    "EmailTaken",
    "TempTokenInvalid",
    "InvalidTwoFactorCode",
    "InvalidSetupCode",
    "TwoFactorSetupRequired",
    "TwoFactorRequired",
    "TwoFactorAlreadyEnabled",
    "TwoFactorNotEnabled",
    "TwoFactorSetupNotStarted",
    "ReauthenticationFailed",
    "ReauthenticationRequired",
    "EmailRequired",
    "EmailVerificationRequiresPost",
    "ServiceUnavailable",
    "DatabaseUnavailable",
    "database_outage",
    "MagicLinkInvalid",
    "TokenMismatch",
    "SMSCodeInvalid",
    "PhoneNotVerified",
    "PhoneCodeInvalid",
    "EmailNotVerified",
    "EmailVerificationRequired",
    "AccountTokenInvalid",
    "ProviderNotConfigured",
    "ProviderFlowUnsupported",
    "IdTokenInvalid",
    "OAuthNonceInvalid",
    "OAuthStateInvalid",
    "ReturnUrlNotAllowed",
    "OAuthAccessDenied",
    "OAuthCodeExchangeFailed",
    "OAuthIssuerMismatch",
    "OAuthAppCodeInvalid",
    "OAuthEmailNotVerified",
    "OAuthAccountConflict",
    "OAuthAccountLinkedElsewhere",
    "LastSignInMethod",
    "LinkTokenInvalid",
    "LinkedAccountNotFound",
    "ProviderUnavailable",
    "StaffPermissionRequired",
    "SelfLockout",
]


class DualAuthError(Exception):
    status: int = 400
    code: str = "BAD_REQUEST"
    message: str = "Bad request"

    def __init__(self, message: str | None = None, **extra: Any) -> None:
        self.message = message or self.message
        self.extra = extra
        super().__init__(self.message)

    def as_dict(self) -> dict[str, Any]:
        return {"error": self.message, "code": self.code, **self.extra}


class InvalidCredentials(DualAuthError):
    status, code, message = 401, "INVALID_CREDENTIALS", "Invalid credentials"


class AccessTokenInvalid(DualAuthError):
    """Missing, malformed, forged, expired or foreign access token; deliberately one answer."""

    status, code, message = 401, "INVALID_ACCESS_TOKEN", "Invalid or expired access token"


class SessionRevoked(DualAuthError):
    status, code, message = 401, "SESSION_REVOKED", "Session has been revoked"


class RefreshTokenInvalid(DualAuthError):
    status, code, message = 401, "INVALID_REFRESH_TOKEN", "Invalid or expired refresh token"


class RefreshTokenMissing(DualAuthError):
    status, code, message = 401, "NO_REFRESH_TOKEN", "No refresh token provided"


class CredentialConflict(DualAuthError):
    """The same credential arrived twice or in the wrong place (cookie tossing, body vs cookie)."""

    status, code, message = 400, "CREDENTIAL_CONFLICT", "Conflicting credentials in request"


class CSRFFailed(DualAuthError):
    status, code, message = 403, "CSRF_INVALID", "CSRF token validation failed"


class UnsupportedMediaType(DualAuthError):
    status, code, message = 415, "UNSUPPORTED_MEDIA_TYPE", "Content-Type must be application/json"


class PayloadTooLarge(DualAuthError):
    status, code, message = 413, "PAYLOAD_TOO_LARGE", "Request body too large"


class BadRequest(DualAuthError):
    status, code, message = 400, "BAD_REQUEST", "Malformed request"


class ValidationFailed(DualAuthError):
    status, code, message = 400, "VALIDATION_ERROR", "Invalid input"


class RateLimited(DualAuthError):
    status, code, message = 429, "RATE_LIMITED", "Too many requests, try again later"

    def __init__(self, retry_after: int, message: str | None = None) -> None:
        super().__init__(message)
        self.retry_after = max(1, int(retry_after))


class TooManyAttempts(RateLimited):
    """Refused by a device's throttle or a temp token's attempt cap: a guess all the same, so
    the failure budgets count it (a resend cool-down, a plain :class:`RateLimited`, is not)."""


class DeliveryNotAllowed(DualAuthError):
    status, code, message = 400, "DELIVERY_NOT_ALLOWED", "This token delivery is not allowed"


class EndpointDisabled(DualAuthError):
    status, code, message = 404, "NOT_FOUND", "Not found"


class NotAuthenticated(DualAuthError):
    status, code, message = 401, "NOT_AUTHENTICATED", "Authentication required"


class EmailTaken(DualAuthError):
    status, code, message = 409, "EMAIL_TAKEN", "An account with this e-mail already exists"


class TempTokenInvalid(DualAuthError):
    """Unknown, expired, used or dead 2FA temp token, or one sent through another delivery."""

    status, code, message = 401, "INVALID_TEMP_TOKEN", "Invalid or expired temporary token"


class InvalidTwoFactorCode(DualAuthError):
    """A wrong, malformed or replayed TOTP or recovery code; deliberately one answer."""

    status, code, message = 401, "INVALID_2FA_CODE", "Invalid two-factor code"


class InvalidSetupCode(InvalidTwoFactorCode):
    """A wrong code while confirming a new device: 400 (the caller may hold a valid access
    token, and a 401 would send clients into a refresh loop), the same code as a wrong login code."""

    status = 400


class TwoFactorSetupRequired(DualAuthError):
    """Policy requires 2FA and the user has none: the temp token only opens the setup endpoints."""

    status, code, message = 403, "2FA_SETUP_REQUIRED", "Two-factor authentication must be set up"

    def __init__(self, temp_token: str) -> None:
        super().__init__(requires2FASetup=True, tempToken=temp_token)


class TwoFactorRequired(DualAuthError):
    status, code, message = 403, "2FA_REQUIRED", "Two-factor authentication is required by policy"


class TwoFactorAlreadyEnabled(DualAuthError):
    status, code, message = 409, "2FA_ALREADY_ENABLED", "Two-factor authentication is already enabled"


class TwoFactorNotEnabled(DualAuthError):
    status, code, message = 400, "2FA_NOT_ENABLED", "Two-factor authentication is not enabled"


class TwoFactorSetupNotStarted(DualAuthError):
    status, code, message = 400, "2FA_SETUP_NOT_STARTED", "Call 2fa/setup first"


class ReauthenticationFailed(DualAuthError):
    """A sensitive change needs a fresh proof (password or current code), and it was wrong.

    403, not 401: the access token is fine, and a 401 would send clients into a refresh loop.
    """

    status, code, message = 403, "REAUTHENTICATION_FAILED", "Password or code is incorrect"


class ReauthenticationRequired(DualAuthError):
    """A sensitive change came without the proof it needs (or, setting a first password, after
    the fresh sign-in window). ``accepted`` names the body fields that carry an accepted proof
    (empty: none does, sign in again). 403, never 401: a refresh cannot help, and a 401 would
    send node-auth's clients into a refresh loop."""

    status, code, message = 403, "REAUTHENTICATION_REQUIRED", "This change needs a fresh proof of identity"

    def __init__(self, accepted: tuple[str, ...] | list[str], message: str | None = None) -> None:
        super().__init__(message, accepted=list(accepted))


class EmailRequired(DualAuthError):
    """An SMS sign-in named the account by ``userId`` (node-auth's form): ids are enumerable, the
    address is what the user types. 400: a missing identifier, not a re-authentication."""

    status, code, message = 400, "EMAIL_REQUIRED", "Send the account's email, not its userId"

    def __init__(self) -> None:
        super().__init__(accepted=["email"])


class EmailVerificationRequiresPost(DualAuthError):
    """``GET verify-email``: a GET never changes state (mail scanners follow links); the page
    POSTs the token. 405, not 401 or 403: clients must not refresh and retry."""

    status, code, message = 405, "EMAIL_VERIFICATION_REQUIRES_POST", "Send the token with POST verify-email"


class ServiceUnavailable(DualAuthError):
    """A backing service (the rate-limit cache) cannot answer; retry shortly. Never a 500."""

    status, code, message = 503, "SERVICE_UNAVAILABLE", "Service temporarily unavailable"
    retry_after = 5


class DatabaseUnavailable(ServiceUnavailable):
    """The database is unreachable, or locked past its timeout: the same 503 as the cache.

    ``reason`` names the driver's error (class and SQLSTATE or SQLite code) for the log; it is
    never part of the answer.
    """

    def __init__(self, reason: str) -> None:
        super().__init__()
        self.reason = reason


# Driver errors that are a mistake in the SQL or its input, not an outage: retrying cannot
# help, so they stay a 500 with a traceback. SQLite's primary code 1 (SQLITE_ERROR) is "no such
# table" or a syntax error, and sqlite3's InterfaceError a misuse of its API (a parameter it
# cannot bind), since SQLite has no connection to lose; SQLSTATE class 54 (program limit
# exceeded) is, for example, an index row too large for a value.
_SQLITE_NOT_OUTAGE = frozenset({1})
_SQLSTATE_CLASSES_NOT_OUTAGE = frozenset({"54"})


def database_outage(error: BaseException) -> DatabaseUnavailable | None:
    """The 503 for ``error`` if it means the database cannot answer now, else ``None``.

    An outage is Django's ``InterfaceError`` (a connection that is closed or gone) or
    ``OperationalError`` (refused or lost connection, server shutting down, lock timeout,
    deadlock), which is what the driver's errors (psycopg, sqlite3) become in Django.
    ``IntegrityError`` and ``DataError`` are bad input or a lost race, never an outage.
    """
    if not isinstance(error, InterfaceError | OperationalError):
        return None
    cause = error.__cause__ or error
    if isinstance(error, InterfaceError) and type(cause).__module__ == "sqlite3":
        return None
    sqlite_code = getattr(cause, "sqlite_errorcode", None)
    sqlstate = getattr(cause, "sqlstate", None) or getattr(cause, "pgcode", None)
    if sqlite_code is not None and sqlite_code & 0xFF in _SQLITE_NOT_OUTAGE:
        return None
    if isinstance(sqlstate, str) and sqlstate[:2] in _SQLSTATE_CLASSES_NOT_OUTAGE:
        return None
    detail = getattr(cause, "sqlite_errorname", None) or sqlstate
    name = f"{type(cause).__module__}.{type(cause).__qualname__}"
    return DatabaseUnavailable(f"{name}/{detail}" if detail else name)


class MagicLinkInvalid(DualAuthError):
    """Unknown, used, expired, superseded or stale magic link, or an inactive user: one answer.

    400, not 401: nothing the client holds has expired, so it must not try a refresh.
    """

    status, code, message = 400, "INVALID_MAGIC_LINK", "Invalid or expired link"


class TokenMismatch(DualAuthError):
    """A second-factor link or code belongs to another user than the temp token."""

    status, code, message = 401, "TOKEN_MISMATCH", "This link does not belong to this login"


class SMSCodeInvalid(DualAuthError):
    """A wrong, expired, used or exhausted SMS code; deliberately one answer."""

    status, code, message = 401, "INVALID_SMS_CODE", "Invalid or expired code"


class PhoneNotVerified(DualAuthError):
    status, code, message = 400, "PHONE_NOT_SET", "No verified phone number"


class PhoneCodeInvalid(SMSCodeInvalid):
    """A wrong code while verifying a new phone: 400, as the caller holds a valid access token."""

    status = 400


class EmailNotVerified(DualAuthError):
    """``DUALAUTH_EMAIL_VERIFICATION = "strict"``: no log-in until the address is verified."""

    status, code, message = 403, "EMAIL_NOT_VERIFIED", "E-mail address not verified"


class EmailVerificationRequired(DualAuthError):
    """``"lazy"`` policy and the grace period after sign-up has passed."""

    status, code, message = 403, "EMAIL_VERIFICATION_REQUIRED", "E-mail address must be verified to continue"


class AccountTokenInvalid(DualAuthError):
    """Unknown, used, expired or stale e-mail verification, password-reset or e-mail-change token."""

    status, code, message = 400, "INVALID_TOKEN", "Invalid or expired token"


# --- social sign-in ------------------------------------------------------------------------------

class ProviderNotConfigured(EndpointDisabled):
    """node-auth's answer for a provider it does not serve (``{error: 'Google OAuth not configured'}``),
    in our shape: 404 ``NOT_FOUND``."""

    def __init__(self, name: str) -> None:
        super().__init__(f"{name.capitalize()[:32]} OAuth not configured")


class ProviderFlowUnsupported(DualAuthError):
    """The provider has no id_token (GitHub): it signs in through the redirect flow only."""

    status, code, message = 400, "OAUTH_FLOW_UNSUPPORTED", "This provider does not sign in with an id_token"


class IdTokenInvalid(DualAuthError):
    """A forged, expired, foreign or malformed id_token; deliberately one answer (the log says why)."""

    status, code, message = 401, "INVALID_ID_TOKEN", "Invalid or expired id_token"


class OAuthNonceInvalid(DualAuthError):
    """The nonce is unknown, used, expired, of another provider, or not the id_token's."""

    status, code, message = 401, "INVALID_NONCE", "Invalid, used or expired nonce"


class OAuthEmailNotVerified(DualAuthError):
    """A new account needs an address the provider asserts as verified (``email_verified``)."""

    status, code, message = 403, "OAUTH_EMAIL_NOT_VERIFIED", "The provider did not verify this e-mail address"


class OAuthAccountConflict(DualAuthError):
    """An account already has the id_token's address, and this provider may not link to it by
    e-mail: node-auth's ``OAUTH_ACCOUNT_CONFLICT``, with ``provider`` and ``email``. Nothing is
    written; the owner signs in and links from the session."""

    status, code, message = 409, "OAUTH_ACCOUNT_CONFLICT", "An account with this e-mail already exists"

    def __init__(self, provider: str, email: str) -> None:
        super().__init__(provider=provider, email=email)


class OAuthAccountLinkedElsewhere(DualAuthError):
    """Linking a provider account that already signs in another user."""

    status, code, message = 409, "OAUTH_ACCOUNT_ALREADY_LINKED", "This provider account is linked to another user"


class OAuthStateInvalid(DualAuthError):
    """The redirect flow's ``state`` is unknown, used or expired, or this browser did not start
    the flow (its binding cookie is missing or another's): login CSRF (RFC 9700 §4.7)."""

    status, code, message = 400, "INVALID_STATE", "Invalid, used or expired sign-in state"


class ReturnUrlNotAllowed(DualAuthError):
    """The return URL is not one of ``DUALAUTH_SOCIAL_RETURN_URLS`` (web) or
    ``DUALAUTH_SOCIAL_APP_RETURN_URLS`` (app), or the app flow lacks its PKCE challenge."""

    status, code, message = 400, "RETURN_URL_NOT_ALLOWED", "This return URL is not allowed"


class OAuthAccessDenied(DualAuthError):
    """The provider answered the authorization with an ``error`` (the user cancelled: ``access_denied``)."""

    status, code, message = 400, "OAUTH_ACCESS_DENIED", "The sign-in was cancelled or refused at the provider"


class OAuthCodeExchangeFailed(DualAuthError):
    """The provider refused the authorization code (used, expired, foreign, wrong PKCE verifier),
    or the callback carried none."""

    status, code, message = 400, "OAUTH_CODE_EXCHANGE_FAILED", "The provider refused the authorization code"


class OAuthIssuerMismatch(DualAuthError):
    """The authorization response's ``iss`` is not the provider's issuer (RFC 9207: a mix-up)."""

    status, code, message = 400, "OAUTH_ISSUER_MISMATCH", "The authorization response came from another issuer"


class OAuthAppCodeInvalid(DualAuthError):
    """The app flow's one-time code is unknown, used or expired, or the ``codeVerifier`` is not
    the one of the app's ``code_challenge``; a wrong verifier spends the code."""

    status, code, message = 400, "INVALID_OAUTH_CODE", "Invalid, used or expired sign-in code"


class LinkTokenInvalid(DualAuthError):
    """An unknown, used, expired or stale ``link-verify`` token (node-auth's ``INVALID_LINK_TOKEN``)."""

    status, code, message = 400, "INVALID_LINK_TOKEN", "Invalid or expired link token"


class LastSignInMethod(DualAuthError):
    """Unlinking would leave the account with no way to sign in (no usable password, no other link)."""

    status, code, message = 409, "LAST_SIGN_IN_METHOD", "Set a password or link another account first"


class LinkedAccountNotFound(EndpointDisabled):
    """Not one of the caller's linked accounts (another user's, or none): the same 404."""

    message = "Linked account not found"


class ProviderUnavailable(ServiceUnavailable):
    """The provider's keys or discovery document could not be fetched: 503 with ``Retry-After``."""

    code, message = "PROVIDER_UNAVAILABLE", "The sign-in provider cannot be reached; try again shortly"
    retry_after = 30


# --- staff API ----------------------------------------------------------------------------------

class StaffPermissionRequired(DualAuthError):
    """The staff API: the caller is not active staff, or lacks a Django model permission the
    endpoint needs. ``required`` names the missing permissions (``app_label.codename``)."""

    status, code, message = 403, "PERMISSION_DENIED", "Staff permission required"

    def __init__(self, required: list[str] | tuple[str, ...]) -> None:
        super().__init__(required=list(required))


class SelfLockout(DualAuthError):
    """The staff API: a staff member tried to deactivate, delete or reset themselves, or to end
    their own current session. Refused outright (409): use ``auth/`` endpoints for one's own account."""

    status, code, message = 409, "SELF_LOCKOUT", "Staff cannot do this to their own account or current session"
