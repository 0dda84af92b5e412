"""What an id_token sign-in costs and what it does not need (issue 19), under both deliveries:
the SQL of a first sign-in (the user and the link created) and of a returning user's, no network
at all once the key set is cached, and a first sign-in that loses the race to a parallel one of
the same identity signed in to the account the winner made (deterministic here; the real race is
in tests/real_servers/test_concurrent_social.py).

The budgets, measured on SQLite and PostgreSQL alike (``both_backends``):

* the nonce, 1: its INSERT.
* returning user, 7: the nonce spent (1 UPDATE); one transaction (SAVEPOINT, RELEASE) holding the
  link with its user and account state (1 SELECT), the link touched (1 UPDATE), the session
  (1 INSERT); ``last_login`` (1 UPDATE, Django's ``user_logged_in`` receiver).
* first sign-in, 22: the nonce spent (1 UPDATE); the transaction (SAVEPOINT, RELEASE: 2, a
  BEGIN and COMMIT outside the test's own transaction); the link looked up and the address
  (2 SELECT); the address claimed in a savepoint (3); the user made (1 INSERT) and its unusable
  password stored (1 UPDATE); the claim bound (1 UPDATE); the account state (Django's
  ``update_or_create``: SELECT and INSERT in two savepoints, 6); the link in a savepoint (3);
  the session (1 INSERT); ``last_login`` (1 UPDATE).
"""

from __future__ import annotations

import socket
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from django_dualauth.models import AuthSession, LinkedAccount
from django_dualauth.services import email_claims, social
from django_dualauth.services.access_tokens import decode_access_token
from django_dualauth.services.claims import update_account_state
from django_dualauth.testing import AuthClient
from tests.social.helpers import (
    apple,
    corp,
    exchange,
    get_nonce,
    google,
    google_token,
    providers,
    sign_in_with_google,
)
from tests.social.standin_issuers import StandinIssuer

__all__ = ["apple", "corp", "google", "providers"]  # fixtures

pytestmark = [pytest.mark.django_db, pytest.mark.both_backends]

RETURNING_QUERIES = 7
FIRST_QUERIES = 22


def _warm_keys(google: StandinIssuer) -> None:
    """One sign-in of another account: the key set fetched, as in any process after its first."""
    assert sign_in_with_google(AuthClient("bearer"), google, sub="warm", email="warm@example.com").status_code == 200


def test_a_nonce_costs_one_insert(auth_client: AuthClient, providers: Any, django_assert_num_queries: Any) -> None:
    with django_assert_num_queries(1):
        get_nonce(auth_client)


def test_a_returning_users_sign_in_costs_a_fixed_number_of_queries(
        auth_client: AuthClient, providers: Any, google: StandinIssuer, user: Any,
        django_assert_num_queries: Any) -> None:
    LinkedAccount.objects.create(user=user, provider="google", provider_account_id="1234567890", email=user.email,
                                 linked_at=timezone.now())
    update_account_state(user, email_verified=True)
    _warm_keys(google)
    nonce = get_nonce(auth_client)
    token = google_token(google, nonce)

    with django_assert_num_queries(RETURNING_QUERIES):
        response = exchange(auth_client, "google", token, nonce)

    assert response.status_code == 200, response.content
    assert AuthSession.objects.filter(user=user).count() == 1


def test_a_first_sign_in_costs_a_fixed_number_of_queries(
        auth_client: AuthClient, providers: Any, google: StandinIssuer, django_assert_num_queries: Any) -> None:
    _warm_keys(google)
    nonce = get_nonce(auth_client)
    token = google_token(google, nonce, sub="first", email="first@example.com")

    with django_assert_num_queries(FIRST_QUERIES):
        response = exchange(auth_client, "google", token, nonce)

    assert response.status_code == 200, response.content
    assert LinkedAccount.objects.get(provider_account_id="first").user.email == "first@example.com"


