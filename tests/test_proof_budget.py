"""One failure budget for every check of a password or a code, per account and per IP
(issue 15 item 9; BF-01, MFA-04, MFA-10; NIST SP 800-63B §5.2.2, OWASP ASVS 5 V6.3).

The issue's attack: a stolen access token (or, on a temp-token path, the stolen password),
101 wrong proofs from 101 addresses, then the right one. Each endpoint that checks a password
or a code must refuse the right one (429 ``RATE_LIMITED``) and change nothing. Every route of
the package is classified below, so a new route that checks a proof cannot go unlisted.
Every endpoint test runs under both deliveries; the module runs again on PostgreSQL + Redis.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.urls import URLPattern, get_resolver
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice
from freezegun import freeze_time

from django_dualauth.api import ratelimits
from django_dualauth.gateways import OutboxGateway
from django_dualauth.models import AccountState, AccountToken, AuthSession, RecoveryCode, SMSDevice
from django_dualauth.services import proofs, twofactor
from tests.conftest import EMAIL, PASSWORD, AuthClient
from tests.test_sms import last_code as last_sms_code
from tests.test_sms import wrong as wrong_code
from tests.test_two_factor import code_for, device_of, enrol, next_step

pytestmark = [pytest.mark.django_db, pytest.mark.both_backends]

WRONG = "not the right password"
NEW_PASSWORD = "a brand new passphrase 42"
PHONE, ATTACKER_PHONE = "+14155550123", "+14155550199"
GUESSES = 101  # more than the 100 of NIST SP 800-63B §5.2.2, each from its own address


@pytest.fixture(autouse=True)
def _one_window() -> Iterator[None]:
    """Rate-limit windows are fixed: a test that ran across a window's end would see its
    counters reset, whatever the machine's load. Time stands still, at the real now (so the
    database's clock agrees)."""
    with freeze_time(timezone.now()):
        yield


@pytest.fixture(autouse=True)
def _features(settings: Any) -> None:
    settings.DUALAUTH_SMS_ENABLED = True
    settings.DUALAUTH_SMS_RESEND_COOLDOWN = 0
    settings.DUALAUTH_EMAIL_CHANGE_URL = "https://app.example.com/change-email"
    # The budgets under test must be what stops the guesses, not these other limits:
    settings.OTP_TOTP_THROTTLE_FACTOR = 0  # django-otp's per-device delay
    settings.DUALAUTH_SMS_THROTTLE_FACTOR = 0
    settings.DUALAUTH_SMS_CODE_MAX_ATTEMPTS = 1000  # the per-code cap
    settings.DUALAUTH_RATE_LIMITS = {"account_email": None}  # change-email's per-user mail limit
    OutboxGateway.outbox.clear()


def address(i: int) -> str:
    return f"198.18.{i // 250}.{i % 250 + 1}"


def from_ip(i: int, spread: str = "remote_addr") -> dict[str, str]:
    """Request headers that make attempt ``i`` come from its own client address."""
    if spread == "proxy":  # DUALAUTH_TRUSTED_PROXY_DEPTH = 1: the hop the proxy saw
        return {"REMOTE_ADDR": "10.0.0.1", "HTTP_X_FORWARDED_FOR": f"192.0.2.66, {address(i)}"}
    return {"REMOTE_ADDR": address(i)}


def delete(client: AuthClient, path: str, data: dict[str, Any], **extra: Any) -> Any:
    return client.client.delete(path, data, format="json", **{**client.headers(), **extra})


def verify_phone(client: AuthClient, number: str = PHONE) -> None:
    assert client.post("/auth/sms/phone", {"phoneNumber": number}).status_code == 202
    assert client.post("/auth/sms/phone/verify", {"code": last_sms_code()}).status_code == 200


def fresh_login(delivery: str, ip: dict[str, str]) -> dict[str, Any]:
    """A login with the right password (the thief has it on the temp-token paths)."""
    client = AuthClient(delivery)
    response = client.login(**ip)
    assert response.status_code in (200, 403), response.content
    return {"client": client, "body": response.json()}


