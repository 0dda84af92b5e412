"""Second factor: TOTP enrolment, the two-step login, recovery codes, disable, policy.

Catalogue group F: MFA-01 (replay), MFA-03 (window), MFA-04 (brute force), MFA-06 (temp
token is not an access or refresh token), MFA-07 (temp token lifecycle), MFA-08 (no
bypass), MFA-09 (new family at login), MFA-10 (changing factors needs a fresh proof).
MFA-02 (the replay race) runs on PostgreSQL in tests/real_servers/test_concurrent_two_factor.py.
Every endpoint test runs under both deliveries.
"""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest
from django.urls import path
from django.utils import timezone
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice
from freezegun import freeze_time

from django_dualauth.crypto import digest
from django_dualauth.models import AccountState, AuthSession, LoginChallenge, RecoveryCode
from django_dualauth.services import login, twofactor
from django_dualauth.signals import two_factor_disabled, two_factor_enabled, two_factor_failed
from tests.conftest import PASSWORD, AuthClient
from tests.test_admin_and_purge import mixin_site
from tests.urls import urlpatterns as base_urlpatterns

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _no_throttle_delay(settings: Any) -> None:
    # django-otp's exponential delay (1, 2, 4 s ...) is tested on its own below.
    settings.OTP_TOTP_THROTTLE_FACTOR = 0


def code_for(device: TOTPDevice, *, steps: int = 0) -> str:
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits)
    totp.time = time.time() + steps * device.step
    return f"{totp.token():0{device.digits}d}"


def device_of(user: Any) -> TOTPDevice:
    return TOTPDevice.objects.get(user=user)


def enrol(client: AuthClient, user: Any) -> list[str]:
    """Log ``client`` in and turn on TOTP for ``user``; returns the recovery codes."""
    assert client.login(email=user.email).status_code == 200
    assert client.post("/auth/2fa/setup").status_code == 200
    response = client.post("/auth/2fa/verify-setup", {"token": code_for(device_of(user))})
    assert response.status_code == 200, response.content
    return response.json()["recoveryCodes"]


def next_step(device: TOTPDevice) -> None:
    """Move the device's replay marker back, as if the last code were an older step."""
    TOTPDevice.objects.filter(pk=device.pk).update(last_t=device.last_t - 1)


@pytest.fixture
def enrolled(user: Any, client_factory: Any) -> tuple[Any, list[str]]:
    """A user with confirmed TOTP (enrolled through the bearer API)."""
    codes = enrol(client_factory("bearer"), user)
    next_step(device_of(user))
    return user, codes


def challenge(client: AuthClient) -> str:
    response = client.login()
    assert response.status_code == 200, response.content
    body = response.json()
    assert body == {"requiresTwoFactor": True, "tempToken": body["tempToken"], "available2faMethods": ["totp"]}
    return body["tempToken"]


# --- enrolment -------------------------------------------------------------------------------

def test_setup_returns_secret_url_and_qr_and_keeps_the_secret_server_side(auth_client: AuthClient,
                                                                          user: Any) -> None:
    auth_client.login()
    response = auth_client.post("/auth/2fa/setup")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["qrCode"].startswith("data:image/png;base64,")
    url = urlparse(body["otpauthUrl"])
    assert url.scheme == "otpauth" and url.netloc == "totp"
    assert parse_qs(url.query)["secret"] == [body["secret"]]
    device = device_of(user)
    assert not device.confirmed and len(body["secret"]) == 32
    # verify-setup needs only the code; a client-sent secret is ignored.
    confirm = auth_client.post("/auth/2fa/verify-setup", {"token": code_for(device), "secret": "A" * 32})
    assert confirm.status_code == 200, confirm.content
    codes = confirm.json()["recoveryCodes"]
    assert len(codes) == 10 and len(set(codes)) == 10
    assert all(len(c) == 19 and c.count("-") == 3 for c in codes)
    assert device_of(user).confirmed
    assert AccountState.objects.get(user=user).two_factor_enabled
    assert auth_client.me().json()["isTotpEnabled"] is True
    # Codes are stored as digests only.
    stored = set(RecoveryCode.objects.values_list("digest", flat=True))
    assert len(stored) == 10 and not {c.replace("-", "") for c in codes} & stored


