"""SMS one-time codes: phone verification, login, second factor, gateways.

Catalogue MFA-05 (SMS OTP: CSPRNG 6 digits, 5 minutes, single use, attempt cap, resend
voids the old code, send limits, stored hashed, verified numbers only) and ENUM-02 (the
request endpoint). Endpoint tests run under both deliveries. The single-use race runs on
PostgreSQL in tests/real_servers/test_concurrent_passwordless.py.
"""

from __future__ import annotations

import base64
import json
import re
import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any
from urllib.parse import parse_qs

import pytest
from django.utils import timezone
from freezegun import freeze_time

from django_dualauth.gateways import ConsoleGateway, GatewayError, OutboxGateway, TwilioGateway
from django_dualauth.messaging import dispatch_now
from django_dualauth.models import AuthSession, SMSDevice
from tests.conftest import PASSWORD, AuthClient
from tests.test_two_factor import code_for, device_of, enrol, next_step

pytestmark = pytest.mark.django_db

PHONE = "+14155550123"


@pytest.fixture(autouse=True)
def _sms(settings: Any) -> None:
    settings.DUALAUTH_SMS_ENABLED = True
    settings.DUALAUTH_SMS_THROTTLE_FACTOR = 0
    settings.OTP_TOTP_THROTTLE_FACTOR = 0
    OutboxGateway.outbox.clear()


def last_code() -> str:
    match = re.match(r"(\d{6}) is your", OutboxGateway.outbox[-1].body)
    assert match, OutboxGateway.outbox[-1].body
    return match.group(1)


def wrong(code: str) -> str:
    return f"{(int(code) + 1) % 1_000_000:06d}"


def add_verified_phone(user: Any, number: str = PHONE) -> None:
    client = AuthClient("bearer")
    assert client.login(email=user.email).status_code == 200
    assert client.post("/auth/sms/phone", {"phoneNumber": number}).status_code == 202
    assert client.post("/auth/sms/phone/verify", {"code": last_code()}).status_code == 200
    SMSDevice.objects.filter(user=user).update(last_sent_at=None)  # no resend cooldown left over


@pytest.fixture
def phone_user(user: Any) -> Any:
    add_verified_phone(user)
    return user


def send_login(client: AuthClient, email: str) -> Any:
    return client.post("/auth/sms/send", {"email": email})


def verify_login(client: AuthClient, email: str, code: str) -> Any:
    return client._remember(client.post("/auth/sms/verify", {"email": email, "code": code}))


# --- phone verification ----------------------------------------------------------------------

@pytest.mark.parametrize("number", ["4155550123", "+1415555", "not a phone", "+999 123", 4155550123, "+1" * 40])
def test_invalid_numbers_are_refused(auth_client: AuthClient, user: Any, number: Any) -> None:
    auth_client.login()
    r = auth_client.post("/auth/sms/phone", {"phoneNumber": number})
    assert (r.status_code, r.json()["code"]) == (400, "VALIDATION_ERROR")
    assert not OutboxGateway.outbox and not SMSDevice.objects.exists()


def test_adding_and_verifying_a_phone(auth_client: AuthClient, user: Any, client_factory: Any) -> None:
    other = client_factory("bearer")
    other.login()
    auth_client.login()
    r = auth_client.post("/auth/sms/phone", {"phoneNumber": "+1 (415) 555-0123"})
    assert r.status_code == 202 and r.json() == {"success": True}
    assert OutboxGateway.outbox[-1].to == PHONE  # stored and sent in E.164
    device = SMSDevice.objects.get(user=user)
    code = last_code()
    assert not device.confirmed and code not in device.code_digest
    bad = auth_client.post("/auth/sms/phone/verify", {"code": wrong(code)})
    assert (bad.status_code, bad.json()["code"]) == (400, "INVALID_SMS_CODE")  # 400: the caller is signed in
    ok = auth_client.post("/auth/sms/phone/verify", {"code": code})
    assert ok.status_code == 200, ok.content
    assert SMSDevice.objects.get(user=user).confirmed
    assert other.refresh().status_code == 401  # a new factor revokes the other sessions
    assert auth_client.me().status_code == 200


