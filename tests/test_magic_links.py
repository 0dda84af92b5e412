"""Magic links (catalogue group G: ML-01..ML-07, and ENUM-02 for the request endpoint),
for login and as a second factor, under both deliveries. ML-01's parallel half runs on
PostgreSQL in tests/real_servers/test_concurrent_passwordless.py."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from django.core import mail
from django.utils import timezone
from freezegun import freeze_time

from django_dualauth.models import AccountState, AuthSession, MagicLink
from django_dualauth.services import twofactor
from django_dualauth.types import ClientInfo
from tests.conftest import AuthClient
from tests.test_two_factor import code_for, device_of, enrol, next_step

pytestmark = pytest.mark.django_db

LINK = re.compile(r"https://app\.example\.com/auth/magic-link\?token=([A-Za-z0-9_-]+)(&mode=2fa)?")


@pytest.fixture(autouse=True)
def _enabled(settings: Any) -> None:
    settings.DUALAUTH_MAGIC_LINK_ENABLED = True
    settings.OTP_TOTP_THROTTLE_FACTOR = 0


def send(client: AuthClient, email: str, **extra: Any) -> Any:
    return client.post("/auth/magic-link/send", {"email": email}, **extra)


def token_from_last_mail() -> str:
    match = LINK.search(mail.outbox[-1].body)
    assert match, mail.outbox[-1].body
    return match.group(1)


def verify(client: AuthClient, token: str, **data: Any) -> Any:
    return client._remember(client.post("/auth/magic-link/verify", {"token": token, **data}))


# --- request (ENUM-02, ML-05, ML-07) ---------------------------------------------------------

def test_send_answers_the_same_for_existing_unknown_and_inactive(auth_client: AuthClient, user_factory: Any) -> None:
    user_factory("alice@example.com")
    user_factory("ghost@example.com", is_active=False)
    answers = [send(auth_client, email) for email in ("alice@example.com", "nobody@example.com",
                                                      "ghost@example.com")]
    assert {(r.status_code, r.content) for r in answers} == {(202, b'{"success":true}')}
    assert [m.to for m in mail.outbox] == [["alice@example.com"]]
    assert MagicLink.objects.count() == 1


def test_the_mail_links_to_the_configured_front_end_not_to_the_host(auth_client: AuthClient, user: Any,
                                                                    settings: Any) -> None:
    settings.ALLOWED_HOSTS = ["*"]  # even where the Host allowlist is too wide
    send(auth_client, user.email.upper(), HTTP_HOST="evil.example", HTTP_X_FORWARDED_HOST="evil.example")
    message = mail.outbox[0]
    assert "evil.example" not in message.body
    token = token_from_last_mail()
    assert len(token) >= 43  # 256 bits
    html = message.alternatives[0][0]
    assert token in html
    # Stored as a digest only.
    assert not MagicLink.objects.filter(token_digest=token).exists()


def test_send_is_rate_limited_per_address_whether_or_not_it_exists(auth_client: AuthClient, user: Any,
                                                                   settings: Any) -> None:
    for email in ("nobody@example.com", user.email):
        for _ in range(3):
            assert send(auth_client, email).status_code == 202
        limited = send(auth_client, email.upper())
        assert (limited.status_code, limited.json()["code"]) == (429, "RATE_LIMITED")
        assert int(limited["Retry-After"]) > 0
    assert len(mail.outbox) == 3


def test_send_is_rate_limited_per_ip(auth_client: AuthClient, settings: Any) -> None:
    settings.DUALAUTH_RATE_LIMITS = {"magic_link_ip": "2/h"}
    assert send(auth_client, "a@example.com").status_code == 202
    assert send(auth_client, "b@example.com").status_code == 202
    assert send(auth_client, "c@example.com").status_code == 429


@pytest.mark.parametrize("payload", [{}, {"email": "not-an-address"}, {"email": 5}, {"mode": "other"},
                                     {"mode": "2fa"}, {"mode": ["2fa"]}])
def test_send_bad_input(auth_client: AuthClient, payload: dict[str, Any]) -> None:
    r = auth_client.post("/auth/magic-link/send", payload)
    assert (r.status_code, r.json()["code"]) == (400, "VALIDATION_ERROR")


def test_disabled_by_default(auth_client: AuthClient, user: Any, settings: Any) -> None:
    settings.DUALAUTH_MAGIC_LINK_ENABLED = False
    for path in ("/auth/magic-link/send", "/auth/magic-link/verify"):
        r = auth_client.post(path, {"email": user.email})
        assert (r.status_code, r.json()["code"]) == (404, "NOT_FOUND")
    assert not mail.outbox


# --- verify (ML-01..ML-04, ML-06) ------------------------------------------------------------

def test_verify_logs_in_through_the_delivery_and_marks_the_email_verified(auth_client: AuthClient,
                                                                          user: Any) -> None:
    send(auth_client, user.email)
    r = verify(auth_client, token_from_last_mail())
    assert r.status_code == 200, r.content
    assert r["Referrer-Policy"] == "no-referrer" and r["Cache-Control"] == "no-store"
    if auth_client.is_cookie:
        assert "refreshToken" not in r.json() and auth_client.cookie("__Host-refreshToken")
    else:
        assert r.json()["accessToken"] and r.json()["refreshToken"]
    me = auth_client.me().json()
    assert me["email"] == user.email and me["isEmailVerified"] is True
    assert AuthSession.objects.get().auth_methods == ["email"]
    assert AccountState.objects.get(user=user).email_verified


def test_a_link_works_once(auth_client: AuthClient, user: Any) -> None:
    """ML-01 (sequential)."""
    send(auth_client, user.email)
    token = token_from_last_mail()
    assert verify(auth_client, token).status_code == 200
    again = verify(AuthClient(auth_client.delivery), token)
    assert (again.status_code, again.json()) == (400, {"error": "Invalid or expired link",
                                                       "code": "INVALID_MAGIC_LINK"})


def test_a_link_expires(auth_client: AuthClient, user: Any) -> None:
    """ML-02: 15 minutes by default."""
    send(auth_client, user.email)
    token = token_from_last_mail()
    with freeze_time(timezone.now() + timedelta(minutes=15, seconds=1)):
        assert verify(auth_client, token).status_code == 400
    with freeze_time(timezone.now() + timedelta(minutes=14)):
        assert verify(auth_client, token).status_code == 200


def test_get_never_consumes_a_link(auth_client: AuthClient, user: Any) -> None:
    """ML-03: a scanner's GET (or HEAD) of the verify endpoint changes nothing."""
    send(auth_client, user.email)
    token = token_from_last_mail()
    for method in (auth_client.client.get, auth_client.client.head):
        r = method(f"/auth/magic-link/verify?token={token}")
        assert r.status_code == 405
    assert MagicLink.objects.get().consumed_at is None
    assert verify(auth_client, token).status_code == 200