@dataclass
class Scenario:
    """``attempt(right, ip)`` sends one proof; ``happened()`` tells whether the right one took effect."""

    attempt: Callable[[bool, dict[str, str]], Any]
    happened: Callable[[], bool]


Prepare = Callable[[AuthClient, Any, Any], Scenario]


# --- a password, behind a (stolen) access token ------------------------------------------------

def two_factor_disable_password(client: AuthClient, user: Any, settings: Any) -> Scenario:
    enrol(client, user)
    return Scenario(
        lambda right, ip: client.post("/auth/2fa/disable", {"password": PASSWORD if right else WRONG}, **ip),
        lambda: not TOTPDevice.objects.filter(user=user).exists())


def _phone_replace(client: AuthClient, path: str) -> Scenario:
    client.login()
    verify_phone(client)
    return Scenario(
        lambda right, ip: client.post(path, {"phoneNumber": ATTACKER_PHONE,
                                             "password": PASSWORD if right else WRONG}, **ip),
        lambda: SMSDevice.objects.filter(number=ATTACKER_PHONE).exists()
        or any(m.to == ATTACKER_PHONE for m in OutboxGateway.outbox))


def sms_phone_replace(client: AuthClient, user: Any, settings: Any) -> Scenario:
    return _phone_replace(client, "/auth/sms/phone")


def add_phone_replace(client: AuthClient, user: Any, settings: Any) -> Scenario:
    """``add-phone``, node-auth's name for ``POST sms/phone``: the same budget."""
    return _phone_replace(client, "/auth/add-phone")


def sms_phone_remove(client: AuthClient, user: Any, settings: Any) -> Scenario:
    client.login()
    verify_phone(client)
    return Scenario(
        lambda right, ip: delete(client, "/auth/sms/phone", {"password": PASSWORD if right else WRONG}, **ip),
        lambda: not SMSDevice.objects.filter(user=user).exists())


def change_password(client: AuthClient, user: Any, settings: Any) -> Scenario:
    client.login()
    return Scenario(
        lambda right, ip: client.post("/auth/change-password", {"currentPassword": PASSWORD if right else WRONG,
                                                                "newPassword": NEW_PASSWORD}, **ip),
        lambda: get_user_model().objects.get(pk=user.pk).check_password(NEW_PASSWORD))


def change_email(client: AuthClient, user: Any, settings: Any) -> Scenario:
    client.login()
    return Scenario(
        lambda right, ip: client.post("/auth/change-email/request", {"newEmail": "mallory@example.com",
                                                                     "password": PASSWORD if right else WRONG}, **ip),
        lambda: AccountToken.objects.filter(user=user).exists())


def delete_account_password(client: AuthClient, user: Any, settings: Any) -> Scenario:
    client.login()
    return Scenario(
        lambda right, ip: delete(client, "/auth/account", {"password": PASSWORD if right else WRONG}, **ip),
        lambda: not get_user_model().objects.filter(pk=user.pk).exists())


# --- a code, behind an access token ---------------------------------------------------------------

def totp_code(user: Any, right: bool) -> str:
    code = code_for(device_of(user))
    return code if right else wrong_code(code)


def two_factor_disable_code(client: AuthClient, user: Any, settings: Any) -> Scenario:
    enrol(client, user)
    next_step(device_of(user))
    return Scenario(
        lambda right, ip: client.post("/auth/2fa/disable", {"totpCode": totp_code(user, right)}, **ip),
        lambda: not TOTPDevice.objects.filter(user=user).exists())


def recovery_codes(client: AuthClient, user: Any, settings: Any) -> Scenario:
    enrol(client, user)
    next_step(device_of(user))
    before = set(RecoveryCode.objects.filter(user=user).values_list("pk", flat=True))
    return Scenario(
        lambda right, ip: client.post("/auth/2fa/recovery-codes", {"totpCode": totp_code(user, right)}, **ip),
        lambda: set(RecoveryCode.objects.filter(user=user).values_list("pk", flat=True)) != before)