def test_replacing_a_verified_phone_needs_the_password(auth_client: AuthClient, phone_user: Any) -> None:
    """MFA-10: a stolen access token cannot move the factor to the attacker's phone."""
    auth_client.login()
    r = auth_client.post("/auth/sms/phone", {"phoneNumber": "+14155550199"})
    assert (r.status_code, r.json()["code"]) == (403, "REAUTHENTICATION_FAILED")
    r = auth_client.post("/auth/sms/phone", {"phoneNumber": "+14155550199", "password": PASSWORD})
    assert r.status_code == 202
    assert auth_client.post("/auth/sms/phone/verify", {"code": last_code()}).status_code == 200
    assert list(SMSDevice.objects.values_list("number", "confirmed")) == [("+14155550199", True)]


def test_phone_endpoints_need_authentication(auth_client: AuthClient) -> None:
    r = auth_client.post("/auth/sms/phone", {"phoneNumber": PHONE})
    assert r.status_code == 401 and not OutboxGateway.outbox


# --- login by code (ENUM-02, MFA-05) --------------------------------------------------------

def test_send_answers_the_same_whatever_the_account(auth_client: AuthClient, phone_user: Any,
                                                    user_factory: Any) -> None:
    user_factory("nophone@example.com")
    ghost = user_factory("ghost@example.com")
    add_verified_phone(ghost, "+14155550111")
    ghost.is_active = False
    ghost.save()
    unverified = user_factory("pending@example.com")
    pending = AuthClient("bearer")
    pending.login(email=unverified.email)
    pending.post("/auth/sms/phone", {"phoneNumber": "+14155550122"})
    OutboxGateway.outbox.clear()
    answers = [send_login(auth_client, e) for e in (phone_user.email, "nophone@example.com",
                                                     "nobody@example.com", ghost.email, unverified.email)]
    assert {(r.status_code, r.content) for r in answers} == {(202, b'{"success":true}')}
    assert [m.to for m in OutboxGateway.outbox] == [PHONE]  # never to an unverified number


def test_login_by_code(auth_client: AuthClient, phone_user: Any) -> None:
    send_login(auth_client, phone_user.email.upper())
    code = last_code()
    r = verify_login(auth_client, phone_user.email, code)
    assert r.status_code == 200, r.content
    assert auth_client.me().status_code == 200
    assert AuthSession.objects.filter(delivery=auth_client.delivery).latest("created_at").auth_methods == ["sms"]
    again = verify_login(AuthClient(auth_client.delivery), phone_user.email, code)
    assert (again.status_code, again.json()["code"]) == (401, "INVALID_SMS_CODE")


def test_codes_are_six_random_digits_stored_as_digests(phone_user: Any, auth_client: AuthClient) -> None:
    codes = set()
    for _ in range(5):
        SMSDevice.objects.filter(user=phone_user).update(last_sent_at=None)
        send_login(auth_client, phone_user.email)
        codes.add(last_code())
        assert last_code() not in SMSDevice.objects.get(user=phone_user).code_digest
    assert len(codes) >= 4


def test_a_code_expires_after_five_minutes(auth_client: AuthClient, phone_user: Any) -> None:
    send_login(auth_client, phone_user.email)
    with freeze_time(timezone.now() + timedelta(minutes=5, seconds=1)):
        r = verify_login(auth_client, phone_user.email, last_code())
    assert (r.status_code, r.json()["code"]) == (401, "INVALID_SMS_CODE")


def test_three_wrong_guesses_void_the_code(auth_client: AuthClient, phone_user: Any) -> None:
    send_login(auth_client, phone_user.email)
    code = last_code()
    for _ in range(3):
        assert verify_login(auth_client, phone_user.email, wrong(code)).status_code == 401
    assert verify_login(auth_client, phone_user.email, code).status_code == 401


def test_a_resend_voids_the_old_code_and_waits_a_cooldown(auth_client: AuthClient, phone_user: Any) -> None:
    send_login(auth_client, phone_user.email)
    first = last_code()
    send_login(auth_client, phone_user.email)  # within the cooldown: 202, nothing sent
    assert len(OutboxGateway.outbox) == 2  # the phone verification's and the first login code
    with freeze_time(timezone.now() + timedelta(seconds=61)):
        send_login(auth_client, phone_user.email)
        second = last_code()
        assert len(OutboxGateway.outbox) == 3
        assert verify_login(auth_client, phone_user.email, first).status_code == 401 or first == second
        assert verify_login(auth_client, phone_user.email, second).status_code == 200


