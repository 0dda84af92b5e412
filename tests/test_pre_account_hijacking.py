"""Pre-account hijacking (issue 15, item 8; Sudhodanan & Paverd, "Pre-hijacked accounts",
USENIX Security 2022): an intruder registers the victim's address with their own password,
keeps the session and enrols a phone and TOTP. When the victim's first proof of control of the
address is a magic-link sign-in or a password reset, none of that may keep working, and the
victim is told by mail. The normal path (register, then verify) keeps everything, and so does
any sign-in of a verified account. Every endpoint test runs under both deliveries.
"""

from __future__ import annotations

import logging
import re
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django_otp.plugins.otp_totp.models import TOTPDevice

from django_dualauth.gateways import OutboxGateway
from django_dualauth.models import AccountState, AuthSession, RecoveryCode, SMSDevice
from django_dualauth.signals import account_reclaimed
from tests.conftest import PASSWORD, AuthClient, capture
from tests.test_two_factor import code_for, device_of, next_step

# both_backends: the user-row lock and the revocation markers also run on PostgreSQL + Redis.
pytestmark = [pytest.mark.django_db, pytest.mark.both_backends]

VICTIM = "victim@example.com"
INTRUDER_PASSWORD = "the intruder's own passphrase"
VICTIM_PASSWORD = "the victim's new passphrase"
PHONE = "+14155550123"


@pytest.fixture(autouse=True)
def _features(settings: Any) -> None:
    settings.DUALAUTH_MAGIC_LINK_ENABLED = True
    settings.DUALAUTH_SMS_ENABLED = True
    settings.DUALAUTH_SMS_THROTTLE_FACTOR = 0
    settings.OTP_TOTP_THROTTLE_FACTOR = 0
    OutboxGateway.outbox.clear()


@pytest.fixture
def reclaimed_events() -> Any:
    yield from capture(account_reclaimed)


@pytest.fixture
def on_commit(django_capture_on_commit_callbacks: Any) -> Any:
    """The notice leaves after commit; the test transaction never commits, so run the callbacks."""
    return django_capture_on_commit_callbacks


def link_in(message: Any, page: str) -> str:
    match = re.search(rf"https://app\.example\.com/{page}\?token=([A-Za-z0-9_-]+)", message.body)
    assert match, message.body
    return match.group(1)


def sms_code() -> str:
    match = re.match(r"(\d{6}) is your", OutboxGateway.outbox[-1].body)
    assert match
    return match.group(1)


def set_up_everything(client: AuthClient, email: str, password: str) -> Any:
    """Register ``email`` and, signed in, add a verified phone and TOTP; the session stays open."""
    assert client.post("/auth/register", {"email": email, "password": password}).status_code == 201
    assert client.login(email=email, password=password).status_code == 200
    assert client.post("/auth/sms/phone", {"phoneNumber": PHONE}).status_code == 202
    assert client.post("/auth/sms/phone/verify", {"code": sms_code()}).status_code == 200
    assert client.post("/auth/2fa/setup").status_code == 200
    user = get_user_model().objects.get(email=email)
    r = client.post("/auth/2fa/verify-setup", {"token": code_for(device_of(user))})
    assert r.status_code == 200, r.content
    next_step(device_of(user))
    assert client.me().status_code == 200
    assert SMSDevice.objects.filter(user=user, confirmed=True).exists()
    assert RecoveryCode.objects.filter(user=user).exists()
    mail.outbox.clear()
    return user


@pytest.fixture
def intruder(delivery: str, db: Any) -> tuple[AuthClient, Any]:
    client = AuthClient(delivery)
    return client, set_up_everything(client, VICTIM, INTRUDER_PASSWORD)


def assert_nothing_of_the_intruder_works(client: AuthClient, user: Any) -> None:
    assert client.me().status_code == 401  # the access token
    assert client.refresh().status_code == 401  # the refresh token
    assert AuthClient(client.delivery).login(email=VICTIM, password=INTRUDER_PASSWORD).status_code == 401
    assert not TOTPDevice.objects.filter(user=user).exists()
    assert not RecoveryCode.objects.filter(user=user).exists()
    assert not SMSDevice.objects.filter(user=user).exists()
    state = AccountState.objects.get(user=user)
    assert (state.email_verified, state.two_factor_enabled) == (True, False)


