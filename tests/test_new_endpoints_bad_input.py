"""Bad input on every endpoint added after the core (2FA, magic links, SMS, account flows),
under both deliveries: malformed JSON, a non-object body, wrong types, oversized values and
an oversized body each get a 4xx ``{"error", "code"}``, never a 500, and write nothing."""

from __future__ import annotations

from typing import Any

import pytest

from django_dualauth.models import AccountToken, AuthSession, LoginChallenge, MagicLink, SMSDevice
from tests.conftest import AuthClient

pytestmark = pytest.mark.django_db

ENDPOINTS = [
    ("post", "/auth/2fa/setup"), ("post", "/auth/2fa/verify-setup"), ("post", "/auth/2fa/verify"),
    ("post", "/auth/2fa/disable"), ("post", "/auth/2fa/recovery-codes"),
    ("post", "/auth/magic-link/send"), ("post", "/auth/magic-link/verify"),
    ("post", "/auth/sms/phone"), ("delete", "/auth/sms/phone"), ("post", "/auth/sms/phone/verify"),
    ("post", "/auth/sms/send"), ("post", "/auth/sms/verify"),
    ("post", "/auth/send-verification-email"), ("post", "/auth/verify-email"),
    ("post", "/auth/forgot-password"), ("post", "/auth/reset-password"),
    ("post", "/auth/change-email/request"), ("post", "/auth/change-email/confirm"),
    ("post", "/auth/change-password"), ("delete", "/auth/account"), ("delete", "/auth/sessions/x"),
]
BODIES = {
    "malformed JSON": b'{"email": ',
    "not an object": b'["email", "code"]',
    "wrong types": b'{"email": 5, "code": [1], "token": {"a": 1}, "tempToken": true, "password": 7, '
                   b'"phoneNumber": 4155550123, "totpCode": 1.5, "newEmail": null, "mode": 2}',
    "oversized values": ('{"email": "' + "a" * 5000 + '@example.com", "token": "' + "t" * 5000 + '", '
                         '"code": "' + "1" * 5000 + '", "tempToken": "' + "x" * 5000 + '", "password": "'
                         + "p" * 5000 + '"}').encode(),
    "oversized body": b'{"pad": "' + b"x" * (70 * 1024) + b'"}',
}
ROWS = (AuthSession, LoginChallenge, MagicLink, SMSDevice, AccountToken)


@pytest.fixture(autouse=True)
def _features(settings: Any) -> None:
    settings.DUALAUTH_MAGIC_LINK_ENABLED = True
    settings.DUALAUTH_SMS_ENABLED = True


# Signed in, send-verification-email reads no field: well-formed unknown fields are ignored there.
CASES = [(m, p, b) for m, p in ENDPOINTS for b in BODIES
         if not (p == "/auth/send-verification-email" and b in ("wrong types", "oversized values"))]


@pytest.mark.parametrize(("method", "path", "body"), CASES, ids=[f"{m} {p} {b}" for m, p, b in CASES])
def test_bad_input_is_a_clear_4xx(auth_client: AuthClient, user: Any, method: str, path: str, body: str) -> None:
    auth_client.login()
    before = {m.__name__: m.objects.count() for m in ROWS}
    send = getattr(auth_client.client, method)
    response = send(path, BODIES[body], content_type="application/json", **auth_client.headers())
    assert 400 <= response.status_code < 500, (response.status_code, response.content[:200])
    data = response.json()
    assert isinstance(data.get("error"), str) and isinstance(data.get("code"), str), data
    assert {m.__name__: m.objects.count() for m in ROWS} == before