@pytest.mark.parametrize("change", ["password", "email", "newer link", "deactivated"])
def test_a_link_dies_when_the_account_changes(auth_client: AuthClient, user: Any, change: str) -> None:
    """ML-04."""
    send(auth_client, user.email)
    token = token_from_last_mail()
    if change == "password":
        user.set_password("a brand new password")
        user.save()
    elif change == "email":
        user.email = "alice2@example.com"
        user.save()
    elif change == "newer link":
        send(auth_client, user.email)
    else:
        user.is_active = False
        user.save()
    r = verify(auth_client, token)
    assert (r.status_code, r.json()["code"]) == (400, "INVALID_MAGIC_LINK")
    if change == "newer link":
        assert verify(auth_client, token_from_last_mail()).status_code == 200


def test_a_second_factor_link_is_not_a_login_link(auth_client: AuthClient, user: Any) -> None:
    """ML-04: purposes do not mix."""
    enrol(AuthClient("bearer"), user)
    next_step(device_of(user))
    temp = auth_client.login().json()["tempToken"]
    auth_client.post("/auth/magic-link/send", {"mode": "2fa", "tempToken": temp})
    r = verify(auth_client, token_from_last_mail())
    assert (r.status_code, r.json()["code"]) == (400, "INVALID_MAGIC_LINK")


def test_verify_in_cookie_mode_is_csrf_checked(user: Any, client_factory: Any) -> None:
    browser = client_factory("cookie")
    send(browser, user.email)
    r = browser.client.post("/auth/magic-link/verify", {"token": token_from_last_mail()}, format="json",
                            HTTP_ORIGIN="https://evil.example")
    assert (r.status_code, r.json()["code"]) == (403, "CSRF_INVALID")
    assert MagicLink.objects.get().consumed_at is None


@pytest.mark.parametrize("token", ["", "x" * 10, "A" * 43, 12345, None])
def test_verify_garbage(auth_client: AuthClient, token: Any) -> None:
    r = auth_client.post("/auth/magic-link/verify", {"token": token})
    assert r.status_code == 400 and r.json()["code"] in ("INVALID_MAGIC_LINK", "VALIDATION_ERROR")


def test_a_user_with_2fa_gets_the_challenge_not_a_session(auth_client: AuthClient, user: Any) -> None:
    """ML-06 / MFA-08: a magic link does not bypass the second factor (of a verified address: for
    an unverified one the link is the first proof, test_pre_account_hijacking.py)."""
    AccountState.objects.create(user=user, email_verified=True)
    enrol(AuthClient("bearer"), user)
    sessions = AuthSession.objects.count()
    send(auth_client, user.email)
    r = verify(auth_client, token_from_last_mail())
    body = r.json()
    assert r.status_code == 200 and body["requiresTwoFactor"] is True
    assert body["available2faMethods"] == ["totp"]  # not the e-mail channel again
    assert "accessToken" not in body and AuthSession.objects.count() == sessions
    next_step(device_of(user))
    done = auth_client.post("/auth/2fa/verify", {"tempToken": body["tempToken"],
                                                 "totpCode": code_for(device_of(user))})
    assert done.status_code == 200, done.content
    assert AuthSession.objects.latest("created_at").auth_methods == ["email", "otp", "mfa"]


