"""The cache revocation mode trusts "no marker" only while the cache holds every recent
revocation (services/revocation.py): after a failed marker write, and in a cache that lost its
keys, the database answers until the revocations are republished from it. Under both
deliveries; the SQL each step costs is asserted (the outage's price, and the fast path after).

The same cases across real processes and a Redis that is stopped and started again are in
tests/real_servers/test_revocation_outage.py.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from django.core.cache import caches

from django_dualauth.models import AuthSession
from django_dualauth.services import revocation, revoke_session
from tests.conftest import AuthClient

pytestmark = [pytest.mark.django_db, pytest.mark.both_backends]


@pytest.fixture
def cache_mode(settings: Any) -> None:
    settings.DUALAUTH_REVOCATION_CHECK = "cache"
    settings.DUALAUTH_REVOCATION_PUSH = False  # push has its own tests (tests/real_servers)


@pytest.fixture
def logged_in(auth_client: AuthClient, user: Any, cache_mode: None) -> AuthClient:
    assert auth_client.login().status_code == 200
    assert auth_client.me().status_code == 200
    return auth_client


class Outage:
    """The revocation cache refuses writes (reads still answer): a marker write that fails."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.monkeypatch = monkeypatch

    def __enter__(self) -> None:
        def down(*args: Any, **kwargs: Any) -> None:
            raise ConnectionError("the cache is down")

        self.monkeypatch.setattr(type(caches["default"]), "set_many", down)

    def __exit__(self, *exc: object) -> None:
        self.monkeypatch.undo()


@pytest.fixture
def outage(monkeypatch: pytest.MonkeyPatch) -> Outage:
    return Outage(monkeypatch)


def whoami(ac: AuthClient, token: str) -> Any:
    return ac.client.get("/api/whoami", HTTP_AUTHORIZATION=f"Bearer {token}", HTTP_COOKIE="")


def test_a_logout_whose_marker_write_failed_is_refused_after_the_cache_is_back(
        logged_in: AuthClient, outage: Outage, django_assert_num_queries: Any) -> None:
    token = logged_in.access_token
    with outage:
        assert logged_in.logout().status_code == 200  # logged, not raised; the row is revoked
    assert caches["default"].get(revocation.COMPLETE_KEY) is not None  # the cache itself kept it all

    with django_assert_num_queries(2):  # the republication, then the database check of this request
        response = whoami(logged_in, token)
    assert (response.status_code, response.json()["code"]) == (401, "SESSION_REVOKED")
    with django_assert_num_queries(0):  # republished: the marker answers again
        response = whoami(logged_in, token)
    assert (response.status_code, response.json()["code"]) == (401, "SESSION_REVOKED")


def test_after_the_republication_a_live_session_costs_no_query_again(
        logged_in: AuthClient, user_factory: Any, client_factory: Any, outage: Outage,
        django_assert_num_queries: Any) -> None:
    other = client_factory(logged_in.delivery)
    user_factory(email="other@example.com")
    assert other.login(email="other@example.com").status_code == 200
    with outage:
        assert logged_in.logout().status_code == 200
    with django_assert_num_queries(2):
        assert other.get("/api/whoami").status_code == 200  # not trusted yet: the database answers
    with django_assert_num_queries(0):
        assert other.get("/api/whoami").status_code == 200


def test_a_cache_that_lost_its_markers_is_trusted_by_no_process_until_republished(
        logged_in: AuthClient, django_assert_num_queries: Any) -> None:
    token = logged_in.access_token
    assert logged_in.logout().status_code == 200  # the marker is written
    caches["default"].clear()  # a restart without persistence: every marker gone, and the key
    revocation.forget_failures()  # a process that saw nothing of it

    with django_assert_num_queries(2):
        response = whoami(logged_in, token)
    assert (response.status_code, response.json()["code"]) == (401, "SESSION_REVOKED")
    assert caches["default"].get(revocation.COMPLETE_KEY) is not None
    with django_assert_num_queries(0):
        response = whoami(logged_in, token)
    assert response.status_code == 401


