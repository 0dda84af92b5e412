"""The caller's own account: ``GET sessions``, ``DELETE sessions/<handle>``, ``POST change-password``
and ``DELETE account``, each under both deliveries.

Catalogue group H: SES-03 (a password change needs the current password; afterwards the other
families are revoked and their access tokens refused at once, in both revocation modes; the
caller's session is kept, or revoked too by setting), SES-01 (revoking one's own session from
the device list ends it at once; the current one also clears its cookies), SES-06 (a deleted
account's tokens get 401, its rows are gone). Also CSRF on the cookie-credentialed ``DELETE``
and ``POST`` (group D), the ``account_user`` limit on wrong proofs (BF), scoping to the caller
(another user's handle is a 404, never a 403) and the SQL budget of ``GET sessions``.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from django.apps import apps
from django.contrib.auth import get_user_model, user_logged_in
from django.utils import timezone
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice

from django_dualauth.delivery import access_cookie_name, refresh_cookie_name
from django_dualauth.exceptions import ReauthenticationFailed
from django_dualauth.models import AccountState, AuthSession, LoginChallenge, RecoveryCode, SMSDevice
from django_dualauth.models.sessions import RevocationReason
from django_dualauth.services import accounts, proofs, revoke_session
from django_dualauth.signals import account_deleted
from tests.conftest import EMAIL, PASSWORD, AuthClient, capture

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "a brand new passphrase 42"
BOB = "bob@example.com"


# --- helpers ------------------------------------------------------------------------------------

def assert_error(response: Any, status: int, code: str) -> None:
    assert response.status_code == status, response.content
    assert response.json()["code"] == code, response.json()
    assert response["Cache-Control"] == "no-store"


def assert_success(response: Any) -> None:
    assert response.status_code == 200, response.content
    assert response.json() == {"success": True}
    assert response["Cache-Control"] == "no-store"


def assert_cookies_cleared(response: Any) -> None:
    for name in (access_cookie_name(), refresh_cookie_name()):
        morsel = response.cookies[name]
        assert morsel.value == "" and morsel["max-age"] == 0


def assert_no_token_cookies_touched(response: Any) -> None:
    assert access_cookie_name() not in response.cookies
    assert refresh_cookie_name() not in response.cookies


def delete(ac: AuthClient, path: str, data: Any = None, **extra: Any) -> Any:
    return ac.client.delete(path, data, format="json", **{**ac.headers(), **extra})


def sessions_of(ac: AuthClient) -> list[dict[str, Any]]:
    response = ac.get("/auth/sessions")
    assert response.status_code == 200, response.content
    return response.json()["sessions"]  # type: ignore[no-any-return]


def current_handle(ac: AuthClient) -> str:
    [current] = [s for s in sessions_of(ac) if s["current"]]
    return current["sessionHandle"]  # type: ignore[no-any-return]


def logged_in_client(factory: Any, delivery: str, email: str = EMAIL, password: str = PASSWORD) -> AuthClient:
    ac = factory(delivery)
    assert ac.login(email=email, password=password).status_code == 200
    return ac


def is_refused(ac: AuthClient) -> bool:
    """The client's access token is refused now, and its refresh token too."""
    return ac.get("/api/whoami").status_code == 401 and ac.refresh().status_code == 401


def code_for(device: TOTPDevice) -> str:
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits)
    totp.time = time.time()
    return f"{totp.token():0{device.digits}d}"


@pytest.fixture
def logged_in(auth_client: AuthClient, user: Any) -> AuthClient:
    response = auth_client.login()
    assert response.status_code == 200, response.content
    return auth_client


@pytest.fixture
def deleted_events() -> Iterator[list[dict[str, Any]]]:
    yield from capture(account_deleted)


@pytest.fixture(autouse=True)
def _no_throttle_delay(settings: Any) -> None:
    settings.OTP_TOTP_THROTTLE_FACTOR = 0


# --- GET sessions ---------------------------------------------------------------------------------