def test_setup_needs_authentication(auth_client: AuthClient, user: Any) -> None:
    response = auth_client.post("/auth/2fa/setup")
    assert response.status_code in (401, 403) and response.status_code != 500
    assert not TOTPDevice.objects.exists()


def test_verify_setup_with_a_wrong_code_keeps_2fa_off(auth_client: AuthClient, user: Any) -> None:
    auth_client.login()
    auth_client.post("/auth/2fa/setup")
    wrong = f"{(int(code_for(device_of(user))) + 1) % 1_000_000:06d}"
    response = auth_client.post("/auth/2fa/verify-setup", {"token": wrong})
    assert (response.status_code, response.json()["code"]) == (400, "INVALID_2FA_CODE")
    assert not device_of(user).confirmed and not RecoveryCode.objects.exists()


def test_verify_setup_before_setup(auth_client: AuthClient, user: Any) -> None:
    auth_client.login()
    response = auth_client.post("/auth/2fa/verify-setup", {"token": "123456"})
    assert (response.status_code, response.json()["code"]) == (400, "2FA_SETUP_NOT_STARTED")


def test_setup_again_when_enabled_is_refused(auth_client: AuthClient, user: Any) -> None:
    """MFA-10: a stolen access token cannot swap the factor for the attacker's."""
    enrol(auth_client, user)
    response = auth_client.post("/auth/2fa/setup")
    assert (response.status_code, response.json()["code"]) == (409, "2FA_ALREADY_ENABLED")
    assert TOTPDevice.objects.filter(user=user).count() == 1


def test_confirming_2fa_revokes_the_other_sessions(auth_client: AuthClient, user: Any,
                                                   client_factory: Any) -> None:
    """MFA-08: a family created before 2FA was enabled cannot be refreshed afterwards."""
    other = client_factory("bearer")
    other.login()
    enrol(auth_client, user)
    assert other.refresh().status_code == 401
    assert auth_client.me().status_code == 200  # the session that enrolled is kept


# --- the two-step login ----------------------------------------------------------------------

def test_login_with_2fa_gives_a_challenge_and_no_session(auth_client: AuthClient,
                                                         enrolled: tuple[Any, list[str]]) -> None:
    response = auth_client.login()
    assert response.status_code == 200
    body = response.json()
    assert body["requiresTwoFactor"] is True and body["available2faMethods"] == ["totp"]
    assert "accessToken" not in body and "refreshToken" not in body
    assert not [c for c in response.cookies.values() if c.value and "Token" in c.key]
    assert AuthSession.objects.filter(revoked_at__isnull=True).count() == 1  # the enrolment's only


def test_verify_with_totp_issues_the_session_through_the_delivery(auth_client: AuthClient,
                                                                  enrolled: tuple[Any, list[str]]) -> None:
    user, _ = enrolled
    temp = challenge(auth_client)
    response = auth_client._remember(auth_client.post(
        "/auth/2fa/verify", {"tempToken": temp, "totpCode": code_for(device_of(user))}))
    assert response.status_code == 200, response.content
    body = response.json()
    if auth_client.is_cookie:
        assert "refreshToken" not in body and auth_client.cookie("__Host-refreshToken")
    else:
        assert body["accessToken"] and body["refreshToken"]
    assert auth_client.me().json()["isTotpEnabled"] is True
    session = AuthSession.objects.filter(delivery=auth_client.delivery).latest("created_at")
    assert session.auth_methods == ["pwd", "otp", "mfa"]
    assert auth_client.refresh().status_code == 200