def verify_setup(client: AuthClient, user: Any, settings: Any) -> Scenario:
    client.login()
    assert client.post("/auth/2fa/setup").status_code == 200
    return Scenario(
        lambda right, ip: client.post("/auth/2fa/verify-setup",
                                      {"token": totp_code_of_pending(user, right)}, **ip),
        lambda: TOTPDevice.objects.filter(user=user, confirmed=True).exists())


def totp_code_of_pending(user: Any, right: bool) -> str:
    code = code_for(TOTPDevice.objects.get(user=user, confirmed=False))
    return code if right else wrong_code(code)


def delete_account_code(client: AuthClient, user: Any, settings: Any) -> Scenario:
    enrol(client, user)
    next_step(device_of(user))
    user.set_unusable_password()
    user.save(update_fields=["password"])
    return Scenario(
        lambda right, ip: delete(client, "/auth/account", {"totpCode": totp_code(user, right)}, **ip),
        lambda: not get_user_model().objects.filter(pk=user.pk).exists())


def sms_phone_verify(client: AuthClient, user: Any, settings: Any) -> Scenario:
    client.login()
    assert client.post("/auth/sms/phone", {"phoneNumber": PHONE}).status_code == 202
    code = last_sms_code()
    return Scenario(
        lambda right, ip: client.post("/auth/sms/phone/verify", {"code": code if right else wrong_code(code)}, **ip),
        lambda: SMSDevice.objects.filter(user=user, confirmed=True).exists())


# --- a code after the password: the account is the temp token's user -------------------------------

def second_step(client: AuthClient, user: Any, settings: Any, field: str) -> Scenario:
    codes = enrol(AuthClient("bearer"), user)
    next_step(device_of(user))
    sessions = AuthSession.objects.count()

    def attempt(right: bool, ip: dict[str, str]) -> Any:
        login = fresh_login(client.delivery, ip)
        proof = totp_code(user, right) if field == "totpCode" else (codes[0] if right else "AAAA-BBBB-CCCC-DDDD")
        return login["client"].post("/auth/2fa/verify", {"tempToken": login["body"]["tempToken"], field: proof}, **ip)

    return Scenario(attempt, lambda: AuthSession.objects.count() > sessions)


def two_factor_verify_totp(client: AuthClient, user: Any, settings: Any) -> Scenario:
    return second_step(client, user, settings, "totpCode")


def two_factor_verify_recovery(client: AuthClient, user: Any, settings: Any) -> Scenario:
    return second_step(client, user, settings, "recoveryCode")


def verify_setup_challenge(client: AuthClient, user: Any, settings: Any) -> Scenario:
    settings.DUALAUTH_REQUIRE_2FA = True
    first = fresh_login(client.delivery, {})
    temp = first["body"]["tempToken"]
    starter = first["client"]
    setup = starter.client.post("/auth/2fa/setup", {"tempToken": temp}, format="json", **starter.headers())
    assert setup.status_code == 200, setup.content

    def attempt(right: bool, ip: dict[str, str]) -> Any:
        login = fresh_login(client.delivery, ip)
        return login["client"].post("/auth/2fa/verify-setup", {"tempToken": login["body"]["tempToken"],
                                                               "token": totp_code_of_pending(user, right)}, **ip)

    return Scenario(attempt, lambda: TOTPDevice.objects.filter(user=user, confirmed=True).exists())


def sms_second_factor(client: AuthClient, user: Any, settings: Any) -> Scenario:
    owner = AuthClient("bearer")
    owner.login()
    verify_phone(owner)
    settings.DUALAUTH_REQUIRE_2FA = True
    first = fresh_login(client.delivery, {})
    assert first["client"].post("/auth/sms/send", {"mode": "2fa", "tempToken": first["body"]["tempToken"]}
                                ).status_code == 202
    code = last_sms_code()
    sessions = AuthSession.objects.count()

    def attempt(right: bool, ip: dict[str, str]) -> Any:
        login = fresh_login(client.delivery, ip)
        return login["client"].post("/auth/sms/verify", {"mode": "2fa", "tempToken": login["body"]["tempToken"],
                                                         "code": code if right else wrong_code(code)}, **ip)

    return Scenario(attempt, lambda: AuthSession.objects.count() > sessions)


