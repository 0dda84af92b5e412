"""Apple's token revocation on the real PostgreSQL server, with real commits (no captured
``on_commit``): a deletion sends the revocation once it has committed, a deletion while Apple is
down commits all the same and leaves the revocation queued for the retry command, and two
deletions of the same user racing revoke the token once."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db import close_old_connections

from django_dualauth.models import LinkedAccount, ProviderTokenRevocation
from django_dualauth.services import accounts
from tests.social.apple_standin import AppleStandIn
from tests.test_social_apple import ALICE, apple_rest, apple_sign_in, issued_refresh_tokens, keyed, team

__all__ = ["apple_rest", "keyed", "team"]  # fixtures

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

User = get_user_model()


class _Sink:
    def write(self, text: str) -> None:
        pass

    def flush(self) -> None:
        pass


def test_a_committed_deletion_revokes(keyed: AppleStandIn, client_factory: Any) -> None:
    assert apple_sign_in(client_factory("bearer"), keyed).status_code == 200
    (raw,) = issued_refresh_tokens(keyed)
    accounts.remove_account(User.objects.get(email=ALICE.email))
    assert [r.token for r in keyed.revoked] == [raw]
    assert not ProviderTokenRevocation.objects.exists() and not LinkedAccount.objects.exists()


def test_apple_down_the_deletion_commits_and_the_revocation_waits(keyed: AppleStandIn, client_factory: Any) -> None:
    assert apple_sign_in(client_factory("bearer"), keyed).status_code == 200
    (raw,) = issued_refresh_tokens(keyed)
    keyed.down = True
    accounts.remove_account(User.objects.get(email=ALICE.email))
    assert not User.objects.exists()
    row = ProviderTokenRevocation.objects.get()
    assert row.attempts == 1 and raw not in row.token
    call_command("dualauth_revoke_provider_tokens", "--older-than", "0", stdout=_Sink())
    assert ProviderTokenRevocation.objects.get().attempts == 2  # still down: kept, counted
    keyed.down = False
    call_command("dualauth_revoke_provider_tokens", "--older-than", "0", stdout=_Sink())
    assert [r.token for r in keyed.revoked] == [raw] and not ProviderTokenRevocation.objects.exists()


def test_two_deletions_at_once_revoke_once(keyed: AppleStandIn, client_factory: Any) -> None:
    assert apple_sign_in(client_factory("bearer"), keyed).status_code == 200
    user = User.objects.get(email=ALICE.email)
    start, errors = threading.Barrier(2), []

    def delete() -> None:
        try:
            start.wait(timeout=10)
            accounts.remove_account(User.objects.get(pk=user.pk))
        except User.DoesNotExist:
            pass  # the other one deleted it first: its lock waited, then found no row
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            close_old_connections()

    threads = [threading.Thread(target=delete) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert errors == []
    assert len(keyed.revoked) == 1 and not ProviderTokenRevocation.objects.exists()