def test_verify_with_a_recovery_code_works_once(auth_client: AuthClient,
                                                enrolled: tuple[Any, list[str]]) -> None:
    _, codes = enrolled
    temp = challenge(auth_client)
    response = auth_client.post("/auth/2fa/verify", {"tempToken": temp, "recoveryCode": codes[0].lower()})
    assert response.status_code == 200, response.content
    session = AuthSession.objects.filter(delivery=auth_client.delivery).latest("created_at")
    assert session.auth_methods == ["pwd", "recovery-code", "mfa"]

    again = auth_client.post("/auth/2fa/verify", {"tempToken": challenge(auth_client), "recoveryCode": codes[0]})
    assert (again.status_code, again.json()["code"]) == (401, "INVALID_2FA_CODE")


@pytest.mark.parametrize("payload", [
    {},
    {"totpCode": "123456"},
    {"tempToken": "x", "totpCode": "123456", "recoveryCode": "AAAA-AAAA-AAAA-AAAA"},
    {"tempToken": 123, "totpCode": "123456"},
    {"tempToken": "x", "totpCode": 123456},
])
def test_verify_bad_input_is_a_400(auth_client: AuthClient, payload: dict[str, Any]) -> None:
    response = auth_client.post("/auth/2fa/verify", payload)
    assert (response.status_code, response.json()["code"]) == (400, "VALIDATION_ERROR")


def test_the_same_totp_code_is_accepted_once(auth_client: AuthClient,
                                             enrolled: tuple[Any, list[str]]) -> None:
    """MFA-01."""
    user, _ = enrolled
    code = code_for(device_of(user))
    assert auth_client.post("/auth/2fa/verify", {"tempToken": challenge(auth_client),
                                                 "totpCode": code}).status_code == 200
    replay = auth_client.post("/auth/2fa/verify", {"tempToken": challenge(auth_client), "totpCode": code})
    assert (replay.status_code, replay.json()["code"]) == (401, "INVALID_2FA_CODE")


def test_an_older_step_after_a_newer_one_is_refused(auth_client: AuthClient,
                                                    enrolled: tuple[Any, list[str]]) -> None:
    """MFA-01: ``last_t`` only increases."""
    user, _ = enrolled
    device = device_of(user)
    assert auth_client.post("/auth/2fa/verify", {"tempToken": challenge(auth_client),
                                                 "totpCode": code_for(device)}).status_code == 200
    older = auth_client.post("/auth/2fa/verify", {"tempToken": challenge(auth_client),
                                                  "totpCode": code_for(device, steps=-1)})
    assert older.status_code == 401


@pytest.mark.parametrize(("steps", "accepted"), [(-2, False), (-1, True), (1, True), (2, False)])
def test_tolerance_is_one_step_either_side(auth_client: AuthClient, enrolled: tuple[Any, list[str]],
                                           steps: int, accepted: bool) -> None:
    """MFA-03."""
    user, _ = enrolled
    device = device_of(user)
    TOTPDevice.objects.filter(pk=device.pk).update(last_t=0)
    response = auth_client.post("/auth/2fa/verify", {"tempToken": challenge(auth_client),
                                                     "totpCode": code_for(device, steps=steps)})
    assert (response.status_code == 200) is accepted, response.content


def test_a_synced_drift_does_not_widen_the_window(auth_client: AuthClient,
                                                  enrolled: tuple[Any, list[str]]) -> None:
    """MFA-03: drift sync cannot move the window beyond one step."""
    user, _ = enrolled
    device = device_of(user)
    TOTPDevice.objects.filter(pk=device.pk).update(last_t=0, drift=1)
    response = auth_client.post("/auth/2fa/verify", {"tempToken": challenge(auth_client),
                                                     "totpCode": code_for(device, steps=2)})
    assert response.status_code == 401