# --- no session at all: the account is the address typed ------------------------------------------

def login(client: AuthClient, user: Any, settings: Any) -> Scenario:
    return Scenario(lambda right, ip: client.login(password=PASSWORD if right else WRONG, **ip),
                    lambda: AuthSession.objects.exists())


def sms_login(client: AuthClient, user: Any, settings: Any) -> Scenario:
    owner = AuthClient("bearer")
    owner.login()
    verify_phone(owner)
    assert client.post("/auth/sms/send", {"email": EMAIL}).status_code == 202
    code = last_sms_code()
    sessions = AuthSession.objects.count()
    return Scenario(
        lambda right, ip: client.post("/auth/sms/verify", {"email": EMAIL, "code": code if right else wrong_code(code)},
                                      **ip),
        lambda: AuthSession.objects.count() > sessions)


#: Every (method, route) that checks a password or a code, and how to drive it.
PROOF_ENDPOINTS: dict[tuple[str, str], list[Prepare]] = {
    ("POST", "login"): [login],
    ("POST", "2fa/verify"): [two_factor_verify_totp, two_factor_verify_recovery],
    ("POST", "2fa/verify-setup"): [verify_setup, verify_setup_challenge],
    ("POST", "2fa/disable"): [two_factor_disable_password, two_factor_disable_code],
    ("POST", "2fa/recovery-codes"): [recovery_codes],
    ("POST", "sms/phone"): [sms_phone_replace],
    ("POST", "add-phone"): [add_phone_replace],
    ("DELETE", "sms/phone"): [sms_phone_remove],
    ("POST", "sms/phone/verify"): [sms_phone_verify],
    ("POST", "sms/verify"): [sms_login, sms_second_factor],
    ("POST", "change-password"): [change_password],
    ("POST", "change-email/request"): [change_email],
    ("DELETE", "account"): [delete_account_password, delete_account_code],
}

#: Every other (method, route): none checks a password or a code a person types. Tokens sent by
#: mail and refresh tokens are 256-bit secrets, not guessable; they have their own limits.
NO_PROOF: dict[tuple[str, str], str] = {
    ("POST", "refresh"): "a refresh token (refresh_ip)",
    ("POST", "logout"): "nothing to prove",
    ("POST", "logout-all"): "nothing to prove",
    ("GET", "me"): "nothing to prove",
    ("POST", "register"): "sets a password, checks none",
    ("GET", "csrf"): "nothing to prove",
    ("POST", "2fa/setup"): "starts enrolment; refused while a device is confirmed",
    ("POST", "magic-link/send"): "sends a link",
    ("POST", "magic-link/verify"): "a mailed 256-bit token",
    ("POST", "sms/send"): "sends a code",
    ("GET", "sessions"): "nothing to prove",
    ("DELETE", "sessions/<str:handle>"): "nothing to prove",
    ("POST", "send-verification-email"): "sends a link",
    ("POST", "verify-email"): "a mailed 256-bit token (account_ip)",
    ("POST", "forgot-password"): "sends a link",
    ("POST", "reset-password"): "a mailed 256-bit token (account_ip); sets a password",
    ("POST", "change-email/confirm"): "a mailed 256-bit token (account_ip)",
    ("GET", "verify-email"): "changes nothing: a redirect to the page, or 405",
    ("PATCH", "profile"): "names only, nothing security-relevant",
    ("POST", "sessions/cleanup"): "deletes the caller's own ended sessions",
    ("GET", "ui/config"): "nothing to prove",
    ("GET", ".well-known/jwks.json"): "public keys, nothing to prove",
    ("POST", "oauth/<str:provider>/nonce"): "hands out a nonce (oauth_nonce_ip)",
    ("POST", "oauth/<str:provider>/token"): "a provider-signed id_token and a 256-bit nonce (oauth_token_ip)",
    ("POST", "oauth/<str:provider>/link"): "a provider-signed id_token and a 256-bit nonce (oauth_token_ip)",
    ("GET", "oauth/<str:provider>"): "starts a redirect flow, proves nothing (oauth_redirect_ip)",
    ("GET", "oauth/<str:provider>/callback"): "a 256-bit state bound to the browser, then the provider's code "
                                              "(oauth_redirect_ip)",
    ("POST", "oauth/<str:provider>/callback"): "Apple's form_post: the same 256-bit state bound to the browser, "
                                               "then Apple's code (oauth_redirect_ip)",
    ("POST", "oauth/<str:provider>/exchange"): "a 256-bit one-time code and the app's PKCE verifier "
                                               "(oauth_exchange_ip)",
    ("POST", "oauth/<str:provider>/link/start"): "starts a link from a fresh session, proves nothing "
                                                 "(oauth_redirect_ip)",
    ("POST", "oauth/<str:provider>/link/finish"): "a 256-bit one-time code, the app's PKCE verifier and the "
                                                  "session that started the link (oauth_exchange_ip)",
    ("POST", "link-request"): "sends a link",
    ("POST", "link-verify"): "a mailed 256-bit token (account_ip)",
    ("GET", "linked-accounts"): "nothing to prove",
    ("DELETE", "linked-accounts/<str:provider>/<path:provider_account_id>"): "nothing to prove",
}

