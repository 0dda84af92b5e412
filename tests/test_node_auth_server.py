"""What node-auth's official clients need of the server (issue 17): ``PATCH profile`` and the names
``register`` takes, the ``me`` fields its Flutter package reads, ``sessions/cleanup``,
``add-phone``, setting a first password within the fresh sign-in window, and the refusals kept
on purpose, each with its stable code.

Every endpoint test runs under both deliveries. The security tests fail when their protection
goes: a cleanup reaching another user's rows or the evidence rows, a refresh making a session
"fresh", a refusal that is a 401 (the package would refresh and retry in a loop).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.core import checks
from django.utils import timezone

from django_dualauth.checks import check_settings
from django_dualauth.exceptions import ReauthenticationRequired, ValidationFailed
from django_dualauth.gateways import OutboxGateway
from django_dualauth.models import AuthSession, EmailClaim, RotatedRefreshToken, SMSDevice
from django_dualauth.models.sessions import RevocationReason
from django_dualauth.services import fresh_sign_in, profile_names, revoke_session
from django_dualauth.services.profile_names import PROFILE_FIELDS
from django_dualauth.services.session_cleanup import CLEARABLE_REASONS
from django_dualauth.signals import profile_updated
from tests.conftest import EMAIL, PASSWORD, AuthClient, capture
from tests.test_sms import last_code
from tests.test_two_factor import enrol

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "a brand new passphrase 42"
BOB = "bob@example.com"


def assert_error(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.content
    body: dict[str, Any] = response.json()
    assert body["code"] == code and isinstance(body["error"], str), body
    return body


def patch(ac: AuthClient, path: str, data: Any = None, **extra: Any) -> Any:
    return ac.client.patch(path, data, format="json", **{**ac.headers(), **extra})


def delete(ac: AuthClient, path: str, data: Any = None, **extra: Any) -> Any:
    return ac.client.delete(path, data, format="json", **{**ac.headers(), **extra})


def current_session(ac: AuthClient) -> AuthSession:
    [mine] = [s for s in ac.get("/auth/sessions").json()["sessions"] if s["isCurrent"]]
    return AuthSession.objects.get(pk=mine["handle"])


@pytest.fixture
def logged_in(auth_client: AuthClient, user: Any) -> AuthClient:
    assert auth_client.login().status_code == 200
    return auth_client


@pytest.fixture
def profile_events() -> Iterator[list[dict[str, Any]]]:
    yield from capture(profile_updated)


# --- PATCH profile and GET me ----------------------------------------------------------------------

def test_patch_profile_sets_the_names_that_me_then_shows(logged_in: AuthClient, user: Any,
                                                         profile_events: list[dict[str, Any]],
                                                         caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="django_dualauth.audit"):
        r = patch(logged_in, "/auth/profile", {"firstName": "Alice", "lastName": "Liddell"})
    assert (r.status_code, r.json()) == (200, {"success": True})
    me = logged_in.me().json()
    assert (me["firstName"], me["lastName"], me["name"]) == ("Alice", "Liddell", "Alice Liddell")
    assert [e["fields"] for e in profile_events] == [["first_name", "last_name"]]
    assert "auth.profile.updated" in caplog.text and "Liddell" not in caplog.text  # no values logged
    # Each field is optional: one alone leaves the other as it is.
    assert patch(logged_in, "/auth/profile", {"lastName": ""}).status_code == 200
    user.refresh_from_db()
    assert (user.first_name, user.last_name) == ("Alice", "")


@pytest.mark.parametrize("body", [
    {}, {"email": "mallory@example.com"}, {"firstName": None}, {"firstName": 42}, {"lastName": ["x"]},
    {"firstName": "x" * 151}, {"lastName": "y" * 2000}, {"firstName": "nul\x00byte"},
])
def test_bad_profile_input_is_a_400_and_changes_nothing(logged_in: AuthClient, user: Any, body: dict[str, Any],
                                                        profile_events: list[dict[str, Any]]) -> None:
    before = (user.first_name, user.last_name, user.email)
    body_out = assert_error(patch(logged_in, "/auth/profile", body), 400, "VALIDATION_ERROR")
    assert body_out["fields"]
    user.refresh_from_db()
    assert (user.first_name, user.last_name, user.email) == before and not profile_events


# --- the names register takes ---------------------------------------------------------------------

def register(ac: AuthClient, **names: Any) -> Any:
    return ac.post("/auth/register", {"email": BOB, "password": NEW_PASSWORD, **names})


def test_register_stores_the_names_the_package_sends(auth_client: AuthClient,
                                                     profile_events: list[dict[str, Any]]) -> None:
    """node-auth's ``register(email, password, firstName, lastName)``: the names are kept, as
    ``PATCH profile`` would keep them (no profile_updated: nothing was updated)."""
    r = register(auth_client, firstName="Bob", lastName="Builder")
    assert r.status_code == 201, r.content
    bob = get_user_model().objects.get(email=BOB)
    assert (bob.first_name, bob.last_name) == ("Bob", "Builder") and not profile_events
    assert auth_client.login(email=BOB, password=NEW_PASSWORD).status_code == 200
    assert auth_client.me().json()["name"] == "Bob Builder"
    # Both are optional, as before: an ordinary {email, password} registration.
    r = auth_client.post("/auth/register", {"email": "carol@example.com", "password": NEW_PASSWORD})
    assert r.status_code == 201 and get_user_model().objects.get(email="carol@example.com").first_name == ""


@pytest.mark.parametrize("names", [
    {"firstName": "x" * 151}, {"lastName": "y" * 2000}, {"firstName": 42}, {"lastName": None},
    {"firstName": "Bob", "lastName": ["Builder"]},
])
def test_register_with_a_bad_name_is_a_400_and_writes_nothing(auth_client: AuthClient, names: dict[str, Any]) -> None:
    body = assert_error(register(auth_client, **names), 400, "VALIDATION_ERROR")
    assert set(body["fields"]) <= set(PROFILE_FIELDS) and body["fields"]
    assert not get_user_model().objects.filter(email=BOB).exists() and not EmailClaim.objects.exists()


def test_register_compares_the_password_with_the_names(auth_client: AuthClient, settings: Any) -> None:
    settings.AUTH_PASSWORD_VALIDATORS = [
        {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"}]
    r = auth_client.post("/auth/register", {"email": BOB, "password": "Archibald!",
                                            "firstName": "Archibald", "lastName": "Haddock"})
    assert "password" in assert_error(r, 400, "VALIDATION_ERROR")["fields"]
    assert not get_user_model().objects.filter(email=BOB).exists()


def test_a_user_model_without_name_fields_skips_them_at_register_only() -> None:
    """A project whose user model has no ``first_name`` still serves the package's register
    (which always sends the names); ``PATCH profile`` names the field it cannot store."""
    no_names = AuthSession  # any model without the two fields
    assert profile_names.names_to_store(no_names, {"firstName": "Bob", "lastName": ""}, skip_missing=True) == {}
    with pytest.raises(ValidationFailed) as refused:
        profile_names.names_to_store(no_names, {"firstName": "Bob"})
    assert set(refused.value.as_dict()["fields"]) == {"firstName"}
    user_model = get_user_model()
    assert profile_names.names_to_store(user_model, {"lastName": "Builder"}, skip_missing=True) == {
        "last_name": "Builder"}


def test_patch_profile_needs_authentication_and_csrf(auth_client: AuthClient, user: Any) -> None:
    assert_error(patch(auth_client, "/auth/profile", {"firstName": "Eve"}), 401, "NOT_AUTHENTICATED")
    browser = type(auth_client)("cookie")
    assert browser.login().status_code == 200
    forged = browser.client.patch("/auth/profile", {"firstName": "Eve"}, format="json",
                                  HTTP_ORIGIN=browser.origin)  # no CSRF token
    assert_error(forged, 403, "CSRF_INVALID")
    user.refresh_from_db()
    assert user.first_name == ""


def test_me_answers_every_field_the_flutter_package_reads_with_its_type(logged_in: AuthClient, user: Any,
                                                                        settings: Any) -> None:
    settings.DUALAUTH_SMS_ENABLED = True
    me = logged_in.me().json()
    for key in ("sub", "email", "id"):
        assert isinstance(me[key], str), key  # AuthUser.fromJson casts `as String`
    assert me["id"] == me["sub"] == str(user.pk)
    for key in ("isEmailVerified", "isTotpEnabled", "hasPassword", "isAdmin"):
        assert isinstance(me[key], bool), key
    for key in ("firstName", "lastName", "name", "role", "loginProvider"):
        assert isinstance(me[key], str), key
    assert me["hasPassword"] is True and me["phoneNumber"] is None
    assert datetime.fromisoformat(me["lastLogin"]) == get_user_model().objects.get(pk=user.pk).last_login
    # The access token's claims do not grow: names and phone stay out of tokens.
    assert me["email"] == EMAIL and me["role"] == "user" and me["loginProvider"] == "local"


def test_me_shows_the_verified_phone_only(logged_in: AuthClient, user: Any, settings: Any) -> None:
    settings.DUALAUTH_SMS_ENABLED = True
    SMSDevice.objects.create(user=user, name="sms", number="+14155550100", confirmed=False)
    assert logged_in.me().json()["phoneNumber"] is None  # a pending number is not the user's yet
    SMSDevice.objects.create(user=user, name="sms", number="+14155550123", confirmed=True)
    assert logged_in.me().json()["phoneNumber"] == "+14155550123"
    user.set_unusable_password()
    user.save()
    assert logged_in.me().json()["hasPassword"] is False


# --- GET sessions names and POST sessions/cleanup ---------------------------------------------------

def _ended(user: Any, reason: str | None = None, *, expired: bool = False) -> AuthSession:
    """A session of ``user`` (a second login) that ended: revoked for ``reason``, or expired."""
    ac = AuthClient("bearer")
    assert ac.login(email=user.email).status_code == 200
    session = AuthSession.objects.filter(user=user).latest("created_at")
    ac.refresh()  # a spent token: its RotatedRefreshToken row goes with the session
    if reason is not None:
        revoke_session(session, reason=reason)
    if expired:
        AuthSession.objects.filter(pk=session.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    return session


def test_cleanup_deletes_the_callers_own_ended_sessions_only(logged_in: AuthClient, user: Any,
                                                             user_factory: Any) -> None:
    gone = [_ended(user, RevocationReason.LOGOUT), _ended(user, RevocationReason.LOGOUT_ALL),
            _ended(user, RevocationReason.SUPERSEDED), _ended(user, expired=True)]
    bob = user_factory(email=BOB)
    bobs = [_ended(bob, RevocationReason.LOGOUT), _ended(bob, expired=True)]
    active_device = AuthClient("bearer")
    assert active_device.login().status_code == 200
    mine = current_session(logged_in)

    r = logged_in.post("/auth/sessions/cleanup")
    assert (r.status_code, r.json()) == (200, {"success": True, "deleted": len(gone)})
    assert not AuthSession.objects.filter(pk__in=[s.pk for s in gone]).exists()
    assert not RotatedRefreshToken.objects.filter(session_id__in=[s.pk for s in gone]).exists()
    assert AuthSession.objects.filter(pk__in=[s.pk for s in bobs]).count() == 2  # never another user's
    assert AuthSession.objects.filter(pk=mine.pk).exists()  # never the current one
    assert logged_in.get("/api/whoami").status_code == 200 and active_device.me().status_code == 200
    assert logged_in.post("/auth/sessions/cleanup").json() == {"success": True, "deleted": 0}


@pytest.mark.parametrize("reason", sorted(set(RevocationReason.values) - CLEARABLE_REASONS))
def test_cleanup_keeps_the_revocations_that_are_evidence(logged_in: AuthClient, user: Any, reason: str) -> None:
    """A thief holding an access token must not wipe the trace of the theft (reuse detection,
    a staff revocation, a password change ...), expired or not: ``dualauth_purge`` removes them."""
    kept = [_ended(user, reason), _ended(user, reason, expired=True)]
    assert logged_in.post("/auth/sessions/cleanup").json() == {"success": True, "deleted": 0}
    assert AuthSession.objects.filter(pk__in=[s.pk for s in kept]).count() == 2


def test_the_clearable_reasons_are_the_owners_own_endings() -> None:
    assert CLEARABLE_REASONS == {RevocationReason.LOGOUT, RevocationReason.LOGOUT_ALL, RevocationReason.SUPERSEDED}


def test_a_real_reuse_detection_survives_cleanup(logged_in: AuthClient, user: Any, settings: Any) -> None:
    settings.DUALAUTH_REFRESH_REUSE_GRACE = timedelta(0)
    victim = AuthClient("bearer")
    assert victim.login().status_code == 200
    stolen = victim.refresh_token
    assert victim.refresh().status_code == 200
    assert victim.present_refresh(stolen).status_code == 401  # reuse: the family is revoked
    family = AuthSession.objects.get(revoked_reason=RevocationReason.REUSE)
    assert logged_in.post("/auth/sessions/cleanup").json()["deleted"] == 0
    assert AuthSession.objects.filter(pk=family.pk).exists()


def test_cleanup_is_not_a_session_handle_and_needs_authentication(auth_client: AuthClient, user: Any) -> None:
    assert_error(auth_client.post("/auth/sessions/cleanup"), 401, "NOT_AUTHENTICATED")
    assert auth_client.login().status_code == 200
    assert_error(delete(auth_client, "/auth/sessions/cleanup"), 405, "METHOD_NOT_ALLOWED")
    assert_error(auth_client.get("/auth/sessions/cleanup"), 405, "METHOD_NOT_ALLOWED")


def test_cleanup_from_a_browser_is_csrf_checked(user: Any) -> None:
    browser = AuthClient("cookie")
    assert browser.login().status_code == 200
    ended = _ended(user, RevocationReason.LOGOUT)
    forged = browser.client.post("/auth/sessions/cleanup", {}, format="json", HTTP_ORIGIN=browser.origin)
    assert_error(forged, 403, "CSRF_INVALID")
    assert AuthSession.objects.filter(pk=ended.pk).exists()


# --- add-phone ---------------------------------------------------------------------------------------

@pytest.fixture
def _sms(settings: Any) -> None:
    settings.DUALAUTH_SMS_ENABLED = True
    settings.DUALAUTH_SMS_THROTTLE_FACTOR = 0
    OutboxGateway.outbox.clear()


@pytest.mark.usefixtures("_sms")
def test_add_phone_starts_verification_as_sms_phone_does(logged_in: AuthClient, user: Any) -> None:
    r = logged_in.post("/auth/add-phone", {"phoneNumber": "+1 415 555 0123"})
    assert (r.status_code, r.json()) == (202, {"success": True})
    assert OutboxGateway.outbox[-1].to == "+14155550123"
    assert logged_in.me().json()["phoneNumber"] is None  # unusable until verified
    assert not SMSDevice.objects.filter(user=user, confirmed=True).exists()
    assert logged_in.post("/auth/sms/phone/verify", {"code": last_code()}).status_code == 200
    assert logged_in.me().json()["phoneNumber"] == "+14155550123"
    # Replacing the verified phone needs the password, as on sms/phone.
    SMSDevice.objects.filter(user=user).update(last_sent_at=None)
    refused = logged_in.post("/auth/add-phone", {"phoneNumber": "+14155550199"})
    assert_error(refused, 403, "REAUTHENTICATION_FAILED")
    assert logged_in.post("/auth/add-phone", {"phoneNumber": "+14155550199", "password": PASSWORD}).status_code == 202


@pytest.mark.usefixtures("_sms")
def test_add_phone_is_limited_per_number(logged_in: AuthClient, settings: Any) -> None:
    settings.DUALAUTH_RATE_LIMITS = {"sms_send_phone": "1/h"}
    settings.DUALAUTH_SMS_RESEND_COOLDOWN = timedelta(0)
    assert logged_in.post("/auth/add-phone", {"phoneNumber": "+14155550123"}).status_code == 202
    assert_error(logged_in.post("/auth/add-phone", {"phoneNumber": "+14155550123"}), 429, "RATE_LIMITED")


@pytest.mark.parametrize("body", [{}, {"phoneNumber": 14155550123}, {"phoneNumber": "not a number"}])
@pytest.mark.usefixtures("_sms")
def test_add_phone_bad_input_is_a_400(logged_in: AuthClient, body: dict[str, Any]) -> None:
    assert_error(logged_in.post("/auth/add-phone", body), 400, "VALIDATION_ERROR")
    assert not OutboxGateway.outbox and not SMSDevice.objects.exists()


def test_add_phone_is_absent_while_sms_is_off(logged_in: AuthClient) -> None:
    assert_error(logged_in.post("/auth/add-phone", {"phoneNumber": "+14155550123"}), 404, "NOT_FOUND")
    assert_error(delete(logged_in, "/auth/add-phone"), 404, "NOT_FOUND")


# --- setting a first password -----------------------------------------------------------------------

def _passwordless(user: Any) -> None:
    """The account signed in without a password (a magic link, an SMS code, later a social login)."""
    get_user_model().objects.filter(pk=user.pk).update(password="!unusable")


def _set_password(ac: AuthClient) -> Any:
    return ac.post("/auth/change-password", {"currentPassword": "", "newPassword": NEW_PASSWORD})


def test_a_passwordless_account_sets_a_password_right_after_signing_in(logged_in: AuthClient, user: Any) -> None:
    other = AuthClient("bearer")
    assert other.login().status_code == 200
    _passwordless(user)
    r = _set_password(logged_in)
    assert (r.status_code, r.json()) == (200, {"success": True})
    user.refresh_from_db()
    assert user.check_password(NEW_PASSWORD)
    assert logged_in.me().status_code == 200 and logged_in.me().json()["hasPassword"] is True
    assert other.get("/api/whoami").status_code == 401  # the other sessions are revoked, as on a change
    # Now the account has a password: "" is no longer accepted.
    body = assert_error(_set_password(logged_in), 403, "REAUTHENTICATION_REQUIRED")
    assert body["accepted"] == ["currentPassword"]


def test_an_account_with_a_password_must_send_it(logged_in: AuthClient, user: Any) -> None:
    body = assert_error(_set_password(logged_in), 403, "REAUTHENTICATION_REQUIRED")
    assert body["accepted"] == ["currentPassword"]
    user.refresh_from_db()
    assert user.check_password(PASSWORD)


def test_after_the_window_a_passwordless_account_must_sign_in_again(logged_in: AuthClient, user: Any,
                                                                    settings: Any) -> None:
    _passwordless(user)
    AuthSession.objects.filter(user=user).update(created_at=timezone.now() - timedelta(minutes=5, seconds=5))
    body = assert_error(_set_password(logged_in), 403, "REAUTHENTICATION_REQUIRED")
    assert body["accepted"] == []  # no body field helps: a new sign-in does
    settings.DUALAUTH_FRESH_SIGN_IN_WINDOW = timedelta(minutes=10)
    assert _set_password(logged_in).status_code == 200


def test_a_refresh_does_not_make_a_session_fresh(logged_in: AuthClient, user: Any) -> None:
    _passwordless(user)
    AuthSession.objects.filter(user=user).update(created_at=timezone.now() - timedelta(minutes=30))
    assert logged_in.refresh().status_code == 200  # rotated just now
    assert current_session(logged_in).last_used_at > timezone.now() - timedelta(seconds=30)
    assert_error(_set_password(logged_in), 403, "REAUTHENTICATION_REQUIRED")
    user.refresh_from_db()
    assert not user.has_usable_password()


def test_a_revoked_session_is_never_fresh(logged_in: AuthClient, user: Any) -> None:
    """Asked of the database, not of the token: in cache mode an access token can outlive its
    session's revocation until the marker is seen, and it must not open the window meanwhile."""
    session = current_session(logged_in)
    fresh_sign_in.require_fresh_sign_in(session.pk, user.pk)  # just signed in: fresh
    AuthSession.objects.filter(pk=session.pk).update(revoked_at=timezone.now())
    with pytest.raises(ReauthenticationRequired):
        fresh_sign_in.require_fresh_sign_in(session.pk, user.pk)


