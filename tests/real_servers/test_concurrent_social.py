"""Social sign-in under concurrency on the real PostgreSQL server: a nonce is spent once however
many exchanges present it at the same moment, a first sign-in made twice at once creates one
account and one link, and a mailed link token links and signs in once."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth import get_user_model

from django_dualauth.conf import snapshot
from django_dualauth.exceptions import DualAuthError
from django_dualauth.models import AuthSession, LinkedAccount, LinkToken, OAuthNonce
from django_dualauth.services import social, social_linking
from django_dualauth.services.claims import update_account_state
from django_dualauth.types import ClientInfo, IssuedTokens
from tests.real_servers.concurrency import N, race
from tests.social.helpers import apple, corp, google, google_token, provider_settings
from tests.social.standin_issuers import StandinIssuer

__all__ = ["apple", "corp", "google"]  # fixtures

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

CLIENT = ClientInfo(ip_address="203.0.113.10", user_agent="race")


@pytest.fixture
def google_provider(settings: Any, google: StandinIssuer, apple: StandinIssuer, corp: StandinIssuer) -> Any:
    settings.DUALAUTH_SOCIAL_PROVIDERS = provider_settings(google, apple, corp)
    return snapshot().social_providers["google"]


def test_one_nonce_presented_in_parallel_signs_in_once(google_provider: Any, google: StandinIssuer) -> None:
    raw, _ = social.issue_nonce(google_provider, client=CLIENT)
    token = google_token(google, raw)
    google_provider.keys.key_for(google.keys[0].kid)  # keys fetched before the race: it is about the nonce

    results = race(N, lambda: social.sign_in_with_id_token(google_provider, token, raw, delivery="bearer",
                                                            client=CLIENT))

    assert len([r for r in results if isinstance(r, IssuedTokens)]) == 1, results
    assert all(isinstance(r, DualAuthError) and r.code == "INVALID_NONCE"
               for r in results if not isinstance(r, IssuedTokens)), results
    assert AuthSession.objects.count() == 1 and get_user_model().objects.count() == 1
    assert OAuthNonce.objects.get().consumed_at is not None


def test_a_first_sign_in_made_twice_at_once_creates_one_account(google_provider: Any,
                                                                google: StandinIssuer) -> None:
    pairs = []
    for _ in range(4):
        raw, _ = social.issue_nonce(google_provider, client=CLIENT)
        pairs.append((google_token(google, raw), raw))
    google_provider.keys.key_for(google.keys[0].kid)
    queue = list(pairs)

    def work() -> Any:
        token, raw = queue.pop()
        return social.sign_in_with_id_token(google_provider, token, raw, delivery="bearer", client=CLIENT)

    results = race(len(pairs), work)

    assert any(isinstance(r, IssuedTokens) for r in results), results
    assert all(isinstance(r, IssuedTokens | DualAuthError) for r in results), results
    assert get_user_model().objects.count() == 1 and LinkedAccount.objects.count() == 1


def test_one_link_token_presented_in_parallel_links_and_signs_in_once(google_provider: Any, google: StandinIssuer,
                                                                       django_user_model: Any) -> None:

    user = django_user_model.objects.create_user(username="alice", email="alice@example.com", password="x" * 20)
    # Verified: no first-proof reset changes the password (and the stamp) under the others, so the
    # conditional UPDATE alone decides.
    update_account_state(user, email_verified=True)
    social_linking.remember_conflict("google", "sub-race", "alice@example.com")
    message = social_linking.conflict_link_mail("alice@example.com", "google", client=CLIENT)
    assert message is not None
    raw = message.body.split("token=")[1].split()[0]

    results = race(N, lambda: social_linking.verify_link(raw, delivery="bearer", client=CLIENT))

    won = [r for r in results if isinstance(r, tuple)]
    assert len(won) == 1 and isinstance(won[0][1], IssuedTokens), results
    assert all(isinstance(r, DualAuthError) and r.code == "INVALID_LINK_TOKEN"
               for r in results if not isinstance(r, tuple)), results
    assert LinkedAccount.objects.get().user_id == user.pk
    assert AuthSession.objects.count() == 1
    assert LinkToken.objects.get().consumed_at is not None