def the_notice() -> Any:
    [notice] = [m for m in mail.outbox if "was reset" in m.subject]
    assert notice.to == [VICTIM]
    return notice


# --- the two first proofs ---------------------------------------------------------------------

def test_a_first_magic_link_ends_everything_the_intruder_set_up(auth_client: AuthClient,
                                                                intruder: tuple[AuthClient, Any],
                                                                revoked_events: list[dict[str, Any]],
                                                                reclaimed_events: list[dict[str, Any]],
                                                                caplog: Any, on_commit: Any,
                                                                revocation_check: str) -> None:
    """In every revocation mode: the intruder's access token dies at once in cache mode too."""
    intruder_client, user = intruder
    intruder_session = AuthSession.objects.get(user=user, revoked_at__isnull=True)
    assert auth_client.post("/auth/magic-link/send", {"email": VICTIM}).status_code == 202
    with caplog.at_level(logging.INFO, logger="django_dualauth.audit"), on_commit(execute=True):
        r = auth_client._remember(auth_client.post("/auth/magic-link/verify",
                                                   {"token": link_in(mail.outbox[-1], "auth/magic-link")}))
    # A session, not the intruder's 2FA challenge; the victim is signed in.
    assert r.status_code == 200 and "requiresTwoFactor" not in r.json(), r.content
    assert auth_client.me().json()["isTotpEnabled"] is False
    user.refresh_from_db()
    assert not user.has_usable_password()
    assert_nothing_of_the_intruder_works(intruder_client, user)
    intruder_session.refresh_from_db()
    assert intruder_session.revoked_reason == "account_reclaimed"
    assert [e["reason"] for e in revoked_events if e["session"].pk == intruder_session.pk] == ["account_reclaimed"]
    [event] = reclaimed_events
    assert event["user"] == user and event["reclaimed"].proof == "magic_link"
    assert (event["reclaimed"].sessions, event["reclaimed"].password, event["reclaimed"].totp,
            event["reclaimed"].phone) == (1, True, True, True)
    body = the_notice().body
    for what in ("1 signed-in session ended", "password was removed", "authenticator app was removed",
                 "10 recovery codes were removed", "phone number was removed"):
        assert what in body, body
    [record] = [r for r in caplog.records if r.getMessage().startswith("auth.account.reclaimed")]
    assert f"user={user.pk}" in record.getMessage() and VICTIM not in record.getMessage()


def test_a_first_password_reset_ends_everything_the_intruder_set_up(auth_client: AuthClient,
                                                                    intruder: tuple[AuthClient, Any],
                                                                    reclaimed_events: list[dict[str, Any]],
                                                                    on_commit: Any) -> None:
    intruder_client, user = intruder
    assert auth_client.post("/auth/forgot-password", {"email": VICTIM}).status_code == 202
    token = link_in(mail.outbox[-1], "reset-password")
    with on_commit(execute=True):
        r = auth_client.post("/auth/reset-password", {"token": token, "password": VICTIM_PASSWORD})
    assert r.status_code == 200, r.content
    assert_nothing_of_the_intruder_works(intruder_client, user)
    # The new password is the only one, and it signs in without the intruder's second factor.
    login = auth_client.login(email=VICTIM, password=VICTIM_PASSWORD)
    assert login.status_code == 200 and "requiresTwoFactor" not in login.json()
    [event] = reclaimed_events
    assert event["reclaimed"].proof == "password_reset"
    body = the_notice().body
    assert "previous password was replaced" in body and "authenticator app was removed" in body