def test_lists_the_callers_active_sessions_only(logged_in, client_factory, user, user_factory):
    other_device = logged_in_client(client_factory, "bearer", password=PASSWORD)
    logged_in_client(client_factory, "cookie")
    revoke_session(_last_session(user), reason=RevocationReason.LOGOUT)
    logged_in_client(client_factory, "bearer")
    AuthSession.objects.filter(pk=_last_session(user).pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    user_factory(email=BOB)
    logged_in_client(client_factory, "cookie", email=BOB)

    listed = sessions_of(logged_in)
    active = AuthSession.objects.active().filter(user=user)
    assert {s["sessionHandle"] for s in listed} == {str(s.pk) for s in active}
    assert len(listed) == 2  # this client and ``other_device``; not the revoked, expired or Bob's
    [mine] = [s for s in listed if s["current"]]
    [theirs] = [s for s in listed if not s["current"]]
    assert mine["deliveryMode"] == logged_in.delivery and theirs["deliveryMode"] == "bearer"
    row = AuthSession.objects.get(pk=mine["sessionHandle"])
    assert set(mine) == {"sessionHandle", "handle", "createdAt", "lastActiveAt", "expiresAt", "ipAddress",
                         "userAgent", "deliveryMode", "current", "isCurrent"}
    # node-auth's Flutter package reads ``handle`` and ``isCurrent``: the same values.
    assert all(s["handle"] == s["sessionHandle"] and s["isCurrent"] is s["current"] for s in listed)
    assert datetime.fromisoformat(mine["createdAt"].replace("Z", "+00:00")) == row.created_at
    assert datetime.fromisoformat(mine["lastActiveAt"].replace("Z", "+00:00")) == row.last_used_at
    assert datetime.fromisoformat(mine["expiresAt"].replace("Z", "+00:00")) == row.expires_at
    assert mine["ipAddress"] == "127.0.0.1" and mine["userAgent"] == row.user_agent
    # From the other device, the flags swap.
    assert current_handle(other_device) == theirs["sessionHandle"]
    # No token, digest or other secret is listed.
    text = str(listed)
    for secret in (logged_in.refresh_token, other_device.refresh_token, row.refresh_digest):
        assert secret and secret not in text


def _last_session(user: Any) -> AuthSession:
    return AuthSession.objects.filter(user=user).order_by("-created_at").first()  # type: ignore[return-value]


@pytest.mark.parametrize("mode, queries", [("database", 2), ("cache", 1)])
def test_listing_costs_one_query_beyond_authentication(logged_in, client_factory, settings,
                                                       django_assert_num_queries, mode, queries):
    settings.DUALAUTH_REVOCATION_CHECK = mode
    for delivery in ("cookie", "bearer", "bearer"):
        logged_in_client(client_factory, delivery)
    with django_assert_num_queries(queries):  # the same with 4 sessions: no query per session
        response = logged_in.get("/auth/sessions")
    assert len(response.json()["sessions"]) == 4


def test_listing_needs_an_access_token(auth_client, user):
    assert_error(auth_client.get("/auth/sessions"), 401, "NOT_AUTHENTICATED")


def test_listing_refuses_other_methods(logged_in):
    assert_error(logged_in.post("/auth/sessions"), 405, "METHOD_NOT_ALLOWED")
    assert_error(delete(logged_in, "/auth/sessions"), 405, "METHOD_NOT_ALLOWED")


# --- DELETE sessions/<handle> ---------------------------------------------------------------------

def test_revoking_another_own_session_ends_it_and_keeps_this_one(logged_in, client_factory, revocation_check,
                                                                 revoked_events):
    other = logged_in_client(client_factory, "bearer")
    handle = current_handle(other)

    response = delete(logged_in, f"/auth/sessions/{handle}")
    assert_success(response)
    assert_no_token_cookies_touched(response)  # not the caller's session: its cookies stay
    assert is_refused(other)
    assert AuthSession.objects.get(pk=handle).revoked_reason == RevocationReason.LOGOUT
    assert [str(e["session"].pk) for e in revoked_events] == [handle]
    assert logged_in.get("/api/whoami").status_code == 200
    assert [s["sessionHandle"] for s in sessions_of(logged_in)] == [current_handle(logged_in)]


def test_revoking_the_current_session_logs_out_and_clears_cookies(logged_in, revocation_check):
    handle = current_handle(logged_in)
    access = logged_in.access_token
    response = delete(logged_in, f"/auth/sessions/{handle}")
    assert_success(response)
    if logged_in.is_cookie:
        assert_cookies_cleared(response)
        logged_in.client.cookies[access_cookie_name()] = access  # a copy kept by the client
    else:
        assert_no_token_cookies_touched(response)
    assert_error(logged_in.me(), 401, "SESSION_REVOKED")


def test_another_users_handle_is_not_found_and_untouched(logged_in, client_factory, user_factory):
    user_factory(email=BOB)
    bob = logged_in_client(client_factory, "bearer", email=BOB)
    handle = current_handle(bob)

    response = delete(logged_in, f"/auth/sessions/{handle}")
    assert_error(response, 404, "NOT_FOUND")
    # The same answer as a handle that never existed: nothing tells the sessions of others apart.
    unknown = delete(logged_in, f"/auth/sessions/{uuid.uuid4()}")
    assert response.json() == unknown.json() == {"error": "Not found", "code": "NOT_FOUND"}
    assert AuthSession.objects.get(pk=handle).revoked_at is None
    assert bob.get("/api/whoami").status_code == 200


@pytest.mark.parametrize("handle", [
    "not-a-uuid", "0", "1", "null", "%00", "%27%20OR%201=1--", "x" * 5000,
    "{00000000-0000-0000-0000-000000000000}",
])
def test_garbage_handles_are_not_found(logged_in, handle):
    assert_error(delete(logged_in, f"/auth/sessions/{handle}"), 404, "NOT_FOUND")
    assert logged_in.get("/api/whoami").status_code == 200


def test_non_canonical_forms_of_a_real_handle_are_not_found(logged_in, client_factory):
    other = logged_in_client(client_factory, "bearer")
    handle = uuid.UUID(current_handle(other))
    for variant in (handle.hex, f"urn:uuid:{handle}", f"{{{handle}}}"):
        assert_error(delete(logged_in, f"/auth/sessions/{variant}"), 404, "NOT_FOUND")
    assert other.get("/api/whoami").status_code == 200
    assert_success(delete(logged_in, f"/auth/sessions/{str(handle).upper()}"))  # case does not matter


def test_an_already_revoked_or_expired_session_is_not_found(logged_in, client_factory):
    other = logged_in_client(client_factory, "bearer")
    handle = current_handle(other)
    assert_success(delete(logged_in, f"/auth/sessions/{handle}"))
    assert_error(delete(logged_in, f"/auth/sessions/{handle}"), 404, "NOT_FOUND")

    third = logged_in_client(client_factory, "bearer")
    expired = current_handle(third)
    AuthSession.objects.filter(pk=expired).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert_error(delete(logged_in, f"/auth/sessions/{expired}"), 404, "NOT_FOUND")


def test_revoking_needs_an_access_token(auth_client, user, client_factory):
    other = logged_in_client(client_factory, "bearer")
    handle = current_handle(other)
    assert_error(delete(auth_client, f"/auth/sessions/{handle}"), 401, "NOT_AUTHENTICATED")
    assert AuthSession.objects.get(pk=handle).revoked_at is None


@pytest.mark.parametrize("forgery", ["no csrf token", "wrong csrf token", "foreign origin", "no origin",
                                     "cross-site fetch"])
def test_cookie_delete_is_csrf_checked(client_factory, user, forgery):
    ac = logged_in_client(client_factory, "cookie")
    other = logged_in_client(client_factory, "bearer")
    handle = current_handle(other)
    headers = ac.headers()
    if forgery == "no csrf token":
        del headers["HTTP_X_CSRF_TOKEN"]
    elif forgery == "wrong csrf token":
        headers["HTTP_X_CSRF_TOKEN"] = "x" * 32
    elif forgery == "foreign origin":
        headers["HTTP_ORIGIN"] = "https://evil.example"
    elif forgery == "no origin":
        del headers["HTTP_ORIGIN"]
    else:
        headers["HTTP_SEC_FETCH_SITE"] = "cross-site"
    response = ac.client.delete(f"/auth/sessions/{handle}", **headers)
    assert_error(response, 403, "CSRF_INVALID")
    assert AuthSession.objects.get(pk=handle).revoked_at is None
    assert other.get("/api/whoami").status_code == 200


# --- POST change-password: SES-03 -------------------------------------------------------------------

def change(ac: AuthClient, current: Any = PASSWORD, new: Any = NEW_PASSWORD, **extra: Any) -> Any:
    return ac.post("/auth/change-password", {"currentPassword": current, "newPassword": new}, **extra)


def test_change_password_revokes_the_other_sessions_and_keeps_this_one(logged_in, client_factory, user,
                                                                        user_factory, revocation_check,
                                                                        revoked_events):
    others = [logged_in_client(client_factory, d) for d in ("cookie", "bearer")]
    user_factory(email=BOB)
    bob = logged_in_client(client_factory, "bearer", email=BOB)
    logins: list[Any] = []
    user_logged_in.connect(lambda sender, **kw: logins.append(kw), weak=False, dispatch_uid="t_acc_login")
    try:
        response = change(logged_in)
    finally:
        user_logged_in.disconnect(dispatch_uid="t_acc_login")
    assert_success(response)
    assert_no_token_cookies_touched(response)
    assert logins == []

    # The other families are dead at once: access token and refresh token (stateful check).
    for other in others:
        assert other.get("/api/whoami").status_code == 401
        assert_error(other.refresh(), 401, "SESSION_REVOKED")
    assert {e["reason"] for e in revoked_events} == {RevocationReason.PASSWORD_CHANGED}
    assert len(revoked_events) == 2
    # This session goes on, and can refresh.
    assert logged_in.get("/api/whoami").status_code == 200
    assert logged_in.refresh().status_code == 200
    assert bob.get("/api/whoami").status_code == 200  # other users are unaffected
    # The new password works; the old one no longer does.
    user.refresh_from_db()
    assert user.check_password(NEW_PASSWORD) and not user.check_password(PASSWORD)
    assert client_factory("bearer").login(password=PASSWORD).status_code == 401
    assert client_factory("bearer").login(password=NEW_PASSWORD).status_code == 200


def test_change_password_can_revoke_the_current_session_too(logged_in, client_factory, settings, user):
    settings.DUALAUTH_PASSWORD_CHANGE_KEEPS_CURRENT_SESSION = False
    other = logged_in_client(client_factory, "bearer")
    access = logged_in.access_token
    response = change(logged_in)
    assert_success(response)
    if logged_in.is_cookie:
        assert_cookies_cleared(response)
        logged_in.client.cookies[access_cookie_name()] = access
    assert_error(logged_in.me(), 401, "SESSION_REVOKED")
    assert is_refused(other)
    assert not AuthSession.objects.active().filter(user=user).exists()
    assert set(AuthSession.objects.filter(user=user).values_list("revoked_reason", flat=True)) == {
        RevocationReason.PASSWORD_CHANGED}


def test_wrong_current_password_changes_nothing(logged_in, client_factory, user):
    other = logged_in_client(client_factory, "bearer")
    response = change(logged_in, current="not my password")
    assert_error(response, 403, "REAUTHENTICATION_FAILED")
    user.refresh_from_db()
    assert user.check_password(PASSWORD)
    assert other.get("/api/whoami").status_code == 200
    assert logged_in.get("/api/whoami").status_code == 200  # 403, not 401: no refresh loop, no logout


def test_wrong_current_passwords_are_rate_limited_per_user(logged_in, client_factory, user, user_factory,
                                                           settings):
    settings.DUALAUTH_RATE_LIMITS = {"account_user": "3/10m"}
    for _ in range(3):
        assert_error(change(logged_in, current="guess"), 403, "REAUTHENTICATION_FAILED")
    response = change(logged_in)  # even the right password, once the limit is reached
    assert_error(response, 429, "RATE_LIMITED")
    assert int(response["Retry-After"]) > 0
    user.refresh_from_db()
    assert user.check_password(PASSWORD)
    # From another session of the same user: the limit is per user, not per client.
    assert_error(change(logged_in_client(client_factory, "bearer")), 429, "RATE_LIMITED")
    # Another user is not affected.
    user_factory(email=BOB)
    bob = logged_in_client(client_factory, logged_in.delivery, email=BOB)
    assert_success(change(bob))


def test_successful_changes_do_not_count_toward_the_limit(logged_in, settings, user):
    settings.DUALAUTH_RATE_LIMITS = {"account_user": "2/10m"}
    assert_success(change(logged_in))
    assert_success(change(logged_in, current=NEW_PASSWORD, new=PASSWORD + " again"))
    assert_success(change(logged_in, current=PASSWORD + " again", new=NEW_PASSWORD))


@pytest.mark.parametrize("body, field", [
    ({}, "currentPassword"),
    ({"newPassword": NEW_PASSWORD}, "currentPassword"),  # SES-03: no change without the current password
    ({"currentPassword": PASSWORD}, "newPassword"),
    ({"currentPassword": None, "newPassword": NEW_PASSWORD}, "currentPassword"),
    ({"currentPassword": 12345678, "newPassword": NEW_PASSWORD}, "currentPassword"),
    ({"currentPassword": [PASSWORD], "newPassword": NEW_PASSWORD}, "currentPassword"),
    ({"currentPassword": PASSWORD, "newPassword": True}, "newPassword"),
    ({"currentPassword": PASSWORD, "newPassword": {"a": 1}}, "newPassword"),
    ({"currentPassword": PASSWORD, "newPassword": ""}, "newPassword"),
    ({"currentPassword": PASSWORD, "newPassword": "x" * 5000}, "newPassword"),
    ({"currentPassword": PASSWORD, "newPassword": "short"}, "newPassword"),  # MinimumLengthValidator
    ({"currentPassword": PASSWORD, "newPassword": "password123"}, "newPassword"),  # CommonPasswordValidator
])
def test_bad_input_is_a_validation_error_and_changes_nothing(logged_in, client_factory, user, body, field):
    other = logged_in_client(client_factory, "bearer")
    response = logged_in.post("/auth/change-password", body)
    assert_error(response, 400, "VALIDATION_ERROR")
    assert field in response.json()["fields"]
    user.refresh_from_db()
    assert user.check_password(PASSWORD)
    assert other.get("/api/whoami").status_code == 200


def test_change_password_needs_an_access_token(auth_client, user):
    assert_error(change(auth_client), 401, "NOT_AUTHENTICATED")
    user.refresh_from_db()
    assert user.check_password(PASSWORD)


def test_cookie_change_password_is_csrf_checked(client_factory, user):
    ac = logged_in_client(client_factory, "cookie")
    response = ac.client.post("/auth/change-password", {"currentPassword": PASSWORD, "newPassword": NEW_PASSWORD},
                              format="json", HTTP_ORIGIN="https://app.example.com")
    assert_error(response, 403, "CSRF_INVALID")
    user.refresh_from_db()
    assert user.check_password(PASSWORD)


def test_change_password_is_all_or_nothing(user, client_factory, monkeypatch):
    other = logged_in_client(client_factory, "bearer")

    def broken(*args: Any, **kwargs: Any) -> int:
        AuthSession.objects.filter(user=user).update(revoked_at=timezone.now())
        raise RuntimeError("revocation failed")

    monkeypatch.setattr(accounts, "revoke_all_sessions", broken)
    with pytest.raises(RuntimeError), proofs.without_budget():
        accounts.change_password(user, PASSWORD, NEW_PASSWORD)
    user.refresh_from_db()
    assert user.check_password(PASSWORD)  # the new hash was rolled back with the revocation
    assert other.get("/api/whoami").status_code == 200


def test_change_password_event_is_logged_without_secrets(logged_in, caplog):
    caplog.set_level(logging.INFO, logger="django_dualauth.audit")
    assert_success(change(logged_in))
    [record] = [r for r in caplog.records if getattr(r, "event", None) == "auth.password.changed"]
    assert PASSWORD not in record.getMessage() and NEW_PASSWORD not in record.getMessage()


# --- DELETE account ------------------------------------------------------------------------------------

def remove(ac: AuthClient, data: Any = None, **extra: Any) -> Any:
    return delete(ac, "/auth/account", {"password": PASSWORD} if data is None else data, **extra)


def _give_everything(user: Any) -> None:
    """One row of every kind the package keeps for a user."""
    now = timezone.now()
    AccountState.objects.update_or_create(user=user, defaults={"two_factor_enabled": True})
    TOTPDevice.objects.create(user=user, name="dualauth", confirmed=True)
    RecoveryCode.objects.create(user=user, digest="d" * 64, created_at=now)
    LoginChallenge.objects.create(user=user, purpose="login", token_digest="c" * 64, delivery="bearer",
                                  created_at=now, expires_at=now + timedelta(minutes=5))
    SMSDevice.objects.create(user=user, name="phone", number="+14155550123", confirmed=True)


def _rows_left(user_id: Any) -> dict[str, int]:
    left = {}
    for model in apps.get_app_config("dualauth").get_models():
        field_names = {f.name for f in model._meta.get_fields()}
        if "user" in field_names:
            left[model.__name__] = model._default_manager.filter(user_id=user_id).count()
    left["TOTPDevice"] = TOTPDevice.objects.filter(user_id=user_id).count()
    return {k: v for k, v in left.items() if v}


def test_delete_account_removes_everything_and_ends_every_session(logged_in, client_factory, user, user_factory,
                                                                  revocation_check, revoked_events,
                                                                  deleted_events, caplog):
    caplog.set_level(logging.INFO, logger="django_dualauth.audit")
    others = [logged_in_client(client_factory, d) for d in ("cookie", "bearer")]
    user_factory(email=BOB)
    bob = logged_in_client(client_factory, "bearer", email=BOB)
    _give_everything(user)
    user_id = user.pk
    assert _rows_left(user_id)

    response = remove(logged_in)
    assert_success(response)
    if logged_in.is_cookie:
        assert_cookies_cleared(response)
    assert not get_user_model().objects.filter(pk=user_id).exists()
    assert _rows_left(user_id) == {}
    assert not AuthSession.objects.filter(user_id=user_id).exists()
    # Every session was revoked through the service first (signals and cache markers) ...
    assert len(revoked_events) == 3
    assert {e["reason"] for e in revoked_events} == {"account_deleted"}
    # ... so every token of the account is refused at once, in both revocation modes (SES-06).
    for ac in (logged_in, *others):
        assert ac.get("/api/whoami").status_code == 401
        assert ac.refresh().status_code == 401
    assert client_factory("bearer").login().status_code == 401
    assert bob.get("/api/whoami").status_code == 200
    assert deleted_events == [{"signal": account_deleted, "user_id": user_id, "email": EMAIL, "deleted_by": None}]
    [record] = [r for r in caplog.records if getattr(r, "event", None) == "auth.account.deleted"]
    assert record.fields["user"] == str(user_id) and EMAIL not in record.getMessage()


def test_wrong_password_deletes_nothing(logged_in, user, deleted_events):
    response = remove(logged_in, {"password": "not my password"})
    assert_error(response, 403, "REAUTHENTICATION_FAILED")
    assert get_user_model().objects.filter(pk=user.pk).exists()
    assert logged_in.get("/api/whoami").status_code == 200
    assert deleted_events == []


def test_wrong_passwords_are_rate_limited_per_user(logged_in, user, settings):
    settings.DUALAUTH_RATE_LIMITS = {"account_user": "2/10m"}
    for _ in range(2):
        assert_error(remove(logged_in, {"password": "guess"}), 403, "REAUTHENTICATION_FAILED")
    response = remove(logged_in)
    assert_error(response, 429, "RATE_LIMITED")
    assert int(response["Retry-After"]) > 0
    assert get_user_model().objects.filter(pk=user.pk).exists()


def test_wrong_passwords_on_change_and_delete_share_the_limit(logged_in, user, settings):
    settings.DUALAUTH_RATE_LIMITS = {"account_user": "2/10m"}
    assert_error(change(logged_in, current="guess"), 403, "REAUTHENTICATION_FAILED")
    assert_error(remove(logged_in, {"password": "guess"}), 403, "REAUTHENTICATION_FAILED")
    assert_error(remove(logged_in), 429, "RATE_LIMITED")


def test_a_user_without_a_password_proves_it_with_a_totp_code(logged_in, user, deleted_events):
    device = TOTPDevice.objects.create(user=user, name="dualauth", confirmed=True)
    user.set_unusable_password()
    user.save()

    assert_error(remove(logged_in, {"password": PASSWORD}), 403, "REAUTHENTICATION_FAILED")
    assert_error(remove(logged_in, {"totpCode": "000000" if code_for(device) != "000000" else "111111"}),
                 403, "REAUTHENTICATION_FAILED")
    assert_error(remove(logged_in, {"totpCode": "not a code"}), 403, "REAUTHENTICATION_FAILED")
    response = remove(logged_in, {"totpCode": code_for(device)})
    assert_success(response)
    if logged_in.is_cookie:
        assert_cookies_cleared(response)
    assert not get_user_model().objects.filter(pk=user.pk).exists()
    assert len(deleted_events) == 1


def test_a_totp_code_is_accepted_once(user):
    device = TOTPDevice.objects.create(user=user, name="dualauth", confirmed=True)
    user.set_unusable_password()
    user.save()
    code = code_for(device)
    with proofs.without_budget():
        accounts.twofactor.verify_reauthentication_code(user, code)
        with pytest.raises(ReauthenticationFailed):
            accounts.delete_account(user, totp_code=code)  # replayed
    assert get_user_model().objects.filter(pk=user.pk).exists()


def test_a_password_user_cannot_use_a_totp_code_instead(logged_in, user):
    device = TOTPDevice.objects.create(user=user, name="dualauth", confirmed=True)
    assert_error(remove(logged_in, {"totpCode": code_for(device)}), 403, "REAUTHENTICATION_FAILED")
    assert get_user_model().objects.filter(pk=user.pk).exists()


def test_a_user_without_password_or_device_cannot_delete(logged_in, user):
    user.set_unusable_password()
    user.save()
    assert_error(remove(logged_in, {"totpCode": "123456"}), 403, "REAUTHENTICATION_FAILED")
    assert get_user_model().objects.filter(pk=user.pk).exists()


@pytest.mark.parametrize("body", [
    {"password": None}, {"password": 12345678}, {"password": [PASSWORD]}, {"password": ""},
    {"password": "x" * 5000}, {"totpCode": 123456}, {"totpCode": "1" * 17},
    {"password": PASSWORD, "totpCode": "123456"},
])
def test_bad_input_is_a_validation_error_and_deletes_nothing(logged_in, user, body):
    assert_error(remove(logged_in, body), 400, "VALIDATION_ERROR")
    assert get_user_model().objects.filter(pk=user.pk).exists()
    assert logged_in.get("/api/whoami").status_code == 200


def test_a_non_json_body_is_refused(logged_in, user):
    response = logged_in.client.delete("/auth/account", "password=x", content_type="application/x-www-form-urlencoded",
                                       **logged_in.headers())
    assert_error(response, 415, "UNSUPPORTED_MEDIA_TYPE")
    assert get_user_model().objects.filter(pk=user.pk).exists()


def test_delete_account_needs_an_access_token(auth_client, user):
    assert_error(remove(auth_client), 401, "NOT_AUTHENTICATED")
    assert get_user_model().objects.filter(pk=user.pk).exists()


@pytest.mark.parametrize("forgery", ["no csrf token", "foreign origin"])
def test_cookie_delete_account_is_csrf_checked(client_factory, user, forgery):
    ac = logged_in_client(client_factory, "cookie")
    headers = ac.headers()
    if forgery == "no csrf token":
        del headers["HTTP_X_CSRF_TOKEN"]
    else:
        headers["HTTP_ORIGIN"] = "https://evil.example"
    response = ac.client.delete("/auth/account", {"password": PASSWORD}, format="json", **headers)
    assert_error(response, 403, "CSRF_INVALID")
    assert get_user_model().objects.filter(pk=user.pk).exists()


def test_delete_account_is_all_or_nothing(user, client_factory, monkeypatch, deleted_events):
    other = logged_in_client(client_factory, "bearer")

    def broken(self: Any, *args: Any, **kwargs: Any) -> None:
        raise RuntimeError("delete failed")

    monkeypatch.setattr(type(user), "delete", broken)
    with pytest.raises(RuntimeError), proofs.without_budget():
        accounts.delete_account(user, password=PASSWORD)
    monkeypatch.undo()
    assert get_user_model().objects.filter(pk=user.pk).exists()
    assert AuthSession.objects.active().filter(user=user).count() == 1  # the revocation was rolled back
    assert other.get("/api/whoami").status_code == 200
    assert deleted_events == []
