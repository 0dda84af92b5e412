"""E-mail verification (and its login policy), password reset, e-mail change.

Catalogue ENUM-02 (request endpoints answer the same), SES-03 (a reset revokes every
session), H's account-state cases, ML-03/ML-04-like token hygiene for these tokens
(POST only, single use, expiry, void after the account changes, digests only). Every
endpoint test runs under both deliveries.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from django.core import mail
from django.utils import timezone
from freezegun import freeze_time

from django_dualauth.models import AccountState, AccountToken, AuthSession
from tests.conftest import PASSWORD, AuthClient

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "a fresh and long passphrase"


def token_in(message: Any, page: str) -> str:
    match = re.search(rf"https://app\.example\.com/{page}\?token=([A-Za-z0-9_-]+)", message.body)
    assert match, message.body
    assert match.group(1) in message.alternatives[0][0]
    return match.group(1)


# --- e-mail verification ---------------------------------------------------------------------

def test_verification_flow(auth_client: AuthClient, user: Any) -> None:
    auth_client.login()
    assert auth_client.me().json()["isEmailVerified"] is False
    r = auth_client.post("/auth/send-verification-email")
    assert (r.status_code, r.json()) == (202, {"success": True})
    [message] = mail.outbox
    assert message.to == [user.email]
    token = token_in(message, "verify-email")
    assert not AccountToken.objects.filter(token_digest=token).exists()  # digest only
    assert auth_client.client.get(f"/auth/verify-email?token={token}").status_code == 405  # GET changes nothing
    ok = auth_client.post("/auth/verify-email", {"token": token})
    assert ok.status_code == 200 and ok["Referrer-Policy"] == "no-referrer"
    assert auth_client.me().json()["isEmailVerified"] is True
    again = auth_client.post("/auth/verify-email", {"token": token})
    assert (again.status_code, again.json()["code"]) == (400, "INVALID_TOKEN")
    assert auth_client.post("/auth/send-verification-email").status_code == 202
    assert len(mail.outbox) == 1  # already verified: nothing more is sent


def test_a_verification_token_dies_when_the_address_changes(auth_client: AuthClient, user: Any) -> None:
    auth_client.login()
    auth_client.post("/auth/send-verification-email")
    token = token_in(mail.outbox[-1], "verify-email")
    user.email = "other@example.com"
    user.save()
    assert auth_client.post("/auth/verify-email", {"token": token}).status_code == 400
    assert not AccountState.objects.filter(user=user, email_verified=True).exists()


def test_a_user_kept_out_by_the_policy_can_ask_for_a_new_link(auth_client: AuthClient, user: Any,
                                                               settings: Any) -> None:
    """Under "strict" the user cannot log in, so the request works without a session too,
    answering alike for every address."""
    settings.DUALAUTH_EMAIL_VERIFICATION = "strict"
    assert auth_client.login().status_code == 403
    assert (auth_client.post("/auth/send-verification-email").json()["code"]) == "VALIDATION_ERROR"
    answers = [auth_client.post("/auth/send-verification-email", {"email": e})
               for e in (user.email, "nobody@example.com")]
    assert {(r.status_code, r.content) for r in answers} == {(202, b'{"success":true}')}
    assert [m.to for m in mail.outbox] == [[user.email]]
    auth_client.post("/auth/verify-email", {"token": token_in(mail.outbox[-1], "verify-email")})
    assert auth_client.login().status_code == 200


def test_deactivation_voids_mailed_tokens(auth_client: AuthClient, user: Any) -> None:
    auth_client.post("/auth/forgot-password", {"email": user.email})
    token = token_in(mail.outbox[-1], "reset-password")
    user.is_active = False
    user.save()
    r = auth_client.post("/auth/reset-password", {"token": token, "password": NEW_PASSWORD})
    assert (r.status_code, r.json()["code"]) == (400, "INVALID_TOKEN")


def test_a_reset_ends_a_pending_2fa_login(auth_client: AuthClient, user: Any, settings: Any) -> None:
    settings.DUALAUTH_REQUIRE_2FA = True
    temp = auth_client.login().json()["tempToken"]  # a setup challenge begun with the old password
    auth_client.post("/auth/forgot-password", {"email": user.email})
    auth_client.post("/auth/reset-password", {"token": token_in(mail.outbox[-1], "reset-password"),
                                              "password": NEW_PASSWORD})
    r = auth_client.post("/auth/2fa/setup", {"tempToken": temp})
    assert (r.status_code, r.json()["code"]) == (401, "INVALID_TEMP_TOKEN")


def test_change_email_requests_are_limited_per_user(auth_client: AuthClient, user: Any) -> None:
    auth_client.login()
    for i in range(3):
        r = auth_client.post("/auth/change-email/request", {"newEmail": f"n{i}@example.com", "password": PASSWORD})
        assert r.status_code == 202
    r = auth_client.post("/auth/change-email/request", {"newEmail": "n9@example.com", "password": PASSWORD})
    assert (r.status_code, r.json()["code"]) == (429, "RATE_LIMITED")


def test_checks_for_the_account_urls_and_policy(settings: Any) -> None:
    from django.core.checks import run_checks

    def ids() -> list[str]:
        return sorted(m.id for m in run_checks() if m.id in ("dualauth.E010", "dualauth.E011"))

    assert ids() == []
    settings.DUALAUTH_PASSWORD_RESET_URL = "https://app.example.com/reset"
    assert ids() == ["dualauth.E010"]
    settings.DUALAUTH_PASSWORD_RESET_URL = "https://app.example.com/reset?token={token}"
    settings.DUALAUTH_EMAIL_VERIFICATION = "sometimes"
    assert ids() == ["dualauth.E011"]
    settings.DUALAUTH_EMAIL_VERIFICATION = "strict"
    settings.DUALAUTH_VERIFY_EMAIL_URL = ""
    assert ids() == ["dualauth.E011"]


@pytest.mark.parametrize("policy,age,expected", [
    ("none", timedelta(0), (200, None)),
    ("strict", timedelta(0), (403, "EMAIL_NOT_VERIFIED")),
    ("lazy", timedelta(days=1), (200, None)),
    ("lazy", timedelta(days=8), (403, "EMAIL_VERIFICATION_REQUIRED")),
])
def test_the_verification_policy_applies_at_login(auth_client: AuthClient, user: Any, settings: Any,
                                                  policy: str, age: timedelta, expected: tuple[int, Any]) -> None:
    settings.DUALAUTH_EMAIL_VERIFICATION = policy
    type(user).objects.filter(pk=user.pk).update(date_joined=timezone.now() - age)
    r = auth_client.login()
    assert (r.status_code, r.json().get("code")) == expected
    if expected[0] == 403:
        assert not AuthSession.objects.exists()
        AccountState.objects.update_or_create(user=user, defaults={"email_verified": True})
        assert auth_client.login().status_code == 200


def test_the_policy_applies_to_sms_login_too(auth_client: AuthClient, user: Any, settings: Any) -> None:
    from django_dualauth.gateways import OutboxGateway
    from django_dualauth.models import SMSDevice

    settings.DUALAUTH_SMS_ENABLED = True
    settings.DUALAUTH_EMAIL_VERIFICATION = "strict"
    SMSDevice.objects.create(user=user, name="sms", number="+14155550123", confirmed=True)
    OutboxGateway.outbox.clear()
    auth_client.post("/auth/sms/send", {"email": user.email})
    code = OutboxGateway.outbox[-1].body[:6]
    r = auth_client.post("/auth/sms/verify", {"email": user.email, "code": code})
    assert (r.status_code, r.json()["code"]) == (403, "EMAIL_NOT_VERIFIED")


def test_registration_sends_the_verification_mail(auth_client: AuthClient, settings: Any) -> None:
    settings.DUALAUTH_EMAIL_VERIFICATION = "lazy"
    r = auth_client.post("/auth/register", {"email": "new@example.com", "password": NEW_PASSWORD})
    assert r.status_code == 201
    assert [m.to for m in mail.outbox] == [["new@example.com"]]


# --- password reset --------------------------------------------------------------------------

def test_forgot_password_answers_the_same_for_everyone(auth_client: AuthClient, user_factory: Any) -> None:
    user_factory("alice@example.com")
    user_factory("ghost@example.com", is_active=False)
    answers = [auth_client.post("/auth/forgot-password", {"email": e})
               for e in ("ALICE@example.com", "nobody@example.com", "ghost@example.com")]
    assert {(r.status_code, r.content) for r in answers} == {(202, b'{"success":true}')}
    assert [m.to for m in mail.outbox] == [["alice@example.com"]]


def test_reset_password_revokes_every_session(auth_client: AuthClient, user: Any, client_factory: Any) -> None:
    """SES-03: a reset ends every session, on every device."""
    other = client_factory("bearer")
    other.login()
    auth_client.login()
    auth_client.post("/auth/forgot-password", {"email": user.email})
    token = token_in(mail.outbox[-1], "reset-password")
    r = auth_client.post("/auth/reset-password", {"token": token, "password": NEW_PASSWORD})
    assert (r.status_code, r.json()) == (200, {"success": True})
    assert other.refresh().status_code == 401
    assert auth_client.client.get("/auth/me", HTTP_AUTHORIZATION=f"Bearer {other.access_token}").status_code == 401
    assert AuthClient("bearer").login(password=PASSWORD).status_code == 401
    assert AuthClient("bearer").login(password=NEW_PASSWORD).status_code == 200
    again = auth_client.post("/auth/reset-password", {"token": token, "password": "yet another passphrase"})
    assert (again.status_code, again.json()["code"]) == (400, "INVALID_TOKEN")


def test_a_weak_password_leaves_the_token_unused(auth_client: AuthClient, user: Any) -> None:
    auth_client.post("/auth/forgot-password", {"email": user.email})
    token = token_in(mail.outbox[-1], "reset-password")
    weak = auth_client.post("/auth/reset-password", {"token": token, "password": "short"})
    assert (weak.status_code, weak.json()["code"]) == (400, "VALIDATION_ERROR")
    assert "password" in weak.json()["fields"]
    assert auth_client.post("/auth/reset-password", {"token": token, "password": NEW_PASSWORD}).status_code == 200


def test_reset_tokens_expire_and_die_with_a_newer_one(auth_client: AuthClient, user: Any) -> None:
    auth_client.post("/auth/forgot-password", {"email": user.email})
    first = token_in(mail.outbox[-1], "reset-password")
    with freeze_time(timezone.now() + timedelta(hours=1, seconds=1)):
        assert auth_client.post("/auth/reset-password", {"token": first, "password": NEW_PASSWORD}).status_code == 400
    auth_client.post("/auth/forgot-password", {"email": user.email})
    second = token_in(mail.outbox[-1], "reset-password")
    assert auth_client.post("/auth/reset-password", {"token": first, "password": NEW_PASSWORD}).status_code == 400
    assert auth_client.post("/auth/reset-password", {"token": second, "password": NEW_PASSWORD}).status_code == 200


def test_a_reset_voids_pending_magic_links(auth_client: AuthClient, user: Any, settings: Any) -> None:
    """ML-04: a password change voids links sent before."""
    settings.DUALAUTH_MAGIC_LINK_ENABLED = True
    auth_client.post("/auth/magic-link/send", {"email": user.email})
    link = re.search(r"token=([A-Za-z0-9_-]+)", mail.outbox[-1].body).group(1)
    auth_client.post("/auth/forgot-password", {"email": user.email})
    auth_client.post("/auth/reset-password", {"token": token_in(mail.outbox[-1], "reset-password"),
                                              "password": NEW_PASSWORD})
    assert auth_client.post("/auth/magic-link/verify", {"token": link}).status_code == 400


def test_forgot_password_is_rate_limited_per_address(auth_client: AuthClient, user: Any) -> None:
    for _ in range(3):
        assert auth_client.post("/auth/forgot-password", {"email": user.email}).status_code == 202
    r = auth_client.post("/auth/forgot-password", {"email": user.email.upper()})
    assert (r.status_code, r.json()["code"]) == (429, "RATE_LIMITED") and int(r["Retry-After"]) > 0


@pytest.mark.parametrize("path,payload", [
    ("/auth/forgot-password", {"email": 5}), ("/auth/forgot-password", {}),
    ("/auth/reset-password", {"token": "x"}), ("/auth/reset-password", {"token": ["x"], "password": "p"}),
    ("/auth/verify-email", {"token": None}), ("/auth/change-email/confirm", {}),
])
def test_bad_input(auth_client: AuthClient, path: str, payload: dict[str, Any]) -> None:
    r = auth_client.post(path, payload)
    assert (r.status_code, r.json()["code"]) == (400, "VALIDATION_ERROR")


@pytest.mark.parametrize("path", ["/auth/reset-password", "/auth/verify-email", "/auth/change-email/confirm"])
def test_unknown_tokens(auth_client: AuthClient, path: str) -> None:
    r = auth_client.post(path, {"token": "A" * 43, "password": NEW_PASSWORD})
    assert (r.status_code, r.json()["code"]) == (400, "INVALID_TOKEN")


def test_flows_are_off_until_their_url_is_set(auth_client: AuthClient, user: Any, settings: Any) -> None:
    settings.DUALAUTH_PASSWORD_RESET_URL = ""
    r = auth_client.post("/auth/forgot-password", {"email": user.email})
    assert (r.status_code, r.json()["code"]) == (404, "NOT_FOUND") and not mail.outbox


# --- e-mail change ---------------------------------------------------------------------------

def test_change_email(auth_client: AuthClient, user: Any) -> None:
    auth_client.login()
    r = auth_client.post("/auth/change-email/request", {"newEmail": "alice.new@example.com", "password": PASSWORD})
    assert (r.status_code, r.json()) == (202, {"success": True})
    [message] = mail.outbox
    assert message.to == ["alice.new@example.com"]
    ok = auth_client.post("/auth/change-email/confirm", {"token": token_in(message, "confirm-email")})
    assert ok.status_code == 200, ok.content
    user.refresh_from_db()
    assert user.email == "alice.new@example.com" and user.username == "alice.new@example.com"
    assert mail.outbox[-1].to == ["alice@example.com"] and "alice.new@example.com" in mail.outbox[-1].body
    assert auth_client.me().json()["email"] == "alice.new@example.com"
    assert AuthClient("bearer").login(email="alice.new@example.com").status_code == 200


def test_change_email_needs_the_password(auth_client: AuthClient, user: Any) -> None:
    """MFA-10: a stolen access token cannot redirect the account's mail."""
    auth_client.login()
    r = auth_client.post("/auth/change-email/request", {"newEmail": "evil@example.com", "password": "wrong one"})
    assert (r.status_code, r.json()["code"]) == (403, "REAUTHENTICATION_FAILED")
    assert not mail.outbox