SCENARIOS = [pytest.param(prepare, id=f"{method} {route} ({prepare.__name__})")
             for (method, route), prepares in PROOF_ENDPOINTS.items() for prepare in prepares]


def _routes() -> set[tuple[str, str]]:
    resolver = get_resolver("django_dualauth.urls")
    found = set()
    for pattern in resolver.url_patterns:
        assert isinstance(pattern, URLPattern)
        view = pattern.callback.view_class  # type: ignore[attr-defined]
        for method in ("get", "post", "put", "patch", "delete"):
            if hasattr(view, method):
                found.add((method.upper(), str(pattern.pattern)))
    return found


def test_every_route_is_classified() -> None:
    """A new route must say whether it checks a password or code (and get a scenario here)."""
    assert _routes() == set(PROOF_ENDPOINTS) | set(NO_PROOF)
    assert not set(PROOF_ENDPOINTS) & set(NO_PROOF)


def assert_refused(response: Any) -> None:
    assert response.status_code == 429, response.content
    assert response.json() == {"error": "Too many requests, try again later", "code": "RATE_LIMITED"}
    assert int(response["Retry-After"]) >= 1


@pytest.mark.parametrize("prepare", SCENARIOS)
def test_guesses_from_many_addresses_then_the_right_proof_is_refused(
        prepare: Prepare, auth_client: AuthClient, user: Any, settings: Any) -> None:
    """The issue's attack, with the default limits: 101 wrong proofs, each from its own address."""
    scenario = prepare(auth_client, user, settings)
    answers = [scenario.attempt(False, from_ip(i)).status_code for i in range(GUESSES)]
    assert 429 in answers and answers.count(429) < GUESSES, answers  # some guesses are checked, then refused
    assert_refused(scenario.attempt(True, from_ip(GUESSES)))
    assert not scenario.happened()


@pytest.mark.parametrize("prepare", [two_factor_disable_password, sms_phone_replace])
def test_addresses_behind_a_trusted_proxy_share_the_account_budget(
        prepare: Prepare, auth_client: AuthClient, user: Any, settings: Any) -> None:
    scenario = prepare(auth_client, user, settings)
    settings.DUALAUTH_TRUSTED_PROXY_DEPTH = 1
    for i in range(GUESSES):
        scenario.attempt(False, from_ip(i, "proxy"))
    assert_refused(scenario.attempt(True, from_ip(GUESSES, "proxy")))
    assert not scenario.happened()


