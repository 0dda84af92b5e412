"""The package's client methods (``BaseAuthClient`` at 1cd2f0a4) and its two platforms.

:func:`create_native_client` is ``createAuthClient`` of ``native_auth_client.dart``: bearer
tokens, an :class:`InMemoryTokenStorage`. :func:`create_web_client` is the web one: cookies
held by the browser, ``X-CSRF-Token`` from the ``csrf-token`` cookies, no token handling.

Each method makes the package's call and reads the answer as it does: success is a 2xx status
(``login``: 200 or 201; ``checkSession``, ``getActiveSessions``, ``getLinkedAccounts``,
``loadUiConfig``: exactly 200); a failure's text is the body's ``message``, else its ``error``,
else ``Request failed (<status>)``. The error ``code`` is not surfaced, as in the package.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from enum import Enum
from typing import Any, TypeVar
from urllib.parse import urlsplit

from .http_client import AuthHttpClient
from .models import (
    AuthResult,
    AuthUser,
    LoginResult,
    SessionInfo,
    TotpSetupData,
    UiConfig,
    as_bool_or_null,
    as_list_of_strings_or_null,
    as_string_or_null,
)
from .transport import Response, Transport

__all__ = ["AuthEvent", "AuthEventType", "AuthOptions", "AuthState", "BaseAuthClient", "InMemoryTokenStorage",
           "NativeAuthClient", "WebAuthClient", "create_native_client", "create_web_client",
           "is_same_origin", "parse_csrf_from_cookies"]

T = TypeVar("T")
U = TypeVar("U")


@dataclass(frozen=True)
class AuthOptions:
    """``AuthOptions``: ``api_prefix`` is relative (``/auth``) or absolute (``https://host/auth``)."""

    api_prefix: str = "/auth"
    home_url: str = "/"
    login_url: str | None = None
    headless: bool = False
    initialize_on_startup: bool = True

    @property
    def effective_login_url(self) -> str:
        return self.login_url or f"{self.api_prefix}/ui/login"


class InMemoryTokenStorage:
    """``InMemoryTokenStorage``; the package writes only the access token to it."""

    def __init__(self) -> None:
        self.access_token: str | None = None
        self.refresh_token: str | None = None

    def read_access_token(self) -> str | None:
        return self.access_token

    def write_access_token(self, token: str) -> None:
        self.access_token = token

    def clear(self) -> None:
        self.access_token = self.refresh_token = None


class AuthEventType(Enum):
    SESSION_EXPIRED = "sessionExpired"
    SESSION_REVOKED = "sessionRevoked"
    LOGGED_OUT = "loggedOut"
    LOGGED_IN = "loggedIn"
    INITIALIZED = "initialized"
    EMAIL_CHANGED = "emailChanged"


@dataclass(frozen=True)
class AuthEvent:
    type: AuthEventType
    user: AuthUser | None = None


class AuthState:
    """``AuthState``: the current user and whether the first session check has run."""

    def __init__(self) -> None:
        self.user: AuthUser | None = None
        self.initialized = False

    @property
    def is_authenticated(self) -> bool:
        return self.user is not None


def _or(value: T | None, fallback: U) -> T | U:
    """Dart's ``value ?? fallback``: only ``null`` falls back (an empty string does not)."""
    return fallback if value is None else value


def parse_csrf_from_cookies(cookie_string: str) -> str | None:
    """``parseCsrfFromCookies``: ``__Host-csrf-token`` > ``__Secure-csrf-token`` > ``csrf-token``."""
    cookies: dict[str, str] = {}
    for part in cookie_string.split(";"):
        name, sep, value = part.partition("=")
        if sep:
            cookies[name.strip()] = value.strip()
    return _or(cookies.get("__Host-csrf-token"), _or(cookies.get("__Secure-csrf-token"), cookies.get("csrf-token")))


def is_same_origin(url: str, api_prefix: str, window_origin: str) -> bool:
    """``isSameOrigin``: a relative URL always is; else scheme, host and port must match the
    prefix's (absolute prefix) or the page's (relative prefix)."""
    target = urlsplit(url)
    if not target.scheme:
        return True
    other = urlsplit(api_prefix if api_prefix.startswith(("http://", "https://")) else window_origin)
    return (target.scheme, target.hostname, target.port) == (other.scheme, other.hostname, other.port)


def _ok(response: Response) -> bool:
    return 200 <= response.status_code < 300


def _parse_body(response: Response) -> dict[str, Any] | None:
    if not response.body:
        return None
    try:
        decoded = json.loads(response.body)
    except ValueError:
        return None
    return decoded if isinstance(decoded, dict) else None


def _error_message(response: Response) -> str:
    body = _parse_body(response)
    if body is not None:
        return _or(as_string_or_null(body.get("message")),
                   _or(as_string_or_null(body.get("error")), f"Request failed ({response.status_code})"))
    return f"Request failed ({response.status_code})"


def _result(response: Response) -> AuthResult[None]:
    return AuthResult.ok() if _ok(response) else AuthResult.failure(_error_message(response))


class BaseAuthClient:
    """The 40 methods, shared by both platforms. ``events`` lists every event emitted."""

    def __init__(self, options: AuthOptions, http_client: AuthHttpClient) -> None:
        self.options = options
        self.http_client = http_client
        self.state = AuthState()
        self.events: list[AuthEvent] = []
        self.navigations: list[str] = []  # where redirect_to_login sent the page (web)
        http_client.set_refresh_handler(self.do_refresh)
        http_client.set_logout_handler(self.handle_logout)
        if options.initialize_on_startup:
            self._initialize()

    def _initialize(self) -> None:
        try:
            self.check_session()
        finally:
            self.state.initialized = True
            self._emit(AuthEventType.INITIALIZED)

    def _emit(self, kind: AuthEventType, user: AuthUser | None = None) -> None:
        self.events.append(AuthEvent(kind, user))

    def event_types(self) -> list[AuthEventType]:
        return [event.type for event in self.events]

    # --- refresh and logout handlers -------------------------------------------------------

    def do_refresh(self) -> bool:
        return self.http_client.call_refresh_endpoint()

    def handle_logout(self, *, revoked: bool = False) -> None:
        self.state.user = None
        self._emit(AuthEventType.SESSION_REVOKED if revoked else AuthEventType.LOGGED_OUT)
        if not self.options.headless:
            self.redirect_to_login()

    def redirect_to_login(self) -> None:
        """Native: nothing. The web client navigates to the login page."""

    # --- session ---------------------------------------------------------------------------

    def check_session(self) -> AuthUser | None:
        try:
            response = self.http_client.api_get("/me")
            if response.status_code == 200:
                data = _parse_body(response)
                if data is not None:
                    user = AuthUser.from_json(data)
                    self.state.user = user
                    return user
            else:
                self.state.user = None
        except Exception:
            self.state.user = None
        return None

    def _emit_logged_in_event(self) -> None:
        user = self.check_session()
        if user is not None:
            self._emit(AuthEventType.LOGGED_IN, user)

    def get_active_sessions(self) -> list[SessionInfo]:
        """A missing or non-string ``handle`` raises :class:`DartTypeError` to the app."""
        response = self.http_client.api_get("/sessions")
        if response.status_code == 200:
            data = json.loads(response.body)
            items = data.get("sessions") if isinstance(data, dict) else data
            if isinstance(items, list):
                return [SessionInfo.from_json(item) for item in items if isinstance(item, dict)]
        return []

    def revoke_session(self, session_handle: str) -> AuthResult[None]:
        return _result(self.http_client.api_delete(f"/sessions/{session_handle}"))

    def cleanup_sessions(self) -> AuthResult[None]:
        return _result(self.http_client.api_post("/sessions/cleanup"))

    # --- auth ------------------------------------------------------------------------------

    def login(self, email: str, password: str) -> LoginResult:
        response = self.http_client.api_post("/login", body={"email": email, "password": password})
        data = _parse_body(response)
        if response.status_code in (200, 201):
            if data is not None and data.get("requiresTwoFactor") is True:
                return LoginResult.challenge(
                    _or(as_string_or_null(data.get("tempToken")), ""),
                    _or(as_list_of_strings_or_null(data.get("available2faMethods")), []),
                    _or(as_bool_or_null(data.get("requires2FASetup")), False))
            user = self.check_session()
            if user is not None:
                self._emit(AuthEventType.LOGGED_IN, user)
                return LoginResult.authenticated(user)
        if data is not None:
            return LoginResult.failed(_or(as_string_or_null(data.get("message")), "Login failed"))
        return LoginResult.failed(f"Login failed ({response.status_code})")

    def register(self, email: str, password: str, first_name: str, last_name: str) -> AuthResult[str]:
        """A numeric ``userId`` raises :class:`DartTypeError`, as the Dart cast would."""
        response = self.http_client.api_post("/register", body={
            "email": email, "password": password, "firstName": first_name, "lastName": last_name})
        data = _parse_body(response)
        if _ok(response):
            user_id = _or(as_string_or_null((data or {}).get("userId")), as_string_or_null((data or {}).get("id")))
            return AuthResult.ok(user_id)
        return AuthResult.failure(_error_message(response))

    def logout(self) -> None:
        try:
            self.http_client.api_post("/logout")
        except Exception:  # noqa: S110 - the package ignores a failed logout request
            pass
        self.handle_logout()

    def update_profile(self, first_name: str, last_name: str) -> AuthResult[None]:
        response = self.http_client.api_patch("/profile", body={"firstName": first_name, "lastName": last_name})
        if _ok(response):
            self.check_session()
        return _result(response)

    # --- password --------------------------------------------------------------------------

    def forgot_password(self, email: str) -> AuthResult[None]:
        return _result(self.http_client.api_post("/forgot-password", body={"email": email}))

    def reset_password(self, password: str, token: str) -> AuthResult[None]:
        return _result(self.http_client.api_post("/reset-password", body={"password": password, "token": token}))

    def change_password(self, current_password: str, new_password: str) -> AuthResult[None]:
        return _result(self.http_client.api_post("/change-password", body={
            "currentPassword": current_password, "newPassword": new_password}))

    def set_password(self, password: str) -> AuthResult[None]:
        return self.change_password("", password)

    # --- magic link ------------------------------------------------------------------------

    def send_magic_link(self, email: str) -> AuthResult[None]:
        return _result(self.http_client.api_post("/magic-link/send", body={"email": email}))

    def verify_magic_link(self, token: str) -> AuthResult[None]:
        response = self.http_client.api_post("/magic-link/verify", body={"token": token})
        if _ok(response):
            self._emit_logged_in_event()
        return _result(response)

    def send_2fa_magic_link(self, temp_token: str) -> AuthResult[None]:
        return _result(self.http_client.api_post("/magic-link/send", body={"tempToken": temp_token, "mode": "2fa"}))

    # --- SMS -------------------------------------------------------------------------------

    def send_sms_login(self, email: str) -> AuthResult[None]:
        return _result(self.http_client.api_post("/sms/send", body={"email": email, "mode": "login"}))

    def verify_sms_login(self, user_id: str, code: str) -> AuthResult[None]:
        response = self.http_client.api_post("/sms/verify", body={"userId": user_id, "code": code, "mode": "login"})
        if _ok(response):
            self._emit_logged_in_event()
        return _result(response)

    def send_2fa_sms(self, temp_token: str) -> AuthResult[None]:
        return _result(self.http_client.api_post("/sms/send", body={"tempToken": temp_token, "mode": "2fa"}))

    def validate_sms(self, temp_token: str, code: str) -> AuthResult[None]:
        response = self.http_client.api_post("/sms/verify", body={"tempToken": temp_token, "code": code,
                                                                  "mode": "2fa"})
        if _ok(response):
            self._emit_logged_in_event()
        return _result(response)

    def add_phone(self, phone_number: str) -> AuthResult[None]:
        response = self.http_client.api_post("/add-phone", body={"phoneNumber": phone_number})
        if _ok(response):
            self.check_session()
        return _result(response)

    # --- TOTP ------------------------------------------------------------------------------

    def setup_2fa(self) -> AuthResult[TotpSetupData]:
        response = self.http_client.api_post("/2fa/setup")
        if _ok(response):
            data = _parse_body(response)
            if data is not None:
                return AuthResult.ok(TotpSetupData.from_json(data))
        return AuthResult.failure(_error_message(response))

    def verify_2fa_setup(self, code: str, secret: str) -> AuthResult[None]:
        response = self.http_client.api_post("/2fa/verify-setup", body={"token": code, "secret": secret})
        if _ok(response):
            self.check_session()
        return _result(response)

    def validate_2fa(self, temp_token: str, totp_code: str) -> AuthResult[None]:
        response = self.http_client.api_post("/2fa/verify", body={"tempToken": temp_token, "totpCode": totp_code})
        if _ok(response):
            self._emit_logged_in_event()
        return _result(response)

    def disable_2fa(self) -> AuthResult[None]:
        response = self.http_client.api_post("/2fa/disable")
        if _ok(response):
            self.check_session()
        return _result(response)

    # --- e-mail ----------------------------------------------------------------------------

    def resend_verification_email(self) -> AuthResult[None]:
        return _result(self.http_client.api_post("/send-verification-email"))

    def verify_email(self, token: str) -> AuthResult[None]:
        response = self.http_client.api_get("/verify-email", query_parameters={"token": token})
        if _ok(response):
            self.check_session()
        return _result(response)

    def request_email_change(self, new_email: str) -> AuthResult[None]:
        return _result(self.http_client.api_post("/change-email/request", body={"newEmail": new_email}))

    def confirm_email_change(self, token: str) -> AuthResult[None]:
        response = self.http_client.api_post("/change-email/confirm", body={"token": token})
        if _ok(response):
            self.check_session()
            self._emit(AuthEventType.EMAIL_CHANGED)
        return _result(response)

    # --- account linking -------------------------------------------------------------------

    def request_linking_email(self, email: str, provider: str) -> AuthResult[None]:
        return _result(self.http_client.api_post("/link-request", body={"email": email, "provider": provider}))

    def verify_linking_token(self, token: str, provider: str) -> AuthResult[None]:
        response = self.http_client.api_post("/link-verify", body={"token": token, "provider": provider})
        if _ok(response):
            self.check_session()
        return _result(response)

    def request_conflict_linking_email(self, email: str, provider: str) -> AuthResult[None]:
        return _result(self.http_client.api_post("/link-request", body={"email": email, "provider": provider}))

    def verify_conflict_linking_token(self, token: str) -> AuthResult[None]:
        response = self.http_client.api_post("/link-verify", body={"token": token, "loginAfterLinking": True})
        if _ok(response):
            self._emit_logged_in_event()
        return _result(response)

    def get_linked_accounts(self) -> list[Any]:
        """Only a top-level JSON list counts; anything else is silently ``[]``."""
        response = self.http_client.api_get("/linked-accounts")
        if response.status_code == 200:
            try:
                data = json.loads(response.body)
            except ValueError:
                return []
            if isinstance(data, list):
                return data
        return []

    def unlink_account(self, provider: str, provider_account_id: str) -> AuthResult[None]:
        response = self.http_client.api_delete(f"/linked-accounts/{provider}/{provider_account_id}")
        if _ok(response):
            self.check_session()
        return _result(response)

    # --- account, UI, OAuth, tools ---------------------------------------------------------

    def delete_account(self) -> AuthResult[None]:
        response = self.http_client.api_delete("/account")
        if _ok(response):
            self.state.user = None
            self._emit(AuthEventType.LOGGED_OUT)
            if not self.options.headless:
                self.redirect_to_login()
        return _result(response)

    def load_ui_config(self) -> UiConfig | None:
        """Every error (status, body, types) is swallowed: ``None``."""
        try:
            response = self.http_client.api_get("/ui/config")
            if response.status_code == 200:
                data = _parse_body(response)
                if data is not None:
                    return UiConfig.from_json(data)
        except Exception:  # noqa: S110 - the package swallows every error here
            pass
        return None

    def get_oauth_url(self, provider: str) -> str:
        return f"{self.options.api_prefix}/oauth/{provider}"

    def handle_oauth_callback(self) -> AuthUser | None:
        user = self.check_session()
        if user is not None:
            self._emit(AuthEventType.LOGGED_IN, user)
        return user

    def get_tools_stream(self) -> Iterator[str]:
        raise NotImplementedError


class NativeAuthClient(BaseAuthClient):
    """Bearer tokens; the logout handler clears storage first. No server-sent events."""

    def __init__(self, options: AuthOptions, http_client: AuthHttpClient, storage: InMemoryTokenStorage) -> None:
        self.storage = storage
        super().__init__(options, http_client)

    def handle_logout(self, *, revoked: bool = False) -> None:
        self.storage.clear()
        super().handle_logout(revoked=revoked)

    def get_tools_stream(self) -> Iterator[str]:
        return iter(())


class WebAuthClient(BaseAuthClient):
    """Cookies held by the browser; redirects to the login page; ``EventSource`` for tools."""

    def redirect_to_login(self) -> None:
        self.navigations.append(self.options.effective_login_url)

    def get_tools_stream(self) -> Iterator[str]:
        """``new EventSource('{prefix}/tools/stream')``: a GET with the page's cookies and no
        custom headers; each ``data:`` line is one message; an error closes the stream."""
        url = f"{self.options.api_prefix}/tools/stream"
        response = self.http_client.inner.send("GET", url, {"Accept": "text/event-stream"}, None)
        if response.status_code != 200 or not response.headers.get("content-type", "").startswith(
                "text/event-stream"):
            return iter(())
        return iter([line[5:].strip() for line in response.body.splitlines() if line.startswith("data:")])


def create_native_client(transport: Transport, options: AuthOptions | None = None) -> NativeAuthClient:
    """``createAuthClient`` on a native platform."""
    options = options or AuthOptions()
    storage = InMemoryTokenStorage()
    http = AuthHttpClient(transport, options.api_prefix, bearer_provider=storage.read_access_token,
                          bearer_setter=storage.write_access_token)
    return NativeAuthClient(options, http, storage)


def create_web_client(transport: Transport, options: AuthOptions | None = None, *,
                      window_origin: str = "https://app.example.com") -> WebAuthClient:
    """``createAuthClient`` on the web; ``window_origin`` is the page's ``location.origin``."""
    options = options or AuthOptions()
    prefix = options.api_prefix

    def csrf(url: str) -> str | None:
        return parse_csrf_from_cookies(transport.document_cookie()) if is_same_origin(url, prefix,
                                                                                      window_origin) else None

    return WebAuthClient(options, AuthHttpClient(transport, prefix, csrf_provider=csrf))