def test_a_taken_address_gets_the_same_answer(auth_client: AuthClient, user: Any, user_factory: Any) -> None:
    user_factory("bob@example.com")
    auth_client.login()
    taken = auth_client.post("/auth/change-email/request", {"newEmail": "BOB@example.com", "password": PASSWORD})
    free = auth_client.post("/auth/change-email/request", {"newEmail": "carol@example.com", "password": PASSWORD})
    assert (taken.status_code, taken.content) == (free.status_code, free.content) == (202, taken.content)
    assert [m.to for m in mail.outbox] == [["carol@example.com"]]


def test_confirm_refuses_an_address_taken_meanwhile(auth_client: AuthClient, user: Any, user_factory: Any) -> None:
    auth_client.login()
    auth_client.post("/auth/change-email/request", {"newEmail": "carol@example.com", "password": PASSWORD})
    user_factory("carol@example.com")
    r = auth_client.post("/auth/change-email/confirm", {"token": token_in(mail.outbox[-1], "confirm-email")})
    assert (r.status_code, r.json()["code"]) == (400, "INVALID_TOKEN")
    user.refresh_from_db()
    assert user.email == "alice@example.com"


def test_change_email_wrong_passwords_are_limited(auth_client: AuthClient, user: Any, settings: Any) -> None:
    settings.DUALAUTH_RATE_LIMITS = {"account_user": "2/h"}
    auth_client.login()
    for _ in range(2):
        auth_client.post("/auth/change-email/request", {"newEmail": "x@example.com", "password": "wrong"})
    r = auth_client.post("/auth/change-email/request", {"newEmail": "x@example.com", "password": PASSWORD})
    assert (r.status_code, r.json()["code"]) == (429, "RATE_LIMITED")