def test_sends_are_limited_per_number_and_per_ip(auth_client: AuthClient, phone_user: Any, settings: Any) -> None:
    settings.DUALAUTH_SMS_RESEND_COOLDOWN = 0
    settings.DUALAUTH_RATE_LIMITS = {"sms_send_phone": "2/h", "sms_send_ip": "100/h"}
    before = len(OutboxGateway.outbox)
    for _ in range(4):
        assert send_login(auth_client, phone_user.email).status_code == 202  # silent: no enumeration
    assert len(OutboxGateway.outbox) - before == 2  # then silence, whatever the account
    settings.DUALAUTH_RATE_LIMITS = {"sms_send_ip": "1/h"}
    assert send_login(auth_client, "x@example.com").status_code == 202
    assert send_login(auth_client, "y@example.com").status_code == 429


def test_wrong_codes_are_limited_per_ip(auth_client: AuthClient, phone_user: Any, settings: Any) -> None:
    settings.DUALAUTH_RATE_LIMITS = {"sms_verify_ip": "2/h"}
    send_login(auth_client, phone_user.email)
    code = last_code()
    for _ in range(2):
        verify_login(auth_client, phone_user.email, wrong(code))
    r = verify_login(auth_client, phone_user.email, code)
    assert (r.status_code, r.json()["code"]) == (429, "RATE_LIMITED")


def test_device_throttle_on_the_second_factor_path(auth_client: AuthClient, phone_user: Any,
                                                   settings: Any) -> None:
    """Behind a verified password, django-otp's growing delay applies per device."""
    settings.DUALAUTH_SMS_THROTTLE_FACTOR = 10
    settings.DUALAUTH_REQUIRE_2FA = True
    temp = auth_client.login().json()["tempToken"]
    auth_client.post("/auth/sms/send", {"mode": "2fa", "tempToken": temp})
    code = last_code()
    bad = auth_client.post("/auth/sms/verify", {"mode": "2fa", "tempToken": temp, "code": wrong(code)})
    assert bad.status_code == 401
    r = auth_client.post("/auth/sms/verify", {"mode": "2fa", "tempToken": temp, "code": code})
    assert (r.status_code, r.json()["code"]) == (429, "RATE_LIMITED") and int(r["Retry-After"]) >= 1


def test_strangers_cannot_lock_a_phone_or_learn_it_exists(auth_client: AuthClient, phone_user: Any,
                                                           settings: Any) -> None:
    """Wrong login codes with no code pending change nothing; the per-address limit answers
    429 alike for an account with a phone and for an unknown address."""
    settings.DUALAUTH_SMS_THROTTLE_FACTOR = 10
    for _ in range(5):
        verify_login(auth_client, phone_user.email, "000000")
    device = SMSDevice.objects.get(user=phone_user)
    assert device.throttling_failure_count == 0 and device.code_attempts == 0
    send_login(auth_client, phone_user.email)
    assert verify_login(auth_client, phone_user.email, last_code()).status_code == 200

    settings.DUALAUTH_RATE_LIMITS = {"sms_verify_email": "2/h"}
    answers = []
    for email in (phone_user.email, "nobody@example.com"):
        for _ in range(2):
            verify_login(auth_client, email, "000000")
        r = verify_login(auth_client, email, "000000")
        answers.append((r.status_code, r.json()["code"]))
    assert answers == [(429, "RATE_LIMITED")] * 2


def test_removing_a_phone_needs_the_password(auth_client: AuthClient, phone_user: Any) -> None:
    auth_client.login()
    r = auth_client.client.delete("/auth/sms/phone", {"password": "wrong"}, format="json", **auth_client.headers())
    assert (r.status_code, r.json()["code"]) == (403, "REAUTHENTICATION_FAILED")
    r = auth_client.client.delete("/auth/sms/phone", {"password": PASSWORD}, format="json", **auth_client.headers())
    assert r.status_code == 200 and not SMSDevice.objects.exists()


def test_admin_reset_removes_the_phone(phone_user: Any) -> None:
    from django_dualauth.services import twofactor

    twofactor.reset_two_factor(phone_user)
    assert not SMSDevice.objects.exists()


def test_wrong_second_factor_codes_are_reported(auth_client: AuthClient, phone_user: Any, settings: Any) -> None:
    from django_dualauth.signals import two_factor_failed

    settings.DUALAUTH_REQUIRE_2FA = True
    events: list[Any] = []
    two_factor_failed.connect(lambda **kw: events.append(kw), weak=False, dispatch_uid="sms-fail")
    try:
        temp = auth_client.login().json()["tempToken"]
        auth_client.post("/auth/sms/send", {"mode": "2fa", "tempToken": temp})
        auth_client.post("/auth/sms/verify", {"mode": "2fa", "tempToken": temp, "code": wrong(last_code())})
    finally:
        two_factor_failed.disconnect(dispatch_uid="sms-fail")
    assert [(e["user"], e["method"]) for e in events] == [(phone_user, "sms")]