def test_the_first_password_obeys_the_password_rules(logged_in: AuthClient, user: Any) -> None:
    _passwordless(user)
    r = logged_in.post("/auth/change-password", {"currentPassword": "", "newPassword": "short"})
    assert "newPassword" in assert_error(r, 400, "VALIDATION_ERROR")["fields"]
    user.refresh_from_db()
    assert not user.has_usable_password()


def test_a_wrong_password_on_a_passwordless_account_is_still_a_failed_proof(logged_in: AuthClient,
                                                                            user: Any) -> None:
    _passwordless(user)
    r = logged_in.post("/auth/change-password", {"currentPassword": "guess", "newPassword": NEW_PASSWORD})
    assert_error(r, 403, "REAUTHENTICATION_FAILED")


@pytest.mark.parametrize(("window", "expected"), [
    (timedelta(minutes=5), []), (0, []), (timedelta(seconds=-1), ["dualauth.E013"]), ("soon", ["dualauth.E013"]),
    (timedelta(hours=2), ["dualauth.W008"]),
])
def test_the_window_is_checked(settings: Any, window: Any, expected: list[str]) -> None:
    settings.DUALAUTH_FRESH_SIGN_IN_WINDOW = window
    found = [m for m in check_settings() if m.id in ("dualauth.E013", "dualauth.W008")]
    assert [m.id for m in found] == expected
    assert all(isinstance(m, checks.Error) == m.id.startswith("dualauth.E") for m in found)