def test_wrong_codes_kill_the_temp_token(auth_client: AuthClient, enrolled: tuple[Any, list[str]],
                                         settings: Any) -> None:
    """MFA-04: after 5 wrong codes the temp token is dead (429), even for the right code."""
    user, _ = enrolled
    failures: list[Any] = []
    two_factor_failed.connect(lambda **kw: failures.append(kw), weak=False, dispatch_uid="t")
    try:
        temp = challenge(auth_client)
        for _ in range(4):
            r = auth_client.post("/auth/2fa/verify", {"tempToken": temp, "totpCode": "000000"})
            assert (r.status_code, r.json()["code"]) == (401, "INVALID_2FA_CODE")
        last = auth_client.post("/auth/2fa/verify", {"tempToken": temp, "totpCode": "000000"})
        assert (last.status_code, last.json()["code"]) == (429, "RATE_LIMITED")
        assert int(last["Retry-After"]) > 0
        dead = auth_client.post("/auth/2fa/verify", {"tempToken": temp, "totpCode": code_for(device_of(user))})
        assert (dead.status_code, dead.json()["code"]) == (401, "INVALID_TEMP_TOKEN")
    finally:
        two_factor_failed.disconnect(dispatch_uid="t")
    assert len(failures) == 5 and failures[0]["user"] == user and failures[0]["method"] == "totp"


def test_device_throttle_survives_new_temp_tokens(auth_client: AuthClient, enrolled: tuple[Any, list[str]],
                                                  settings: Any) -> None:
    """MFA-04: django-otp's exponential delay is per device, not per temp token."""
    settings.OTP_TOTP_THROTTLE_FACTOR = 10
    user, _ = enrolled
    assert auth_client.post("/auth/2fa/verify", {"tempToken": challenge(auth_client),
                                                 "totpCode": "000000"}).status_code == 401
    fresh = auth_client.post("/auth/2fa/verify", {"tempToken": challenge(auth_client),
                                                  "totpCode": code_for(device_of(user))})
    assert (fresh.status_code, fresh.json()["code"]) == (429, "RATE_LIMITED")
    assert 1 <= int(fresh["Retry-After"]) <= 11


def test_wrong_codes_are_limited_per_ip(auth_client: AuthClient, enrolled: tuple[Any, list[str]],
                                        settings: Any) -> None:
    settings.DUALAUTH_RATE_LIMITS = {"2fa_ip": "3/h"}
    for _ in range(3):
        auth_client.post("/auth/2fa/verify", {"tempToken": challenge(auth_client), "totpCode": "000000"})
    blocked = auth_client.post("/auth/2fa/verify", {"tempToken": challenge(auth_client), "totpCode": "000000"})
    assert (blocked.status_code, blocked.json()["code"]) == (429, "RATE_LIMITED")


# --- the temp token --------------------------------------------------------------------------

def test_temp_token_is_not_an_access_token(auth_client: AuthClient, enrolled: tuple[Any, list[str]]) -> None:
    """MFA-06: as Bearer on protected views, at refresh, in the access cookie: 401."""
    temp = challenge(auth_client)
    for url in ("/api/whoami", "/auth/me"):
        r = auth_client.client.get(url, HTTP_AUTHORIZATION=f"Bearer {temp}")
        assert r.status_code == 401 and r["WWW-Authenticate"].startswith("Bearer")
    r = auth_client.client.post("/auth/refresh", {"refreshToken": temp}, format="json",
                                HTTP_X_AUTH_STRATEGY="bearer")
    assert r.status_code == 401
    for url in ("/auth/logout-all", "/auth/2fa/disable", "/auth/2fa/setup"):
        r = auth_client.client.post(url, {}, format="json", HTTP_AUTHORIZATION=f"Bearer {temp}")
        assert r.status_code == 401, (url, r.content)
    cookie = AuthClient("cookie")
    cookie.client.cookies["__Host-accessToken"] = temp
    assert cookie.get("/api/whoami").status_code == 401


def test_temp_token_is_single_use(auth_client: AuthClient, enrolled: tuple[Any, list[str]]) -> None:
    """MFA-07."""
    user, _ = enrolled
    temp = challenge(auth_client)
    assert auth_client.post("/auth/2fa/verify", {"tempToken": temp,
                                                 "totpCode": code_for(device_of(user))}).status_code == 200
    next_step(device_of(user))
    again = auth_client.post("/auth/2fa/verify", {"tempToken": temp, "totpCode": code_for(device_of(user))})
    assert (again.status_code, again.json()["code"]) == (401, "INVALID_TEMP_TOKEN")