def test_a_refused_new_password_resets_nothing(auth_client: AuthClient, intruder: tuple[AuthClient, Any],
                                              on_commit: Any) -> None:
    """One transaction: a password the validators refuse leaves the intruder's set-up (and the
    token) as they were, so the reset can be retried; nothing is half-written."""
    intruder_client, user = intruder
    auth_client.post("/auth/forgot-password", {"email": VICTIM})
    token = link_in(mail.outbox[-1], "reset-password")
    with on_commit(execute=True):
        r = auth_client.post("/auth/reset-password", {"token": token, "password": "short"})
    assert r.status_code == 400
    assert intruder_client.me().status_code == 200 and SMSDevice.objects.filter(user=user).exists()
    assert not AccountState.objects.filter(user=user, email_verified=True).exists()
    assert not [m for m in mail.outbox if "was reset" in m.subject]
    with on_commit(execute=True):
        r = auth_client.post("/auth/reset-password", {"token": token, "password": VICTIM_PASSWORD})
    assert r.status_code == 200 and intruder_client.me().status_code == 401
    the_notice()


# --- what keeps everything ----------------------------------------------------------------------

def test_register_then_verify_keeps_the_password_and_the_factors(auth_client: AuthClient,
                                                                 reclaimed_events: list[dict[str, Any]],
                                                                 on_commit: Any) -> None:
    """The normal path: the verification link is the first proof, and it resets nothing."""
    user = set_up_everything(auth_client, VICTIM, PASSWORD)
    assert auth_client.post("/auth/send-verification-email").status_code == 202
    assert auth_client.post("/auth/verify-email",
                            {"token": link_in(mail.outbox[-1], "verify-email")}).status_code == 200
    # Now a magic link and a reset are not first proofs: the factors stay, the session too.
    other = AuthClient(auth_client.delivery)
    other.post("/auth/magic-link/send", {"email": VICTIM})
    with on_commit(execute=True):
        r = other.post("/auth/magic-link/verify", {"token": link_in(mail.outbox[-1], "auth/magic-link")})
    assert r.json()["requiresTwoFactor"] is True  # the owner's TOTP still guards the account
    assert auth_client.me().status_code == 200
    user.refresh_from_db()
    assert user.check_password(PASSWORD)
    assert SMSDevice.objects.filter(user=user, confirmed=True).exists() and device_of(user).confirmed
    assert RecoveryCode.objects.filter(user=user).exists()
    other.post("/auth/forgot-password", {"email": VICTIM})
    with on_commit(execute=True):
        r = other.post("/auth/reset-password", {"token": link_in(mail.outbox[-1], "reset-password"),
                                                "password": VICTIM_PASSWORD})
    assert r.status_code == 200
    assert device_of(user).confirmed and SMSDevice.objects.filter(user=user).exists()
    assert reclaimed_events == [] and not [m for m in mail.outbox if "was reset" in m.subject]


def test_a_verified_accounts_magic_link_changes_nothing(auth_client: AuthClient, user: Any,
                                                        revoked_events: list[dict[str, Any]],
                                                        on_commit: Any) -> None:
    AccountState.objects.create(user=user, email_verified=True)
    signed_in = AuthClient(auth_client.delivery)
    assert signed_in.login().status_code == 200
    auth_client.post("/auth/magic-link/send", {"email": user.email})
    with on_commit(execute=True):
        r = auth_client.post("/auth/magic-link/verify", {"token": link_in(mail.outbox[-1], "auth/magic-link")})
    assert r.status_code == 200
    assert signed_in.me().status_code == 200 and revoked_events == []
    user.refresh_from_db()
    assert user.check_password(PASSWORD)
    assert len(mail.outbox) == 1  # the link only: no notice


def test_an_unverified_account_with_nothing_set_up_gets_no_notice(auth_client: AuthClient, django_user_model: Any,
                                                                  reclaimed_events: list[dict[str, Any]],
                                                                  on_commit: Any) -> None:
    """E.g. made by an administrator without a password: the first link signs in, and there is
    nothing to reset or to tell."""
    django_user_model.objects.create_user(username=VICTIM, email=VICTIM, password=None)
    auth_client.post("/auth/magic-link/send", {"email": VICTIM})
    with on_commit(execute=True):
        r = auth_client.post("/auth/magic-link/verify", {"token": link_in(mail.outbox[-1], "auth/magic-link")})
    assert r.status_code == 200
    assert reclaimed_events == [] and len(mail.outbox) == 1
    assert AccountState.objects.get(user__email=VICTIM).email_verified
