"""Staff actions racing the user's own refresh on the real PostgreSQL server (issue 20): the
refresh must lose. Whichever takes the session row's lock first, afterwards the session is
revoked, the user inactive, and nothing the refresh answered still works."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth import get_user_model

from django_dualauth.exceptions import DualAuthError
from django_dualauth.models import AuthSession
from django_dualauth.services import authenticate_access_token, staff
from django_dualauth.services.sessions import issue_session, rotate_refresh_token
from django_dualauth.types import ClientInfo, IssuedTokens
from tests.real_servers.concurrency import together

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

CLIENT = ClientInfo(ip_address="203.0.113.9", user_agent="race")
ROUNDS = 8


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

    refreshed, revoked = together((
        lambda: rotate_refresh_token(issued.refresh_token, presented_via="bearer", client=CLIENT),
        lambda: staff.deactivate(target, staff=admin, reason="race")))

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

    refreshed, _ = together((
        lambda: rotate_refresh_token(issued.refresh_token, presented_via="bearer", client=CLIENT),
        lambda: staff.revoke_sessions([sid], staff=admin, reason="race", current=None)))

    assert AuthSession.objects.get(pk=sid).revoked_at is not None
    if isinstance(refreshed, IssuedTokens):
        _dead(refreshed)