def test_temp_token_expires_after_five_minutes(auth_client: AuthClient,
                                               enrolled: tuple[Any, list[str]]) -> None:
    """MFA-07."""
    user, _ = enrolled
    temp = challenge(auth_client)
    with freeze_time(timezone.now() + timedelta(minutes=5, seconds=1)):
        r = auth_client.post("/auth/2fa/verify", {"tempToken": temp, "totpCode": code_for(device_of(user))})
    assert (r.status_code, r.json()["code"]) == (401, "INVALID_TEMP_TOKEN")


def test_temp_token_is_bound_to_its_user(auth_client: AuthClient, enrolled: tuple[Any, list[str]],
                                         user_factory: Any, client_factory: Any) -> None:
    """MFA-07: user A's temp token with user B's code."""
    bob = user_factory("bob@example.com")
    enrol(client_factory("bearer"), bob)
    next_step(device_of(bob))
    temp = challenge(auth_client)  # alice's
    r = auth_client.post("/auth/2fa/verify", {"tempToken": temp, "totpCode": code_for(device_of(bob))})
    assert (r.status_code, r.json()["code"]) == (401, "INVALID_2FA_CODE")


def test_temp_token_is_bound_to_the_login_delivery(enrolled: tuple[Any, list[str]], client_factory: Any) -> None:
    """A challenge started by a browser cannot be finished as bearer (the refresh token would
    reach JavaScript), nor the other way round."""
    user, _ = enrolled
    for start, finish in (("cookie", "bearer"), ("bearer", "cookie")):
        temp = challenge(client_factory(start))
        r = client_factory(finish).post("/auth/2fa/verify", {"tempToken": temp,
                                                             "totpCode": code_for(device_of(user))})
        assert (r.status_code, r.json()["code"]) == (401, "INVALID_TEMP_TOKEN")


def test_verify_in_cookie_mode_is_csrf_checked(enrolled: tuple[Any, list[str]], client_factory: Any) -> None:
    user, _ = enrolled
    browser = client_factory("cookie")
    temp = challenge(browser)
    r = browser.client.post("/auth/2fa/verify", {"tempToken": temp, "totpCode": code_for(device_of(user))},
                            format="json", HTTP_ORIGIN="https://evil.example")
    assert (r.status_code, r.json()["code"]) == (403, "CSRF_INVALID")


def test_verify_without_a_password_step_is_refused(auth_client: AuthClient,
                                                   enrolled: tuple[Any, list[str]]) -> None:
    """MFA-08: a code alone, with a made-up temp token."""
    user, _ = enrolled
    r = auth_client.post("/auth/2fa/verify", {"tempToken": "A" * 43, "totpCode": code_for(device_of(user))})
    assert (r.status_code, r.json()["code"]) == (401, "INVALID_TEMP_TOKEN")


def test_temp_tokens_are_stored_as_digests(auth_client: AuthClient, enrolled: tuple[Any, list[str]]) -> None:
    temp = challenge(auth_client)
    assert not LoginChallenge.objects.filter(token_digest=temp).exists()
    assert LoginChallenge.objects.filter(user=enrolled[0]).exists()


def test_verify_supersedes_an_old_browser_family(enrolled: tuple[Any, list[str]], client_factory: Any) -> None:
    """MFA-09: completing login + 2FA revokes the family of the refresh cookie already held."""
    user, _ = enrolled
    browser = client_factory("cookie")
    browser.client.cookies["__Host-refreshToken"] = "planted"  # replaced below by a real one
    temp = challenge(browser)
    browser._remember(browser.post("/auth/2fa/verify", {"tempToken": temp, "totpCode": code_for(device_of(user))}))
    first = AuthSession.objects.filter(delivery="cookie").latest("created_at")
    next_step(device_of(user))
    temp = challenge(browser)
    browser._remember(browser.post("/auth/2fa/verify", {"tempToken": temp, "totpCode": code_for(device_of(user))}))
    first.refresh_from_db()
    assert first.revoked_reason == "superseded"


