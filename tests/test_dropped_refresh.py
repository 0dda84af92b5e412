"""A refresh whose answer never reaches the client, under the default settings (issue 15, item 3).

The server commits the rotation, then the answer is lost (a dropped mobile connection, a client
timeout, a worker killed after the commit, a second tab that sent the same cookie). The client
still holds the parent and retries. Under the default ``DUALAUTH_REFRESH_REUSE_GRACE`` the retry
inside the window gets the successor the server already committed, the session lives on and the
successor rotates as usual. Outside the window, or for any older ancestor, it is reuse and the
family is revoked (RT-02, RT-04). A thief holding the parent gets nothing the owner does not
also hold: whichever of the two rotates next makes the other's copy reuse.

Each test runs under both deliveries; the clock is frozen and moved by hand, never slept.
"""

from __future__ import annotations

import copy
from datetime import timedelta
from typing import Any

import pytest
from freezegun import freeze_time

from django_dualauth.conf import dualauth_settings
from django_dualauth.delivery import refresh_cookie_name
from django_dualauth.models import AuthSession, RotatedRefreshToken
from django_dualauth.models.sessions import RevocationReason

pytestmark = [pytest.mark.django_db, pytest.mark.both_backends]

T0 = "2030-01-01 12:00:00"
SECOND = timedelta(seconds=1)


def grace() -> timedelta:
    return dualauth_settings.REFRESH_REUSE_GRACE


def dropped_refresh(ac: Any) -> str:
    """POST /auth/refresh and lose the answer: the server commits, the client keeps what it had
    (its cookie jar, or the token in its memory). Returns the successor the server handed out,
    which only the test sees."""
    jar = copy.deepcopy(ac.client.cookies)
    held = ac.refresh_token
    data = {} if ac.is_cookie else {"refreshToken": held}
    response = ac.post("/auth/refresh", data)
    assert response.status_code == 200, response.content
    ac.client.cookies = jar
    if ac.is_cookie:
        assert ac.cookie(refresh_cookie_name()) == held  # the jar never saw the successor
    return ac.issued_refresh(response)


def refreshed(ac: Any, response: Any) -> str:
    assert response.status_code == 200, response.content
    return ac.issued_refresh(response)


def assert_revoked(response: Any) -> None:
    assert response.status_code == 401, response.content
    assert response.json()["code"] == "SESSION_REVOKED"
    assert AuthSession.objects.get().revoked_reason == RevocationReason.REUSE


def test_the_default_grace_is_a_few_seconds():
    """Non-zero (a lost answer must not end the session) and under check W003's 60 s bound."""
    assert timedelta(0) < grace() <= timedelta(seconds=60)


def test_retry_after_a_dropped_answer_gets_the_same_successor(auth_client, user):
    with freeze_time(T0) as clock:
        auth_client.login()
        parent = auth_client.refresh_token
        successor = dropped_refresh(auth_client)
        clock.tick(grace() - SECOND)

        retry = auth_client.refresh()  # the client retries with the parent it still holds
        assert refreshed(auth_client, retry) == successor
        assert auth_client.refresh_token == successor
        session = AuthSession.objects.get()
        assert session.revoked_at is None and session.generation == 1
        assert RotatedRefreshToken.objects.count() == 1  # one rotation, no branch
        assert auth_client.get("/api/whoami").status_code == 200  # the retry's access token works

        # The successor then rotates normally, and the parent is now a grandparent: reuse.
        clock.tick(SECOND)
        nxt = refreshed(auth_client, auth_client.refresh())
        assert nxt not in (parent, successor)
        assert AuthSession.objects.get().generation == 2
        assert auth_client.get("/api/whoami").status_code == 200
        assert_revoked(auth_client.present_refresh(parent))


def test_every_retry_inside_the_window_gets_the_same_successor(auth_client, user):
    """A client that loses several answers in a row (or several tabs) still converges."""
    with freeze_time(T0) as clock:
        auth_client.login()
        successor = dropped_refresh(auth_client)
        for _ in range(3):
            clock.tick(SECOND)
            assert dropped_refresh(auth_client) == successor
        assert refreshed(auth_client, auth_client.refresh()) == successor
        assert AuthSession.objects.get().generation == 1


def test_retry_after_the_window_revokes_the_family(auth_client, user):
    with freeze_time(T0) as clock:
        auth_client.login()
        successor = dropped_refresh(auth_client)
        clock.tick(grace() + SECOND)
        assert_revoked(auth_client.refresh())
        assert_revoked(auth_client.present_refresh(successor))  # the whole family is dead


def test_retry_of_a_grandparent_inside_the_window_revokes_the_family(auth_client, user):
    with freeze_time(T0) as clock:
        auth_client.login()
        grandparent = auth_client.refresh_token
        assert auth_client.refresh().status_code == 200
        clock.tick(SECOND)
        successor = dropped_refresh(auth_client)  # the parent's answer is lost
        clock.tick(SECOND)
        assert_revoked(auth_client.present_refresh(grandparent))
        assert_revoked(auth_client.present_refresh(successor))


@pytest.mark.parametrize("who_rotates_next", ["owner", "thief"])
def test_a_thief_inside_the_window_is_caught_at_the_next_rotation(auth_client, user, client_factory,
                                                                  who_rotates_next):
    """A stolen parent presented inside the window buys the owner's own successor, nothing more:
    the next rotation by either side makes the other's copy reuse, and the family dies."""
    with freeze_time(T0) as clock:
        auth_client.login()
        parent = auth_client.refresh_token
        assert parent is not None
        owners = refreshed(auth_client, auth_client.refresh())
        thief = client_factory(auth_client.delivery)
        clock.tick(SECOND)
        assert refreshed(thief, thief.present_refresh(parent)) == owners  # the same successor, no branch

        clock.tick(dualauth_settings.ACCESS_TOKEN_LIFETIME)  # the next refresh, minutes later
        first, second = (auth_client, thief) if who_rotates_next == "owner" else (thief, auth_client)
        nxt = refreshed(first, first.present_refresh(owners))
        clock.tick(grace() + SECOND)
        assert_revoked(second.present_refresh(owners))
        assert_revoked(first.present_refresh(nxt))  # the side that rotated loses the family too