def test_full_login_setting_skips_the_challenge(auth_client: AuthClient, user: Any, settings: Any) -> None:
    enrol(AuthClient("bearer"), user)
    settings.DUALAUTH_MAGIC_LINK_FULL_LOGIN = True
    send(auth_client, user.email)
    assert "requiresTwoFactor" not in verify(auth_client, token_from_last_mail()).json()


# --- as a second factor ----------------------------------------------------------------------

@pytest.fixture
def pending(auth_client: AuthClient, user: Any) -> str:
    enrol(AuthClient("bearer"), user)
    body = auth_client.login().json()
    assert body["available2faMethods"] == ["totp", "magic-link"]
    return body["tempToken"]


def test_second_factor_by_link(auth_client: AuthClient, user: Any, pending: str) -> None:
    r = auth_client.post("/auth/magic-link/send", {"mode": "2fa", "tempToken": pending})
    assert r.status_code == 202
    assert "&mode=2fa" in mail.outbox[-1].body
    done = verify(auth_client, token_from_last_mail(), mode="2fa", tempToken=pending)
    assert done.status_code == 200, done.content
    assert auth_client.me().status_code == 200
    assert AuthSession.objects.latest("created_at").auth_methods == ["pwd", "email", "mfa"]
    # Both the temp token and the link are spent.
    again = verify(auth_client, token_from_last_mail(), mode="2fa", tempToken=pending)
    assert again.status_code == 401


def test_another_users_link_is_a_mismatch(auth_client: AuthClient, user: Any, pending: str,
                                          user_factory: Any) -> None:
    bob = user_factory("bob@example.com")
    enrol(AuthClient("bearer"), bob)
    next_step(device_of(bob))
    bob_client = AuthClient("bearer")
    bob_temp = bob_client.login(email=bob.email).json()["tempToken"]
    bob_client.post("/auth/magic-link/send", {"mode": "2fa", "tempToken": bob_temp})
    r = verify(auth_client, token_from_last_mail(), mode="2fa", tempToken=pending)
    assert (r.status_code, r.json()["code"]) == (401, "TOKEN_MISMATCH")


def test_second_factor_send_needs_a_live_temp_token(auth_client: AuthClient, user: Any) -> None:
    r = auth_client.post("/auth/magic-link/send", {"mode": "2fa", "tempToken": "A" * 43})
    assert (r.status_code, r.json()["code"]) == (401, "INVALID_TEMP_TOKEN")
    assert not mail.outbox


def test_magic_link_alone_never_satisfies_a_2fa_policy(auth_client: AuthClient, user: Any, settings: Any) -> None:
    settings.DUALAUTH_REQUIRE_2FA = True
    r = auth_client.login()
    assert (r.status_code, r.json()["code"]) == (403, "2FA_SETUP_REQUIRED")


def test_links_in_the_database_hold_no_secret(user: Any) -> None:
    from django_dualauth.services.magic_links import request_login_link

    message = request_login_link(user.email, client=ClientInfo())
    token = LINK.search(message.body).group(1)
    row = MagicLink.objects.get()
    assert token not in {row.token_digest, row.stamp}
    assert twofactor.TOTP  # the module is importable beside magic links


def test_admin_lists_links_without_secrets(admin_client: Any, auth_client: AuthClient, user: Any) -> None:
    send(auth_client, user.email)
    token = token_from_last_mail()
    row = MagicLink.objects.get()
    listing = admin_client.get("/admin/dualauth/magiclink/").content.decode()
    detail = admin_client.get(f"/admin/dualauth/magiclink/{row.pk}/change/").content.decode()
    assert user.email in listing
    for page in (listing, detail):
        assert token not in page and row.token_digest not in page and row.stamp not in page


def test_check_requires_a_front_end_url(settings: Any) -> None:
    from django.core.checks import run_checks

    assert not [m for m in run_checks() if m.id == "dualauth.E009"]
    settings.DUALAUTH_MAGIC_LINK_URL = "https://app.example.com/magic-link"
    assert [m.id for m in run_checks() if m.id == "dualauth.E009"] == ["dualauth.E009"]


def test_the_link_can_be_kept_out_of_the_second_factor_methods(auth_client: AuthClient, user: Any,
                                                                 settings: Any) -> None:
    settings.DUALAUTH_MAGIC_LINK_SECOND_FACTOR = False
    enrol(AuthClient("bearer"), user)
    assert auth_client.login().json()["available2faMethods"] == ["totp"]


def test_purge_deletes_expired_links(auth_client: AuthClient, user: Any) -> None:
    from io import StringIO

    from django.core.management import call_command

    send(auth_client, user.email)
    MagicLink.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    out = StringIO()
    call_command("dualauth_purge", stdout=out)
    assert "1 magic link(s) deleted" in out.getvalue() and not MagicLink.objects.exists()