# --- disable and recovery codes ----------------------------------------------------------------

def test_disable_needs_a_fresh_proof(auth_client: AuthClient, user: Any, client_factory: Any) -> None:
    """MFA-10: an access token alone cannot turn 2FA off."""
    enrol(auth_client, user)
    other = client_factory("bearer")
    other_challenge = challenge(other)
    for payload in ({}, {"password": "wrong password"}, {"totpCode": "000000"}):
        r = auth_client.post("/auth/2fa/disable", payload)
        assert r.status_code == 403, r.content  # no proof: named, never a 401 (a refresh cannot help)
        assert r.json()["code"] == ("REAUTHENTICATION_FAILED" if payload else "REAUTHENTICATION_REQUIRED")
    assert device_of(user).confirmed

    disabled: list[Any] = []
    two_factor_disabled.connect(lambda **kw: disabled.append(kw), weak=False, dispatch_uid="d")
    try:
        r = auth_client.post("/auth/2fa/disable", {"password": PASSWORD})
    finally:
        two_factor_disabled.disconnect(dispatch_uid="d")
    assert r.status_code == 200 and r.json() == {"success": True}
    assert disabled and disabled[0]["reason"] == "disabled"
    assert not TOTPDevice.objects.filter(user=user).exists() and not RecoveryCode.objects.exists()
    assert auth_client.me().json()["isTotpEnabled"] is False
    assert "accessToken" in client_factory("bearer").login().json()  # no challenge any more
    assert other_challenge  # a challenge issued before is useless now:
    r = other.post("/auth/2fa/verify", {"tempToken": other_challenge, "totpCode": "123456"})
    assert r.status_code == 401


def test_disable_with_a_totp_code(auth_client: AuthClient, user: Any) -> None:
    enrol(auth_client, user)
    next_step(device_of(user))
    r = auth_client.post("/auth/2fa/disable", {"totpCode": code_for(device_of(user))})
    assert r.status_code == 200, r.content
    assert not AccountState.objects.get(user=user).two_factor_enabled


def test_disable_is_refused_when_policy_requires_2fa(auth_client: AuthClient, user: Any, settings: Any) -> None:
    enrol(auth_client, user)
    settings.DUALAUTH_REQUIRE_2FA = True
    r = auth_client.post("/auth/2fa/disable", {"password": PASSWORD})
    assert (r.status_code, r.json()["code"]) == (403, "2FA_REQUIRED")
    assert device_of(user).confirmed


def test_disable_when_not_enabled(auth_client: AuthClient, user: Any) -> None:
    auth_client.login()
    r = auth_client.post("/auth/2fa/disable", {"password": PASSWORD})
    assert (r.status_code, r.json()["code"]) == (400, "2FA_NOT_ENABLED")


def test_regenerating_recovery_codes_voids_the_old_set(auth_client: AuthClient, user: Any,
                                                        client_factory: Any) -> None:
    old = enrol(auth_client, user)
    assert auth_client.post("/auth/2fa/recovery-codes", {"totpCode": "000000"}).status_code == 403
    next_step(device_of(user))
    r = auth_client.post("/auth/2fa/recovery-codes", {"totpCode": code_for(device_of(user))})
    assert r.status_code == 200, r.content
    new = r.json()["recoveryCodes"]
    assert len(new) == 10 and not set(new) & set(old)
    app = client_factory("bearer")
    assert app.post("/auth/2fa/verify", {"tempToken": challenge(app), "recoveryCode": old[1]}).status_code == 401
    assert app.post("/auth/2fa/verify", {"tempToken": challenge(app), "recoveryCode": new[1]}).status_code == 200


# --- policy: 2FA required --------------------------------------------------------------------

