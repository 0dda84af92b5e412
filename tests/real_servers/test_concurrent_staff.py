"""Staff actions racing the user's own refresh on the real PostgreSQL server (issue 20): the
refresh must lose. Whichever takes the session row's lock first, afterwards the session is
revoked, the user inactive, and nothing the refresh answered still works."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.db import connection

from django_dualauth.exceptions import DualAuthError
from django_dualauth.models import AuthSession
from django_dualauth.services import authenticate_access_token, staff
from django_dualauth.services.sessions import issue_session, rotate_refresh_token
from django_dualauth.types import ClientInfo, IssuedTokens

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

CLIENT = ClientInfo(ip_address="203.0.113.9", user_agent="race")
ROUNDS = 8


def _together(*work: Callable[[], Any]) -> list[Any]:
    barrier = threading.Barrier(len(work))
    results: list[Any] = [None] * len(work)

    def run(i: int) -> None:
        try:
            barrier.wait()
            results[i] = work[i]()
        except Exception as exc:  # noqa: BLE001 - the outcome is what we assert on
            results[i] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(work))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return results


def _dead(tokens: IssuedTokens) -> None:
    """Neither token of a refresh that raced the revocation still works."""
    with pytest.raises(DualAuthError):
        rotate_refresh_token(tokens.refresh_token, presented_via="bearer", client=CLIENT)
    with pytest.raises(DualAuthError):
        authenticate_access_token(tokens.access_token)


@pytest.mark.parametrize("round_", range(ROUNDS))
def test_deactivation_racing_a_refresh_wins(user_factory: Any, round_: int) -> None:
    admin = user_factory(email="root@example.com", is_staff=True, is_superuser=True)
    target = user_factory(email=f"target{round_}@example.com")
    issued = issue_session(target, delivery="bearer", client=CLIENT)

    refreshed, revoked = _together(
        lambda: rotate_refresh_token(issued.refresh_token, presented_via="bearer", client=CLIENT),
        lambda: staff.deactivate(target, staff=admin, reason="race"))

    assert revoked == 1, revoked  # the session was live when the deactivation locked it
    assert not get_user_model().objects.get(pk=target.pk).is_active
    assert AuthSession.objects.get(pk=issued.session_id).revoked_at is not None
    if isinstance(refreshed, IssuedTokens):
        _dead(refreshed)
    else:
        assert isinstance(refreshed, DualAuthError) and refreshed.status == 401, refreshed


@pytest.mark.parametrize("round_", range(ROUNDS))
def test_revoking_a_selection_racing_a_refresh_wins(user_factory: Any, round_: int) -> None:
    admin = user_factory(email="root@example.com", is_staff=True, is_superuser=True)
    target = user_factory(email=f"target{round_}@example.com")
    issued = issue_session(target, delivery="bearer", client=CLIENT)
    sid = AuthSession.objects.get(pk=issued.session_id).pk

    refreshed, _ = _together(
        lambda: rotate_refresh_token(issued.refresh_token, presented_via="bearer", client=CLIENT),
        lambda: staff.revoke_sessions([sid], staff=admin, reason="race", current=None))

    assert AuthSession.objects.get(pk=sid).revoked_at is not None
    if isinstance(refreshed, IssuedTokens):
        _dead(refreshed)