@pytest.mark.parametrize("prepare", SCENARIOS)
def test_the_right_proof_within_the_budget_works(prepare: Prepare, auth_client: AuthClient, user: Any,
                                                 settings: Any) -> None:
    """The scenarios are sound: below the budget the right proof takes effect."""
    scenario = prepare(auth_client, user, settings)
    scenario.attempt(False, from_ip(1))
    assert scenario.attempt(True, from_ip(2)).status_code in (200, 202)
    assert scenario.happened()


def test_one_budget_per_account_across_endpoints(auth_client: AuthClient, user: Any, settings: Any) -> None:
    """Wrong passwords on 2fa/disable spend the same budget as change-password and DELETE account."""
    settings.DUALAUTH_RATE_LIMITS = {"account_user": "3/10m"}
    enrol(auth_client, user)
    assert auth_client.post("/auth/2fa/disable", {"password": WRONG}, **from_ip(1)).status_code == 403
    assert auth_client.post("/auth/change-password", {"currentPassword": WRONG, "newPassword": NEW_PASSWORD},
                            **from_ip(2)).status_code == 403
    assert delete(auth_client, "/auth/account", {"password": WRONG}, **from_ip(3)).status_code == 403
    assert_refused(auth_client.post("/auth/2fa/disable", {"password": PASSWORD}, **from_ip(4)))
    assert AccountState.objects.get(user=user).two_factor_enabled


def test_another_account_keeps_its_budget(auth_client: AuthClient, user: Any, user_factory: Any,
                                          settings: Any) -> None:
    settings.DUALAUTH_RATE_LIMITS = {"account_user": "2/10m"}
    enrol(auth_client, user)
    for i in range(2):
        auth_client.post("/auth/2fa/disable", {"password": WRONG}, **from_ip(i))
    assert_refused(auth_client.post("/auth/2fa/disable", {"password": PASSWORD}, **from_ip(3)))
    user_factory(email="bob@example.com")
    other = AuthClient(auth_client.delivery)
    assert other.login(email="bob@example.com").status_code == 200
    assert other.post("/auth/change-password", {"currentPassword": PASSWORD, "newPassword": NEW_PASSWORD},
                      **from_ip(3)).status_code == 200


def test_one_address_is_limited_across_accounts(auth_client: AuthClient, user_factory: Any,
                                                settings: Any) -> None:
    """The per-IP half: one client guessing the passwords of many signed-in accounts."""
    settings.DUALAUTH_RATE_LIMITS = {"reauth_ip": "3/10m"}
    clients = []
    for i in range(4):
        user_factory(email=f"u{i}@example.com")
        client = AuthClient(auth_client.delivery)
        assert client.login(email=f"u{i}@example.com").status_code == 200
        clients.append(client)
    same = from_ip(7)
    for client in clients[:3]:
        assert client.post("/auth/change-password", {"currentPassword": WRONG, "newPassword": NEW_PASSWORD},
                           **same).status_code == 403
    assert_refused(clients[3].post("/auth/change-password", {"currentPassword": PASSWORD,
                                                             "newPassword": NEW_PASSWORD}, **same))


def test_successes_are_not_counted(auth_client: AuthClient, user: Any, settings: Any) -> None:
    settings.DUALAUTH_RATE_LIMITS = {"account_user": "1/10m"}
    auth_client.login()
    current = PASSWORD
    for i in range(3):
        new = f"{NEW_PASSWORD} {i}"
        assert auth_client.post("/auth/change-password", {"currentPassword": current, "newPassword": new},
                                ).status_code == 200
        current = new


def test_a_resend_cooldown_is_not_a_failed_proof(auth_client: AuthClient, user: Any, settings: Any) -> None:
    """Only wrong proofs (and device or temp-token throttles) are charged, not a cool-down."""
    settings.DUALAUTH_SMS_RESEND_COOLDOWN = 60
    settings.DUALAUTH_RATE_LIMITS = {"account_user": "1/10m"}
    auth_client.login()
    assert auth_client.post("/auth/sms/phone", {"phoneNumber": PHONE}).status_code == 202
    cooling = auth_client.post("/auth/sms/phone", {"phoneNumber": PHONE})
    assert cooling.status_code == 429
    assert auth_client.post("/auth/change-password", {"currentPassword": PASSWORD, "newPassword": NEW_PASSWORD},
                            ).status_code == 200