def test_a_steady_state_sign_in_opens_no_connection_at_all(
        auth_client: AuthClient, providers: Any, google: StandinIssuer, monkeypatch: Any, settings: Any) -> None:
    # Stronger than counting the stand-in's hits (test_social_native): with the keys cached, the
    # exchange would fail on any connect, to the provider or anywhere else. The test settings'
    # SQLite and local-memory cache need no socket; on PostgreSQL the connection is already open.
    _warm_keys(google)
    nonce = get_nonce(auth_client)
    token = google_token(google, nonce)
    fetched = google.key_fetches

    def refuse(self: socket.socket, address: Any) -> None:
        raise AssertionError(f"a connection to {address!r} during a steady-state sign-in")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    response = exchange(auth_client, "google", token, nonce)
    monkeypatch.undo()

    assert response.status_code == 200, response.content
    assert google.key_fetches == fetched


def test_a_first_sign_in_that_loses_the_race_signs_in_to_the_winners_account(
        auth_client: AuthClient, providers: Any, google: StandinIssuer, monkeypatch: Any) -> None:
    # A parallel first sign-in of the same identity committed the user and the link after this
    # request's look-up found none; its own INSERT met a unique index and its transaction rolled
    # back (simulated: the winner's rows exist, and the first look-up does not see them). It
    # proved the same identity, so it is signed in to that account, not refused with a conflict.
    nonce = get_nonce(auth_client)
    token = google_token(google, nonce)
    winner = get_user_model().objects.create_user(username="winner", email="alice@example.com")
    LinkedAccount.objects.create(user=winner, provider="google", provider_account_id="1234567890",
                                 email=winner.email, linked_at=timezone.now())
    real_account_for, calls = social._account_for, []

    def lost_then_real(*args: Any, retried: bool = False, **kwargs: Any) -> Any:
        calls.append(retried)
        if not retried:
            raise social._LostFirstSignIn()
        return real_account_for(*args, retried=retried, **kwargs)

    monkeypatch.setattr(social, "_account_for", lost_then_real)
    response = exchange(auth_client, "google", token, nonce)

    assert response.status_code == 200, response.content
    assert calls == [False, True]
    assert get_user_model().objects.get() == winner and LinkedAccount.objects.get().user == winner
    assert AuthSession.objects.get().user_id == winner.pk
    if auth_client.access_token:  # bearer: the tokens are in the body
        assert decode_access_token(auth_client.access_token).claims["sub"] == str(winner.pk)


@pytest.mark.parametrize("lost", ["claim", "user_insert", "link_insert"])
def test_a_unique_index_met_by_a_first_sign_in_is_a_lost_race_then_a_conflict(
        providers: Any, monkeypatch: Any, lost: str) -> None:
    # What the first attempt turns into a look-up again, and the second into the usual conflict
    # (never an IntegrityError, never a loop).
    from django.db import IntegrityError, transaction

    from django_dualauth.conf import snapshot
    from django_dualauth.exceptions import EmailTaken, OAuthAccountConflict

    if lost == "claim":
        monkeypatch.setattr(email_claims, "claim_address", lambda *a, **k: (_ for _ in ()).throw(EmailTaken()))
    elif lost == "user_insert":
        def clash(**fields: Any) -> Any:
            raise IntegrityError("duplicate key value violates unique constraint")
        monkeypatch.setattr(get_user_model()._default_manager, "create_user", clash)
    else:
        monkeypatch.setattr(LinkedAccount.objects, "create", lambda **k: (_ for _ in ()).throw(IntegrityError("dup")))
    provider = snapshot().social_providers["google"]
    identity = social.ProviderIdentity("google", "race", "race@example.com", True)
    with pytest.raises(social._LostFirstSignIn), transaction.atomic():
        social._account_for(provider, identity, {})
    with pytest.raises(OAuthAccountConflict), transaction.atomic():
        social._account_for(provider, identity, {}, retried=True)
    assert not LinkedAccount.objects.exists()