def test_unknown_account_gets_the_same_answer_as_a_wrong_code(auth_client: AuthClient, phone_user: Any) -> None:
    a = verify_login(auth_client, "nobody@example.com", "123456")
    b = verify_login(auth_client, phone_user.email, "123456")
    assert (a.status_code, a.content) == (b.status_code, b.content) == (401, a.content)


def test_verify_in_cookie_mode_is_csrf_checked(phone_user: Any, client_factory: Any) -> None:
    browser = client_factory("cookie")
    send_login(browser, phone_user.email)
    r = browser.client.post("/auth/sms/verify", {"email": phone_user.email, "code": last_code()},
                            format="json", HTTP_ORIGIN="https://evil.example")
    assert (r.status_code, r.json()["code"]) == (403, "CSRF_INVALID")


def test_disabled_by_default(auth_client: AuthClient, settings: Any) -> None:
    settings.DUALAUTH_SMS_ENABLED = False
    for path in ("/auth/sms/send", "/auth/sms/verify", "/auth/sms/phone", "/auth/sms/phone/verify"):
        r = auth_client.post(path, {"email": "a@example.com"})
        assert (r.status_code, r.json()["code"]) == (404, "NOT_FOUND")


@pytest.mark.parametrize("payload", [{}, {"email": "a@example.com"}, {"email": "a@example.com", "code": 123456},
                                     {"mode": "2fa", "code": "123456"}, {"mode": 1, "code": "1"}])
def test_verify_bad_input(auth_client: AuthClient, payload: dict[str, Any]) -> None:
    r = auth_client.post("/auth/sms/verify", payload)
    assert (r.status_code, r.json()["code"]) == (400, "VALIDATION_ERROR")


# --- with TOTP, and as a second factor -------------------------------------------------------

def test_sms_login_of_a_totp_user_yields_the_challenge(auth_client: AuthClient, phone_user: Any) -> None:
    enrol(AuthClient("bearer"), phone_user)
    next_step(device_of(phone_user))
    send_login(auth_client, phone_user.email)
    body = verify_login(auth_client, phone_user.email, last_code()).json()
    assert body["requiresTwoFactor"] is True and body["available2faMethods"] == ["totp"]
    done = auth_client.post("/auth/2fa/verify", {"tempToken": body["tempToken"],
                                                 "totpCode": code_for(device_of(phone_user))})
    assert done.status_code == 200
    assert AuthSession.objects.latest("created_at").auth_methods == ["sms", "otp", "mfa"]


def test_sms_as_second_factor(auth_client: AuthClient, phone_user: Any) -> None:
    enrol(AuthClient("bearer"), phone_user)
    body = auth_client.login().json()
    assert body["available2faMethods"] == ["totp", "sms"]
    temp = body["tempToken"]
    assert auth_client.post("/auth/sms/send", {"mode": "2fa", "tempToken": temp}).status_code == 202
    code = last_code()
    bad = auth_client.post("/auth/sms/verify", {"mode": "2fa", "tempToken": temp, "code": wrong(code)})
    assert (bad.status_code, bad.json()["code"]) == (401, "INVALID_SMS_CODE")
    ok = auth_client._remember(auth_client.post("/auth/sms/verify", {"mode": "2fa", "tempToken": temp,
                                                                     "code": code}))
    assert ok.status_code == 200, ok.content
    assert auth_client.me().status_code == 200
    assert AuthSession.objects.latest("created_at").auth_methods == ["pwd", "sms", "mfa"]


def test_second_factor_send_needs_a_live_temp_token(auth_client: AuthClient, phone_user: Any) -> None:
    r = auth_client.post("/auth/sms/send", {"mode": "2fa", "tempToken": "A" * 43})
    assert (r.status_code, r.json()["code"]) == (401, "INVALID_TEMP_TOKEN")


def test_a_verified_phone_satisfies_a_2fa_policy(auth_client: AuthClient, phone_user: Any, settings: Any) -> None:
    settings.DUALAUTH_REQUIRE_2FA = True
    body = auth_client.login().json()
    assert body["requiresTwoFactor"] is True and body["available2faMethods"] == ["sms"]


# --- gateways --------------------------------------------------------------------------------