def test_a_throttled_device_counts_as_a_guess(auth_client: AuthClient, user: Any, settings: Any) -> None:
    settings.OTP_TOTP_THROTTLE_FACTOR = 100
    settings.DUALAUTH_RATE_LIMITS = {"account_user": "2/10m"}
    enrol(auth_client, user)
    next_step(device_of(user))
    assert auth_client.post("/auth/2fa/recovery-codes", {"totpCode": totp_code(user, False)}).status_code == 403
    throttled = auth_client.post("/auth/2fa/recovery-codes", {"totpCode": totp_code(user, True)})
    assert (throttled.status_code, throttled.json()["code"]) == (429, "RATE_LIMITED")
    settings.OTP_TOTP_THROTTLE_FACTOR = 0
    assert_refused(auth_client.post("/auth/2fa/recovery-codes", {"totpCode": totp_code(user, True)}))


@pytest.fixture
def account_counters_unreadable(monkeypatch: Any) -> None:
    """The cache fails where the account's counter is read (for a temp token: inside the
    check's transaction), through the real failure path of ``ratelimits``."""
    read = ratelimits._peek

    def failing(request: Any, pairs: list[tuple[str, str]]) -> Any:
        if any(scope == "account_user" for scope, _ in pairs):
            ratelimits._cache_unavailable(pairs[0][0])
        return read(request, pairs)

    monkeypatch.setattr(ratelimits, "_peek", failing)


@pytest.mark.parametrize("prepare", [p for p in SCENARIOS if p.values[0] not in (login, sms_login)])
def test_a_cache_that_cannot_read_the_account_budget_answers_503_and_changes_nothing(
        prepare: Prepare, auth_client: AuthClient, user: Any, settings: Any, request: Any) -> None:
    scenario = prepare(auth_client, user, settings)
    request.getfixturevalue("account_counters_unreadable")
    response = scenario.attempt(True, from_ip(1))
    assert response.status_code == 503, response.content
    assert response.json()["code"] == "SERVICE_UNAVAILABLE" and int(response["Retry-After"]) >= 1
    assert not scenario.happened()
    settings.RATELIMIT_FAIL_OPEN = True  # the same failure path now lets the check run (django-ratelimit)
    assert scenario.attempt(True, from_ip(2)).status_code in (200, 202)
    assert scenario.happened()


# --- the gate itself --------------------------------------------------------------------------------

def test_a_check_outside_a_budget_is_refused(user: Any) -> None:
    """What makes a forgotten guard fail its first test instead of allowing unlimited guesses."""
    with pytest.raises(proofs.UnguardedCheck):
        proofs.password_matches(user, PASSWORD)
    TOTPDevice.objects.create(user=user, name="dualauth", confirmed=True)
    AccountState.objects.create(user=user, two_factor_enabled=True)
    with pytest.raises(proofs.UnguardedCheck):
        twofactor.disable_two_factor(user, password=PASSWORD)
    assert TOTPDevice.objects.filter(user=user).exists()
    with proofs.without_budget():
        twofactor.disable_two_factor(user, password=PASSWORD)
    assert not TOTPDevice.objects.filter(user=user).exists()


def test_every_kind_names_two_configured_budgets() -> None:
    from django_dualauth.conf import DEFAULT_RATE_LIMITS

    for kind, (ip_scope, account_scope) in ratelimits.PROOF_BUDGETS.items():
        assert ip_scope.endswith("_ip") and DEFAULT_RATE_LIMITS[ip_scope], kind
        assert not account_scope.endswith("_ip") and DEFAULT_RATE_LIMITS[account_scope], kind
        count, _, _ = DEFAULT_RATE_LIMITS[account_scope].partition("/")
        assert int(count) <= 100, kind  # NIST SP 800-63B §5.2.2