# --- the refusals kept on purpose ---------------------------------------------------------------------

REFUSALS = [
    pytest.param("delete", "/auth/account", {}, ["password", "totpCode"], id="DELETE account"),
    pytest.param("post", "/auth/2fa/disable", None, ["totpCode", "password"], id="2fa/disable"),
    pytest.param("post", "/auth/change-email/request", {"newEmail": "new@example.com"}, ["password"],
                 id="change-email/request"),
    pytest.param("post", "/auth/change-password", {"currentPassword": "", "newPassword": NEW_PASSWORD},
                 ["currentPassword"], id="change-password"),
]


@pytest.mark.parametrize(("method", "path", "body", "accepted"), REFUSALS)
def test_a_change_without_its_proof_is_a_named_403_not_a_401(logged_in: AuthClient, user: Any, method: str,
                                                             path: str, body: Any, accepted: list[str]) -> None:
    """node-auth lets an access token alone do these; we refuse, naming the proofs accepted."""
    enrol(logged_in, user)
    send = delete if method == "delete" else (lambda ac, p, d: ac.post(p, d))
    r = send(logged_in, path, body)
    assert r.status_code != 401 and "WWW-Authenticate" not in r  # the package would refresh and retry
    assert assert_error(r, 403, "REAUTHENTICATION_REQUIRED")["accepted"] == accepted
    user.refresh_from_db()
    assert user.is_active and user.email == EMAIL and user.check_password(PASSWORD)
    assert logged_in.me().json()["isTotpEnabled"] is True


def test_a_wrong_proof_is_still_reauthentication_failed(logged_in: AuthClient, user: Any) -> None:
    assert_error(delete(logged_in, "/auth/account", {"password": "wrong"}), 403, "REAUTHENTICATION_FAILED")
    r = logged_in.post("/auth/change-email/request", {"newEmail": "new@example.com", "password": "wrong"})
    assert_error(r, 403, "REAUTHENTICATION_FAILED")


@pytest.mark.usefixtures("_sms")
def test_sms_sign_in_by_user_id_names_the_email(auth_client: AuthClient, user: Any) -> None:
    for path, body in (("/auth/sms/verify", {"userId": str(user.pk), "code": "123456", "mode": "login"}),
                       ("/auth/sms/send", {"userId": str(user.pk), "mode": "login"})):
        r = auth_client.post(path, body)
        assert r.status_code != 401
        assert assert_error(r, 400, "EMAIL_REQUIRED")["accepted"] == ["email"]
    assert not OutboxGateway.outbox and not AuthSession.objects.exists()
    # Without userId a missing email is the ordinary validation error.
    assert_error(auth_client.post("/auth/sms/verify", {"code": "123456"}), 400, "VALIDATION_ERROR")
