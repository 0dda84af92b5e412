"""Signals of the service layer, under both deliveries: ``session_issued`` on login,
``session_rotated`` on refresh, ``session_revoked`` on logout / logout-all / deactivation /
reuse, ``refresh_token_reused`` on reuse (RT-02), each with exactly its documented kwargs and
sent once the change is visible in the database. Covers the audit records asked for by
SES-01, SES-02, SES-05 and RT-02, and the grace retry of RT-04 (no new rotation)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth import user_logged_in, user_logged_out, user_login_failed
from freezegun import freeze_time

from django_dualauth.conf import dualauth_settings
from django_dualauth.delivery import refresh_cookie_name
from django_dualauth.models import AuthSession
from django_dualauth.signals import (
    refresh_token_reused,
    session_issued,
    session_revoked,
    session_rotated,
)

pytestmark = pytest.mark.django_db

SIGNALS = {
    "session_issued": (session_issued, {"session", "user"}),
    "session_rotated": (session_rotated, {"session", "user", "generation"}),
    "session_revoked": (session_revoked, {"session", "user", "reason", "revoked_by"}),
    "refresh_token_reused": (refresh_token_reused, {"session", "user", "ip_address", "user_agent"}),
}
DJANGO_SIGNALS = {"user_logged_in": user_logged_in, "user_logged_out": user_logged_out,
                  "user_login_failed": user_login_failed}


class Recorder:
    def __init__(self) -> None:
        self.events: list[tuple[str, dict[str, Any]]] = []

    def of(self, name: str) -> list[dict[str, Any]]:
        return [kwargs for event, kwargs in self.events if event == name]

    def names(self) -> list[str]:
        return [event for event, _ in self.events if event in SIGNALS]

    def clear(self) -> None:
        self.events.clear()


@pytest.fixture
def recorder() -> Any:
    rec = Recorder()
    handlers = {}

    def make(name: str) -> Any:
        def handler(sender: Any, **kwargs: Any) -> None:
            kwargs = {**kwargs, "sender": sender}
            session = kwargs.get("session")
            if session is not None:
                # What the database says while the receiver runs: the change is already there.
                kwargs["row"] = AuthSession.objects.filter(pk=session.pk).values(
                    "generation", "revoked_at", "revoked_reason").first()
            rec.events.append((name, kwargs))
        return handler

    for name, signal in {**{n: s for n, (s, _) in SIGNALS.items()}, **DJANGO_SIGNALS}.items():
        handlers[name] = make(name)
        signal.connect(handlers[name], weak=False, dispatch_uid=f"test_signals_{name}")
    yield rec
    for name, signal in {**{n: s for n, (s, _) in SIGNALS.items()}, **DJANGO_SIGNALS}.items():
        signal.disconnect(dispatch_uid=f"test_signals_{name}")


def assert_documented(name: str, kwargs: dict[str, Any]) -> None:
    """Exactly the documented kwargs (plus Django's ``signal``/``sender``); sender is the model."""
    documented = SIGNALS[name][1]
    assert set(kwargs) - {"signal", "sender", "row"} == documented, (name, set(kwargs))
    assert kwargs["sender"] is AuthSession
    assert isinstance(kwargs["session"], AuthSession)


def replay(auth_client: Any, old: str, **extra: Any) -> Any:
    """Present a spent refresh token the way this kind of client would."""
    if auth_client.is_cookie:
        auth_client.client.cookies[refresh_cookie_name()] = old
    else:
        auth_client.refresh_token = old
    return auth_client.refresh(**extra)


def test_login_sends_session_issued(auth_client, user, recorder):
    assert auth_client.login().status_code == 200
    assert recorder.names() == ["session_issued"]
    [event] = recorder.of("session_issued")
    assert_documented("session_issued", event)
    session = AuthSession.objects.get(user=user)
    assert event["session"].pk == session.pk
    assert event["session"].delivery == auth_client.delivery
    assert event["user"] == user
    assert event["row"] is not None  # the row exists when the receiver runs
    [logged_in] = recorder.of("user_logged_in")
    assert logged_in["user"] == user


def test_failed_login_sends_no_session_signal(auth_client, user, recorder):
    assert auth_client.login(password="wrong password!").status_code == 401
    assert recorder.names() == []
    assert len(recorder.of("user_login_failed")) == 1
    assert recorder.of("user_logged_in") == []


def test_refresh_sends_session_rotated_with_the_generation(auth_client, user, recorder):
    auth_client.login()
    issued = recorder.of("session_issued")[0]["session"]
    recorder.clear()
    for generation in (1, 2):
        assert auth_client.refresh().status_code == 200
        event = recorder.of("session_rotated")[-1]
        assert_documented("session_rotated", event)
        assert event["generation"] == generation
        assert event["session"].pk == issued.pk
        assert event["user"] == user
        assert event["row"]["generation"] == generation
    assert recorder.names() == ["session_rotated", "session_rotated"]


def test_failed_refresh_sends_nothing(auth_client, user, recorder):
    auth_client.login()
    recorder.clear()
    if auth_client.is_cookie:
        auth_client.client.cookies[refresh_cookie_name()] = "x" * 43
    else:
        auth_client.refresh_token = "x" * 43
    assert auth_client.refresh().status_code == 401
    assert recorder.names() == []


def test_logout_sends_session_revoked(auth_client, user, recorder):
    auth_client.login()
    session_pk = AuthSession.objects.get().pk
    recorder.clear()
    assert auth_client.logout().status_code == 200
    [event] = recorder.of("session_revoked")
    assert_documented("session_revoked", event)
    assert event["reason"] == "logout"
    assert event["revoked_by"] is None
    assert event["user"] == user
    assert event["session"].pk == session_pk
    assert event["session"].revoked_at is not None
    assert event["row"]["revoked_at"] is not None and event["row"]["revoked_reason"] == "logout"
    assert len(recorder.of("user_logged_out")) == 1
    # A second logout and a refresh of the revoked family announce nothing new.
    recorder.clear()
    auth_client.logout()
    auth_client.refresh()
    assert recorder.names() == []


def test_logout_all_sends_session_revoked_for_each_session(auth_client, client_factory, user,
                                                          user_factory, recorder):
    auth_client.login()
    for other in ("cookie", "bearer"):
        client_factory(other).login()
    bystander = user_factory(email="bob@example.com")
    client_factory("bearer").login(email="bob@example.com")
    mine = set(AuthSession.objects.filter(user=user).values_list("pk", flat=True))
    recorder.clear()
    response = auth_client.logout_all()
    assert response.status_code == 200, response.content
    events = recorder.of("session_revoked")
    assert recorder.names() == ["session_revoked"] * 3
    assert {e["session"].pk for e in events} == mine
    for event in events:
        assert_documented("session_revoked", event)
        assert event["reason"] == "logout_all"
        assert event["revoked_by"] is None
        assert event["user"] == user
        assert event["row"]["revoked_reason"] == "logout_all"
    assert AuthSession.objects.get(user=bystander).revoked_at is None


def test_reuse_sends_refresh_token_reused_and_session_revoked(auth_client, user, recorder):
    with freeze_time("2030-01-01 12:00:00") as clock:
        auth_client.login()
        old = auth_client.refresh_token
        assert auth_client.refresh().status_code == 200
        session_pk = AuthSession.objects.get().pk
        recorder.clear()
        clock.tick(dualauth_settings.REFRESH_REUSE_GRACE + timedelta(seconds=1))  # not a retry
        response = replay(auth_client, old, HTTP_USER_AGENT="Replayer/1.0")
        assert response.status_code == 401
        assert recorder.names() == ["session_revoked", "refresh_token_reused"]
        [revoked] = recorder.of("session_revoked")
        assert revoked["reason"] == "reuse_detected" and revoked["revoked_by"] is None
        assert revoked["session"].pk == session_pk
        [reused] = recorder.of("refresh_token_reused")
        assert_documented("refresh_token_reused", reused)
        assert reused["session"].pk == session_pk
        assert reused["user"] == user
        assert reused["ip_address"] == "127.0.0.1"
        assert reused["user_agent"] == "Replayer/1.0"
        assert reused["row"]["revoked_reason"] == "reuse_detected"
        # Replaying again after the family is revoked is not announced twice.
        recorder.clear()
        replay(auth_client, old)
        assert recorder.names() == []


def test_grace_retry_is_not_a_new_rotation(auth_client, user, recorder, settings):
    settings.DUALAUTH_REFRESH_REUSE_GRACE = timedelta(seconds=10)
    auth_client.login()
    old = auth_client.refresh_token
    assert auth_client.refresh().status_code == 200
    recorder.clear()
    assert replay(auth_client, old).status_code == 200
    assert recorder.names() == []


def test_deactivation_sends_session_revoked(auth_client, client_factory, user, recorder):
    auth_client.login()
    client_factory("bearer").login()
    recorder.clear()
    user.is_active = False
    user.save()
    events = recorder.of("session_revoked")
    assert len(events) == 2
    for event in events:
        assert_documented("session_revoked", event)
        assert event["reason"] == "user_inactive"
        assert event["revoked_by"] is None
    assert auth_client.me().status_code == 401


def test_logout_all_in_cache_mode(auth_client, user, recorder, settings):
    """The zero-query mode hands the view a TokenUser; revocation and its signal still work."""
    settings.DUALAUTH_REVOCATION_CHECK = "cache"
    auth_client.login()
    recorder.clear()
    response = auth_client.logout_all()
    assert response.status_code == 200, response.content
    [event] = recorder.of("session_revoked")
    assert event["reason"] == "logout_all"
    assert event["user"] == user
    assert auth_client.me().status_code == 401