class _FakeTwilio(BaseHTTPRequestHandler):
    requests: list[dict[str, Any]] = []
    status = 201

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        length = int(self.headers["Content-Length"])
        _FakeTwilio.requests.append({"path": self.path, "auth": self.headers["Authorization"],
                                     "form": parse_qs(self.rfile.read(length).decode())})
        body = json.dumps({"sid": "SM1"} if self.status < 300 else {"code": 21211, "message": "bad To"})
        self.send_response(self.status)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(body.encode())

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def fake_twilio() -> Any:
    _FakeTwilio.requests, _FakeTwilio.status = [], 201
    server = HTTPServer(("127.0.0.1", 0), _FakeTwilio)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_twilio_gateway_speaks_the_messages_api(fake_twilio: str) -> None:
    gateway = TwilioGateway(account_sid="AC123", auth_token="secret", from_number="+15005550006",
                            base_url=fake_twilio)
    gateway.send(PHONE, "123456 is your code")
    [request] = _FakeTwilio.requests
    assert request["path"] == "/2010-04-01/Accounts/AC123/Messages.json"
    assert request["auth"] == "Basic " + base64.b64encode(b"AC123:secret").decode()
    assert request["form"] == {"To": [PHONE], "From": ["+15005550006"], "Body": ["123456 is your code"]}


def test_twilio_errors_raise_without_the_message(fake_twilio: str) -> None:
    _FakeTwilio.status = 400
    gateway = TwilioGateway(account_sid="AC123", auth_token="secret", from_number="+1", base_url=fake_twilio)
    with pytest.raises(GatewayError) as info:
        gateway.send(PHONE, "654321 is your code")
    assert "21211" in str(info.value) and "654321" not in str(info.value)
    with pytest.raises(GatewayError):
        TwilioGateway(account_sid="a", auth_token="b", from_number="c", base_url="http://127.0.0.1:1",
                      timeout=1).send(PHONE, "x")


def test_the_whole_flow_through_the_twilio_gateway(auth_client: AuthClient, user: Any, settings: Any,
                                                   fake_twilio: str) -> None:
    settings.DUALAUTH_SMS_GATEWAY = "django_dualauth.gateways.TwilioGateway"
    settings.DUALAUTH_SMS_GATEWAY_OPTIONS = {"account_sid": "AC1", "auth_token": "t", "from_number": "+15005550006",
                                             "base_url": fake_twilio}
    auth_client.login()
    assert auth_client.post("/auth/sms/phone", {"phoneNumber": PHONE}).status_code == 202
    code = re.match(r"\d{6}", _FakeTwilio.requests[-1]["form"]["Body"][0]).group(0)
    assert auth_client.post("/auth/sms/phone/verify", {"code": code}).status_code == 200


def test_a_failing_gateway_never_fails_the_request(auth_client: AuthClient, user: Any, settings: Any,
                                                   caplog: Any) -> None:
    settings.DUALAUTH_SMS_GATEWAY = "django_dualauth.gateways.TwilioGateway"
    settings.DUALAUTH_SMS_GATEWAY_OPTIONS = {"account_sid": "a", "auth_token": "b", "from_number": "c",
                                             "base_url": "http://127.0.0.1:1", "timeout": 1}
    auth_client.login()
    assert auth_client.post("/auth/sms/phone", {"phoneNumber": PHONE}).status_code == 202
    assert "message delivery failed" in caplog.text


def test_console_gateway_prints(capsys: Any) -> None:
    dispatch_now(lambda: ConsoleGateway().send(PHONE, "hello"))
    assert PHONE in capsys.readouterr().out


def test_check_warns_about_a_development_gateway_in_production(settings: Any) -> None:
    from django.core.checks import run_checks

    settings.DEBUG = False
    assert [m.id for m in run_checks() if m.id == "dualauth.W005"] == ["dualauth.W005"]
    settings.DUALAUTH_SMS_GATEWAY = "django_dualauth.gateways.TwilioGateway"
    assert not [m for m in run_checks() if m.id == "dualauth.W005"]


def test_admin_shows_phones_without_the_code(admin_client: Any, phone_user: Any, auth_client: AuthClient) -> None:
    send_login(auth_client, phone_user.email)
    device = SMSDevice.objects.get(user=phone_user)
    page = admin_client.get(f"/admin/dualauth/smsdevice/{device.pk}/change/").content.decode()
    listing = admin_client.get("/admin/dualauth/smsdevice/?q=0123").content.decode()
    assert PHONE in listing
    assert last_code() not in page and device.code_digest not in page