@pytest.mark.parametrize("how", ["setting", "per-user flag"])
def test_required_2fa_forces_setup_before_any_session(auth_client: AuthClient, user: Any, settings: Any,
                                                      how: str) -> None:
    if how == "setting":
        settings.DUALAUTH_REQUIRE_2FA = True
    else:
        AccountState.objects.create(user=user, two_factor_required=True)
    r = auth_client.login()
    assert r.status_code == 403
    body = r.json()
    assert body["requires2FASetup"] is True and body["code"] == "2FA_SETUP_REQUIRED" and body["tempToken"]
    assert not AuthSession.objects.exists()
    temp = body["tempToken"]

    # The setup temp token opens only the setup endpoints.
    assert auth_client.client.get("/auth/me", HTTP_AUTHORIZATION=f"Bearer {temp}").status_code == 401
    assert auth_client.post("/auth/2fa/verify", {"tempToken": temp, "totpCode": "123456"}).status_code == 401

    # node-auth's clients send it as the Bearer token.
    setup = auth_client.client.post("/auth/2fa/setup", {}, format="json",
                                     **{**auth_client.headers(), "HTTP_AUTHORIZATION": f"Bearer {temp}"})
    assert setup.status_code == 200, setup.content
    done = auth_client._remember(auth_client.post("/auth/2fa/verify-setup",
                                                  {"tempToken": temp, "token": code_for(device_of(user))}))
    assert done.status_code == 200, done.content
    assert len(done.json()["recoveryCodes"]) == 10
    assert auth_client.me().status_code == 200
    session = AuthSession.objects.get()
    assert session.delivery == auth_client.delivery and session.auth_methods == ["pwd", "otp", "mfa"]
    # Used: the setup token is spent.
    assert auth_client.post("/auth/2fa/setup", {"tempToken": temp}).status_code == 401


def test_setup_temp_token_cannot_finish_a_cookie_login_without_csrf(user: Any, settings: Any,
                                                                     client_factory: Any) -> None:
    settings.DUALAUTH_REQUIRE_2FA = True
    browser = client_factory("cookie")
    temp = browser.login().json()["tempToken"]
    r = browser.client.post("/auth/2fa/setup", {"tempToken": temp}, format="json")
    assert (r.status_code, r.json()["code"]) == (403, "CSRF_INVALID")


# --- admin reset -----------------------------------------------------------------------------

def test_admin_reset_removes_factors_and_revokes_every_session(auth_client: AuthClient, user: Any,
                                                               django_user_model: Any) -> None:
    enrol(auth_client, user)
    admin = django_user_model.objects.create_superuser("root", "root@example.com", "x" * 12)
    events: list[Any] = []
    two_factor_disabled.connect(lambda **kw: events.append(kw), weak=False, dispatch_uid="r")
    try:
        twofactor.reset_two_factor(user, revoked_by=admin)
    finally:
        two_factor_disabled.disconnect(dispatch_uid="r")
    assert events[0]["reason"] == "reset" and events[0]["revoked_by"] == admin
    assert not TOTPDevice.objects.filter(user=user).exists()
    assert not AuthSession.objects.filter(user=user, revoked_at__isnull=True).exists()
    assert auth_client.me().status_code == 401


def test_enabling_sends_a_signal(auth_client: AuthClient, user: Any) -> None:
    events: list[Any] = []
    two_factor_enabled.connect(lambda **kw: events.append(kw), weak=False, dispatch_uid="e")
    try:
        enrol(auth_client, user)
    finally:
        two_factor_enabled.disconnect(dispatch_uid="e")
    assert [e["user"] for e in events] == [user]


# --- admin -----------------------------------------------------------------------------------

urlpatterns = [*base_urlpatterns, path("mixin-admin/", mixin_site.urls)]


@pytest.mark.urls(__name__)
def test_admin_user_action_resets_two_factor_and_revokes_sessions(admin_client: Any, auth_client: AuthClient,
                                                                  user: Any) -> None:
    enrol(auth_client, user)
    html = admin_client.get(f"/mixin-admin/auth/user/{user.pk}/change/").content.decode()
    assert "two factor enabled" in html.lower()  # the account-state inline
    response = admin_client.post("/mixin-admin/auth/user/", {
        "action": "reset_user_two_factor", "_selected_action": [str(user.pk)]}, follow=True)
    assert "Two-factor authentication reset for 1 user(s)." in response.content.decode()
    assert not TOTPDevice.objects.filter(user=user).exists() and not RecoveryCode.objects.exists()
    assert not AccountState.objects.get(user=user).two_factor_enabled
    assert auth_client.me().status_code == 401
    assert "accessToken" in AuthClient("bearer").login().json()  # password alone again


