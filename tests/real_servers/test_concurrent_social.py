"""Social sign-in under concurrency on the real PostgreSQL server: a nonce is spent once however
many exchanges present it at the same moment, a first sign-in made N times at once creates one
account and one link and signs every one of them in to it, and a mailed link token links and
signs in once."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth import get_user_model

from django_dualauth.conf import snapshot
from django_dualauth.exceptions import DualAuthError
from django_dualauth.models import AuthSession, LinkedAccount, LinkToken, OAuthNonce
from django_dualauth.services import social, social_linking
from django_dualauth.services.access_tokens import decode_access_token
from django_dualauth.services.claims import update_account_state
from django_dualauth.types import ClientInfo, IssuedTokens
from tests.real_servers.concurrency import N, race, together
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


@pytest.mark.parametrize("existing", [False, True], ids=["new-account", "linked-by-verified-address"])
def test_a_first_sign_in_made_n_times_at_once_signs_every_one_in_to_one_account(
        settings: Any, google: StandinIssuer, apple: StandinIssuer, corp: StandinIssuer, django_user_model: Any,
        existing: bool) -> None:
    # N app instances (or retries) with their own nonces present the same new provider identity
    # at once. Each one proved that identity, so each is signed in, to the one account that the
    # winner created (or linked, where the provider may link by a verified address); the losers'
    # INSERTs meet the unique indexes, and they look up again.
    settings.DUALAUTH_SOCIAL_PROVIDERS = provider_settings(google, apple, corp, link_verified_email=existing)
    if existing:
        owner = django_user_model.objects.create_user(username="alice", email="alice@example.com", password="x" * 20)
        update_account_state(owner, email_verified=True)
    provider = snapshot().social_providers["google"]
    pairs = []
    for _ in range(N):
        raw, _ = social.issue_nonce(provider, client=CLIENT)
        pairs.append((google_token(google, raw), raw))
    provider.keys.key_for(google.keys[0].kid)  # keys fetched before the race: it is about the rows
    work = [lambda token=token, raw=raw: social.sign_in_with_id_token(provider, token, raw, delivery="bearer",
                                                                      client=CLIENT)
            for token, raw in pairs]

    results = together(work)

    assert all(isinstance(r, IssuedTokens) for r in results), results
    user = get_user_model().objects.get()
    link = LinkedAccount.objects.get()
    assert (link.user_id, link.provider, link.provider_account_id) == (user.pk, "google", "1234567890")
    assert user.has_usable_password() is existing
    sessions = AuthSession.objects.all()
    assert len(sessions) == N and {s.user_id for s in sessions} == {user.pk}
    assert {decode_access_token(r.access_token).claims["sub"] for r in results} == {str(user.pk)}
    assert OAuthNonce.objects.filter(consumed_at__isnull=True).count() == 0


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
