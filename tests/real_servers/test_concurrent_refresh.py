"""Concurrent refresh rotation on the real PostgreSQL server (``select_for_update`` is a
no-op on SQLite, so only this proves the lock).

N threads present the same refresh token at the same instant: exactly one rotation wins and
the family never forks (one successor, one spent digest). Under the default grace window the
losers get the winner's successor: every answer is 200 and the session lives on (two tabs, or a
client retrying a lost answer). In strict mode (grace 0, opt-in) the losers count as reuse of a
spent token, which revokes the family (RFC 9700 §4.14.2).
"""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from freezegun import freeze_time
from rest_framework.test import APIClient

from django_dualauth.delivery import refresh_cookie_name
from django_dualauth.exceptions import DualAuthError
from django_dualauth.models import AuthSession, RotatedRefreshToken
from django_dualauth.models.sessions import RevocationReason
from django_dualauth.services.sessions import issue_session, rotate_refresh_token
from django_dualauth.types import ClientInfo
from tests.conftest import AuthClient
from tests.real_servers.concurrency import N, race

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

CLIENT = ClientInfo(ip_address="203.0.113.9", user_agent="race")


def test_runs_on_postgresql() -> None:
    assert connection.vendor == "postgresql"


def test_same_token_n_times_at_once_one_winner_no_fork(user: Any, settings: Any) -> None:
    settings.DUALAUTH_REFRESH_REUSE_GRACE = 0  # strict mode
    issued = issue_session(user, delivery="bearer", client=CLIENT)

    results = race(N, lambda: rotate_refresh_token(issued.refresh_token, presented_via="bearer",
                                                    client=CLIENT))

    winners = [r for r in results if not isinstance(r, Exception)]
    losers = [r for r in results if isinstance(r, Exception)]
    assert len(winners) == 1, results
    assert all(isinstance(r, DualAuthError) and r.status == 401 for r in losers), losers
    session = AuthSession.objects.get(pk=issued.session_id)
    assert session.generation == 1  # rotated once, not N times
    assert RotatedRefreshToken.objects.filter(session=session).count() == 1
    # The losers presented a spent token: reuse, the family is revoked.
    assert session.revoked_at is not None and session.revoked_reason == RevocationReason.REUSE


def test_with_grace_window_every_racer_gets_the_same_successor(user: Any, settings: Any) -> None:
    settings.DUALAUTH_REFRESH_REUSE_GRACE = 30
    issued = issue_session(user, delivery="bearer", client=CLIENT)

    results = race(N, lambda: rotate_refresh_token(issued.refresh_token, presented_via="bearer",
                                                    client=CLIENT))

    assert not [r for r in results if isinstance(r, Exception)], results
    assert len({r.refresh_token for r in results}) == 1  # one successor: no fork
    session = AuthSession.objects.get(pk=issued.session_id)
    assert session.generation == 1 and session.revoked_at is None
    assert RotatedRefreshToken.objects.filter(session=session).count() == 1


def test_http_refresh_race_bearer_strict_mode(user: Any, password: str, settings: Any) -> None:
    settings.DUALAUTH_REFRESH_REUSE_GRACE = 0
    login = APIClient().post("/auth/login", {"email": user.email, "password": password}, format="json",
                             HTTP_X_AUTH_STRATEGY="bearer")
    assert login.status_code == 200, login.content
    token = login.json()["refreshToken"]

    def refresh() -> int:
        return APIClient().post("/auth/refresh", {"refreshToken": token}, format="json",
                                HTTP_X_AUTH_STRATEGY="bearer").status_code

    codes = race(N, refresh)
    assert sorted(codes) == [200] + [401] * (N - 1), codes
    assert RotatedRefreshToken.objects.count() == 1


@pytest.mark.parametrize("delivery", ["cookie", "bearer"])
def test_http_refresh_race_under_the_default_grace_keeps_the_session(user: Any, delivery: str) -> None:
    """20 requests with one token at once (tabs, retries of a lost answer), default settings:
    every answer is 200 with the one successor, and the session lives on and rotates again.
    The clock is frozen so that how long the race takes on a loaded machine cannot matter."""
    n = 20
    owner = AuthClient(delivery)
    with freeze_time("2030-01-01 12:00:00", tick=False):
        assert owner.login().status_code == 200
        token = owner.refresh_token
        jar = dict(owner.client.cookies.items())

        def refresh() -> tuple[int, str | None]:
            client = APIClient(enforce_csrf_checks=True)
            for name, morsel in jar.items():
                client.cookies[name] = morsel.value
            response = client.post("/auth/refresh", {} if owner.is_cookie else {"refreshToken": token},
                                   format="json", **owner.headers(auth=False))
            if response.status_code != 200:
                return response.status_code, None
            if owner.is_cookie:
                return 200, str(response.cookies[refresh_cookie_name()].value)
            return 200, str(response.json()["refreshToken"])

        answers = race(n, refresh)
        assert [a for a in answers if not isinstance(a, tuple) or a[0] != 200] == [], answers
        successors = {a[1] for a in answers}
        assert len(successors) == 1 and token not in successors
        session = AuthSession.objects.get()
        assert session.revoked_at is None and session.generation == 1
        assert RotatedRefreshToken.objects.count() == 1

        # The session is alive: the successor rotates once more, normally.
        [successor] = successors
        if owner.is_cookie:
            owner.client.cookies[refresh_cookie_name()] = successor
        else:
            owner.refresh_token = successor
        assert owner.refresh().status_code == 200
        assert AuthSession.objects.get().generation == 2
