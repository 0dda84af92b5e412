"""Security events on the ``django_dualauth.audit`` logger (catalogue "Record:" lines,
ASVS 16): each event is logged with identifiers only, never a token, code, password or
e-mail address, and client-controlled values cannot forge log lines."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

import pytest
from freezegun import freeze_time

from django_dualauth.conf import dualauth_settings
from tests.conftest import PASSWORD, AuthClient

pytestmark = pytest.mark.django_db


@pytest.fixture
def events(caplog: Any) -> Any:
    caplog.set_level(logging.INFO, logger="django_dualauth.audit")

    def named(name: str) -> list[logging.LogRecord]:
        return [r for r in caplog.records if getattr(r, "event", None) == name]
    return named


def test_login_events(auth_client: AuthClient, user: Any, events: Any) -> None:
    auth_client.login(password="wrong password")
    auth_client.login()
    [failed] = events("auth.login.failed")
    assert failed.levelno == logging.WARNING and failed.fields["ip"] == "127.0.0.1"
    [ok] = events("auth.login.succeeded")
    assert ok.fields["user"] == str(user.pk)
    [issued] = events("auth.session.issued")
    assert issued.fields["delivery"] == auth_client.delivery and issued.fields["amr"] == "pwd"


def test_reuse_and_revocation_events(auth_client: AuthClient, user: Any, events: Any) -> None:
    with freeze_time("2030-01-01 12:00:00") as clock:
        auth_client.login()
        old = auth_client.refresh_token
        auth_client.refresh()
        clock.tick(dualauth_settings.REFRESH_REUSE_GRACE + timedelta(seconds=1))  # not a retry
        if auth_client.is_cookie:
            auth_client.client.cookies["__Host-refreshToken"] = old
            auth_client.refresh()
        else:
            auth_client.post("/auth/refresh", {"refreshToken": old})
    [reuse] = events("auth.refresh.reuse_detected")
    assert reuse.levelno == logging.WARNING and reuse.fields["user"] == str(user.pk)
    [revoked] = events("auth.session.revoked")
    assert revoked.fields["reason"] == "reuse_detected"
    assert revoked.fields["session"] == reuse.fields["family"]


def test_csrf_rejection_is_recorded_without_forged_lines(user: Any, client_factory: Any, events: Any) -> None:
    browser = client_factory("cookie")
    browser.client.post("/auth/login", {"email": user.email, "password": PASSWORD}, format="json",
                        HTTP_ORIGIN="https://evil.example\nauth.login.succeeded user=1")
    [rejected] = events("auth.csrf.rejected")
    assert "\n" not in rejected.getMessage()
    assert "evil.example" in rejected.getMessage()


def test_rate_limit_event_names_the_scope_not_the_key(auth_client: AuthClient, user: Any, events: Any,
                                                      settings: Any) -> None:
    settings.DUALAUTH_RATE_LIMITS = {"login_email": "1/h"}
    auth_client.login(password="wrong password")
    auth_client.login()
    [limited] = events("auth.ratelimit.exceeded")
    assert limited.fields == {"scope": "login_email"}


def test_invalid_token_event(auth_client: AuthClient, user: Any, events: Any) -> None:
    auth_client.client.get("/api/whoami", HTTP_AUTHORIZATION="Bearer not.a.jwt")
    [invalid] = events("auth.token.invalid")
    assert invalid.fields["code"] == "INVALID_ACCESS_TOKEN"


def test_no_secret_ever_reaches_the_logs(auth_client: AuthClient, user: Any, caplog: Any) -> None:
    caplog.set_level(logging.DEBUG)
    auth_client.login(password="wrong password")
    auth_client.login()
    secrets = {PASSWORD, "wrong password", user.email, auth_client.access_token, auth_client.refresh_token}
    auth_client.refresh()
    secrets |= {auth_client.access_token, auth_client.refresh_token}
    auth_client.logout()
    text = "\n".join(f"{r.getMessage()} {getattr(r, 'fields', '')}" for r in caplog.records)
    assert text  # something was logged
    for secret in secrets - {None}:
        assert secret not in text
