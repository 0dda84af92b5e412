"""The port of node-auth's Flutter package (``tests/flutter_port``) behaves as its Dart source.

These tests need no server: a scripted transport answers. They pin what the replay in
tests/test_node_auth_flutter_client.py relies on: Dart's casts, the paths excluded from refresh,
the CSRF cookie order, token capture, and one refresh shared by concurrent callers.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

import pytest

from tests.flutter_port import (
    AuthEventType,
    AuthHttpClient,
    AuthOptions,
    AuthUser,
    DartTypeError,
    Request,
    Response,
    SessionInfo,
    TotpSetupData,
    Transport,
    UiConfig,
    create_native_client,
    create_web_client,
)
from tests.flutter_port.client import is_same_origin, parse_csrf_from_cookies

ME = {"sub": "1", "email": "a@example.com", "isEmailVerified": True, "role": "user"}


class Scripted(Transport):
    """Answers by (method, path) from ``routes``; a route is a Response or a function of the request."""

    def __init__(self, routes: Mapping[tuple[str, str], Response | Callable[..., Response]]) -> None:
        super().__init__()
        self.routes = dict(routes)

    def _exchange(self, method: str, url: str, headers: dict[str, str], body: str | None) -> Response:
        route = self.routes.get((method, url.split("?")[0]), answer(404, {"error": "Not found", "code": "NOT_FOUND"}))
        return route(headers=headers, body=body) if callable(route) else route


def answer(status: int, body: Any) -> Response:
    return Response(status, json.dumps(body), {"content-type": "application/json"})


QUIET = AuthOptions(initialize_on_startup=False)


# --- models ---------------------------------------------------------------------------------

def test_auth_user_reads_the_me_document() -> None:
    user = AuthUser.from_json({**ME, "lastLogin": "2026-12-01T10:00:00Z", "roles": ["a"], "metadata": {"k": 1}})
    assert (user.sub, user.email, user.is_email_verified, user.role, user.roles) == ("1", "a@example.com", True,
                                                                                     "user", ["a"])
    assert user.last_login is not None and user.last_login.year == 2026
    assert AuthUser.from_json({"sub": "1", "email": "a@example.com"}).is_email_verified is False
    assert AuthUser.from_json({**ME, "lastLogin": "not a date"}).last_login is None  # DateTime.tryParse


@pytest.mark.parametrize("change", [
    {"sub": 1}, {"sub": None}, {"email": None}, {"id": 7}, {"isEmailVerified": "true"}, {"isTotpEnabled": 1},
    {"roles": ["a", 2]}, {"roles": "a"}, {"lastLogin": 1700000000}, {"metadata": []}, {"firstName": False},
])
def test_auth_user_fails_where_a_dart_cast_fails(change: dict[str, Any]) -> None:
    with pytest.raises(DartTypeError):
        AuthUser.from_json({**ME, **change})


def test_session_info_needs_a_string_handle() -> None:
    info = SessionInfo.from_json({"handle": "h", "isCurrent": True, "createdAt": "2026-12-01T10:00:00+00:00"})
    assert (info.handle, info.is_current, info.created_at is not None) == ("h", True, True)
    assert SessionInfo.from_json({"handle": "h"}).is_current is False
    for bad in ({"sessionHandle": "h", "current": True}, {"handle": 5}, {"handle": "h", "isCurrent": "yes"}):
        with pytest.raises(DartTypeError):
            SessionInfo.from_json(bad)


def test_ui_config_and_totp_setup() -> None:
    assert UiConfig.from_json({}) == UiConfig(registration_enabled=True)
    assert UiConfig.from_json({"smsEnabled": True, "availableProviders": ["github"]}).available_providers == [
        "github"]
    with pytest.raises(DartTypeError):
        UiConfig.from_json({"smsEnabled": "yes"})
    assert TotpSetupData.from_json({"secret": "S", "qrCode": "data:"}).secret == "S"
    with pytest.raises(DartTypeError):
        TotpSetupData.from_json({"secret": "S"})


# --- the HTTP layer -------------------------------------------------------------------------

@pytest.mark.parametrize(("path", "excluded"), [
    ("/login", True), ("/logout", True), ("/refresh", True), ("/register", True), ("/forgot-password", True),
    ("/reset-password", True), ("/verify-email", True), ("/2fa/verify", True), ("/2fa/verify-setup", False),
    ("/magic-link/verify", False), ("/sms/verify", False), ("/me", False), ("/change-password", False),
    ("/account", False), ("https://api.example.com/auth/login", True), ("", False),
])
def test_paths_excluded_from_refresh(path: str, excluded: bool) -> None:
    assert AuthHttpClient.is_excluded_endpoint(path) is excluded


def test_csrf_cookie_order_and_origin() -> None:
    assert parse_csrf_from_cookies("csrf-token=c; __Secure-csrf-token=s") == "s"
    assert parse_csrf_from_cookies("a=1; csrf-token=c; __Host-csrf-token=h") == "h"
    assert parse_csrf_from_cookies("csrf-token=") == ""  # Dart's `??` keeps an empty string
    assert parse_csrf_from_cookies("other=1") is None
    assert is_same_origin("/auth/me", "/auth", "https://app.example.com")
    assert is_same_origin("https://app.example.com/auth/me", "/auth", "https://app.example.com")
    assert not is_same_origin("https://evil.example/x", "/auth", "https://app.example.com")
    assert not is_same_origin("https://app.example.com:8443/auth", "https://app.example.com/auth", "")


def test_the_web_client_sends_the_csrf_token_only_to_its_origin() -> None:
    class Browser(Scripted):
        def document_cookie(self) -> str:
            return "csrf-token=abc"

    transport = Browser({})
    client = create_web_client(transport, QUIET, window_origin="https://app.example.com")
    client.http_client.api_get("/me")
    client.http_client.send(Request("GET", "https://other.example/api"))
    assert [e.headers.get("X-CSRF-Token") for e in transport.log] == ["abc", None]
    assert "X-Auth-Strategy" not in transport.log[0].headers


def test_tokens_are_captured_from_any_answer_and_only_as_strings() -> None:
    transport = Scripted({
        ("POST", "/auth/a"): answer(200, {"accessToken": "A", "refreshToken": "R"}),
        ("POST", "/auth/b"): answer(400, {"accessToken": "A2"}),
        ("POST", "/auth/c"): answer(200, {"accessToken": "A3", "refreshToken": 5}),
    })
    client = create_native_client(transport, QUIET)
    client.http_client.api_post("/a")
    assert (client.storage.access_token, client.http_client.refresh_token) == ("A", "R")
    client.http_client.api_post("/b")
    assert client.storage.access_token == "A2"  # even from an error answer
    client.http_client.api_post("/c")
    assert (client.storage.access_token, client.http_client.refresh_token) == ("A2", "R")  # the cast threw
    assert client.storage.refresh_token is None  # the package never writes it to storage


def test_a_failed_retry_path_calls_the_logout_handler_once() -> None:
    transport = Scripted({("GET", "/auth/me"): answer(401, {"code": "INVALID_ACCESS_TOKEN"}),
                          ("POST", "/auth/refresh"): answer(401, {"code": "NO_REFRESH_TOKEN"})})
    client = create_native_client(transport)
    assert [e.url for e in transport.log] == ["/auth/me", "/auth/refresh"]
    assert client.event_types() == [AuthEventType.LOGGED_OUT, AuthEventType.INITIALIZED]


def test_concurrent_unauthorized_calls_share_one_refresh() -> None:
    """Two calls meet a 401 together: one refresh, both retried with its token."""
    both_failed = threading.Barrier(2)
    refreshing = threading.Event()

    def me(headers: dict[str, str], body: str | None) -> Response:
        if headers.get("Authorization") == "Bearer fresh":
            return answer(200, ME)
        both_failed.wait(timeout=10)
        return answer(401, {"code": "INVALID_ACCESS_TOKEN"})

    def refresh(headers: dict[str, str], body: str | None) -> Response:
        refreshing.set()
        time.sleep(0.5)  # the other caller reaches the shared refresh meanwhile
        return answer(200, {"accessToken": "fresh", "refreshToken": "R2"})

    transport = Scripted({("GET", "/auth/me"): me, ("POST", "/auth/refresh"): refresh})
    client = create_native_client(transport, QUIET)
    client.storage.write_access_token("stale")
    client.http_client.refresh_token = "R1"
    statuses: list[int] = []
    threads = [threading.Thread(target=lambda: statuses.append(client.http_client.api_get("/me").status_code))
               for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert refreshing.is_set() and statuses == [200, 200]
    assert len(transport.calls("POST", "/auth/refresh")) == 1
    assert transport.calls("POST", "/auth/refresh")[0].body == '{"refreshToken":"R1"}'


# --- the method list ------------------------------------------------------------------------

#: The package's 40 client methods (``AuthClient`` plus ``BaseAuthClient.doRefresh``) and the
#: port's names for them.
PACKAGE_METHODS = {
    "checkSession": "check_session", "getActiveSessions": "get_active_sessions", "revokeSession": "revoke_session",
    "cleanupSessions": "cleanup_sessions", "login": "login", "register": "register", "logout": "logout",
    "doRefresh": "do_refresh", "updateProfile": "update_profile", "forgotPassword": "forgot_password",
    "resetPassword": "reset_password", "changePassword": "change_password", "setPassword": "set_password",
    "sendMagicLink": "send_magic_link", "verifyMagicLink": "verify_magic_link",
    "send2faMagicLink": "send_2fa_magic_link", "sendSmsLogin": "send_sms_login", "verifySmsLogin": "verify_sms_login",
    "send2faSms": "send_2fa_sms", "validateSms": "validate_sms", "addPhone": "add_phone", "setup2fa": "setup_2fa",
    "verify2faSetup": "verify_2fa_setup", "validate2fa": "validate_2fa", "disable2fa": "disable_2fa",
    "resendVerificationEmail": "resend_verification_email", "verifyEmail": "verify_email",
    "requestEmailChange": "request_email_change", "confirmEmailChange": "confirm_email_change",
    "requestLinkingEmail": "request_linking_email", "verifyLinkingToken": "verify_linking_token",
    "requestConflictLinkingEmail": "request_conflict_linking_email",
    "verifyConflictLinkingToken": "verify_conflict_linking_token", "getLinkedAccounts": "get_linked_accounts",
    "unlinkAccount": "unlink_account", "deleteAccount": "delete_account", "loadUiConfig": "load_ui_config",
    "getOAuthUrl": "get_oauth_url", "handleOAuthCallback": "handle_oauth_callback",
    "getToolsStream": "get_tools_stream",
}


def test_the_port_has_every_method_and_the_replay_a_test_for_each() -> None:
    from tests import test_node_auth_flutter_client as replay
    from tests.flutter_port import NativeAuthClient, WebAuthClient

    assert len(PACKAGE_METHODS) == 40
    for name in PACKAGE_METHODS.values():
        assert callable(getattr(NativeAuthClient, name)) and callable(getattr(WebAuthClient, name)), name
    tests = [t for t in dir(replay) if t.startswith("test_")]
    untested = [n for n in PACKAGE_METHODS.values() if not any(t == f"test_{n}" or t.startswith(f"test_{n}_")
                                                               for t in tests)]
    assert untested == []