def test_admin_account_state_lists_and_resets_two_factor(admin_client: Any, auth_client: AuthClient,
                                                         user: Any) -> None:
    enrol(auth_client, user)
    listing = admin_client.get("/admin/dualauth/accountstate/?two_factor_enabled__exact=1")
    assert user.email in listing.content.decode()
    state = AccountState.objects.get(user=user)
    admin_client.post("/admin/dualauth/accountstate/", {
        "action": "reset_account_two_factor", "_selected_action": [str(state.pk)]})
    assert not TOTPDevice.objects.filter(user=user).exists()
    assert auth_client.me().status_code == 401


def test_admin_cannot_switch_two_factor_on_by_editing(admin_client: Any, user: Any) -> None:
    """``two_factor_enabled`` mirrors a confirmed device; the admin edits only the policy flag."""
    state = AccountState.objects.create(user=user)
    admin_client.post(f"/admin/dualauth/accountstate/{user.pk}/change/", {
        "user": str(user.pk), "two_factor_enabled": "on", "two_factor_required": "on"})
    state.refresh_from_db()
    assert state.two_factor_required and not state.two_factor_enabled


# --- housekeeping and edges ------------------------------------------------------------------

def test_logout_with_the_temp_token_ends_the_pending_login(auth_client: AuthClient,
                                                           enrolled: tuple[Any, list[str]]) -> None:
    """MFA-07: a logout (or cancel) wipes the pending state."""
    user, _ = enrolled
    temp = challenge(auth_client)
    assert auth_client.post("/auth/logout", {"tempToken": temp}).json() == {"success": True}
    r = auth_client.post("/auth/2fa/verify", {"tempToken": temp, "totpCode": code_for(device_of(user))})
    assert (r.status_code, r.json()["code"]) == (401, "INVALID_TEMP_TOKEN")


def test_recovery_codes_when_2fa_is_off(auth_client: AuthClient, user: Any) -> None:
    auth_client.login()
    r = auth_client.post("/auth/2fa/recovery-codes", {"totpCode": "123456"})
    assert (r.status_code, r.json()["code"]) == (400, "2FA_NOT_ENABLED")


def test_purge_deletes_expired_challenges(enrolled: tuple[Any, list[str]], client_factory: Any) -> None:
    from io import StringIO

    from django.core.management import call_command

    live = challenge(client_factory("bearer"))
    challenge(client_factory("bearer"))
    LoginChallenge.objects.exclude(token_digest=digest(live, login.TEMP_TOKEN_PURPOSE)).update(
        expires_at=timezone.now() - timedelta(seconds=1))
    out = StringIO()
    call_command("dualauth_purge", stdout=out)
    assert "1 2FA challenge(s) deleted" in out.getvalue()
    assert LoginChallenge.objects.count() == 1


def test_migration_clears_a_two_factor_flag_without_a_device(user: Any) -> None:
    """Users flagged by hand in the old admin would face a challenge no code can pass."""
    from importlib import import_module

    from django.apps import apps

    migration = import_module("django_dualauth.migrations.0002_two_factor")
    AccountState.objects.create(user=user, two_factor_enabled=True)
    migration.clear_flags_without_device(apps, None)
    assert not AccountState.objects.get(user=user).two_factor_enabled
    assert "accessToken" in AuthClient("bearer").login().json()


def test_check_requires_the_django_otp_apps(settings: Any) -> None:
    from django.core.checks import run_checks

    assert not [m for m in run_checks() if m.id == "dualauth.E008"]
    settings.INSTALLED_APPS = [a for a in settings.INSTALLED_APPS if not a.startswith("django_otp")]
    assert [m.id for m in run_checks() if m.id == "dualauth.E008"] == ["dualauth.E008"]