def test_a_failed_read_is_a_failure_too(logged_in: AuthClient, monkeypatch: pytest.MonkeyPatch,
                                        django_assert_num_queries: Any) -> None:
    def down(*args: Any, **kwargs: Any) -> None:
        raise ConnectionError("the cache is down")

    with monkeypatch.context() as mp:
        mp.setattr(type(caches["default"]), "get_many", down)
        with django_assert_num_queries(1):  # the database check, as before
            assert logged_in.get("/api/whoami").status_code == 200
    # Revocations made elsewhere meanwhile may be missing: republished before trusted again.
    with django_assert_num_queries(2):
        assert logged_in.get("/api/whoami").status_code == 200
    with django_assert_num_queries(0):
        assert logged_in.get("/api/whoami").status_code == 200


# --- republish() ------------------------------------------------------------------------------

@pytest.fixture
def revoked(user: Any, cache_mode: None) -> Iterator[list[str]]:
    sessions = [AuthSession.objects.create(
        user=user, delivery="bearer", refresh_digest=uuid.uuid4().hex,
        expires_at="2999-01-01T00:00:00Z", absolute_expires_at="2999-01-01T00:00:00Z") for _ in range(3)]
    for s in sessions:
        revoke_session(s, reason="admin")
    yield [str(s.pk) for s in sessions]


def test_republish_writes_only_the_missing_markers_then_the_key(revoked: list[str]) -> None:
    cache = caches["default"]
    cache.delete_many([f"dualauth:revoked:{sid}" for sid in revoked[1:]] + [revocation.COMPLETE_KEY])
    assert revocation.republish() == 2
    assert all(revocation.is_revoked(sid) is True for sid in revoked)
    assert cache.get(revocation.COMPLETE_KEY) is not None
    assert revocation.republish() == 0


def test_a_session_revoked_before_a_marker_lifetime_is_not_republished(
        revoked: list[str], django_assert_num_queries: Any) -> None:
    AuthSession.objects.filter(pk=revoked[0]).update(revoked_at="2000-01-01T00:00:00Z")
    caches["default"].clear()
    assert revocation.republish() == 2  # its access tokens have all expired long ago


def test_a_cache_emptied_during_the_republication_is_not_marked_complete(
        revoked: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    cache = caches["default"]
    cache.clear()
    original = type(cache).set_many

    def set_then_restart(self: Any, *args: Any, **kwargs: Any) -> Any:
        answer = original(self, *args, **kwargs)
        self.clear()  # restarted empty after the markers were written, before the key
        return answer

    monkeypatch.setattr(type(cache), "set_many", set_then_restart)
    with pytest.raises(RuntimeError, match="lost its keys"):
        revocation.republish()
    monkeypatch.undo()
    assert cache.get(revocation.COMPLETE_KEY) is None
    assert revocation.is_revoked(revoked[0]) is None  # still not trusted: the database answers
    assert revocation.is_revoked(revoked[0]) is True  # that check republished it


def test_a_republication_that_fails_is_retried_after_a_pause(
        revoked: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    caches["default"].clear()
    calls: list[int] = []
    original = revocation.republish

    def failing() -> int:
        calls.append(1)
        raise ConnectionError("the database is down")

    monkeypatch.setattr(revocation, "republish", failing)
    assert revocation.is_revoked(str(uuid.uuid4())) is None
    assert revocation.is_revoked(str(uuid.uuid4())) is None
    assert len(calls) == 1  # not once per request while it keeps failing
    monkeypatch.setattr(revocation, "republish", original)
    monkeypatch.setattr(revocation._trust, "retry_at", 0.0)
    assert revocation.is_revoked(revoked[0]) is None
    assert revocation.is_revoked(revoked[0]) is True
