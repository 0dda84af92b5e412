"""Item 10 of issue 15 on the real PostgreSQL server: case variants of one address registered at
the same instant make exactly one account (one 201, the rest 409 EMAIL_TAKEN, never a 500), and
an e-mail change confirmed at the same instant as registrations of its new address makes one
account too. ``auth.User`` has no unique e-mail: what serialises them is ``EmailClaim``.
The SQLite half runs through a real server: tests/test_concurrent_registration_sqlite.py."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.core import mail

from django_dualauth.models import EmailClaim
from django_dualauth.services.email_claims import address_key
from tests.conftest import PASSWORD, AuthClient
from tests.real_servers.concurrency import together

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

NEW_PASSWORD = "a long and unusual passphrase 42"


def variants(local: str) -> list[str]:
    return [f"{local}@example.com", f"{local.upper()}@example.com", f"{local.title()}@EXAMPLE.com",
            f"{local}@Example.Com", f"{local.swapcase().title()}@EXAMPLE.COM", f"{local.upper()}@example.COM"]


def register(client: AuthClient, email: str) -> Callable[[], Any]:
    return lambda: client.post("/auth/register", {"email": email, "password": NEW_PASSWORD})


def accounts_with(email: str) -> int:
    return sum(1 for stored in get_user_model().objects.values_list("email", flat=True)
               if stored.casefold() == email.casefold())


def test_case_variants_registered_at_once_make_one_account(delivery: str) -> None:
    spellings = variants("race-x")
    clients = [AuthClient(delivery) for _ in spellings]  # CSRF tokens fetched before the start

    responses = together([register(c, e) for c, e in zip(clients, spellings, strict=True)])

    assert sorted(r.status_code for r in responses) == [201] + [409] * 5, [(r.status_code, r.content)
                                                                          for r in responses]
    assert all(r.json()["code"] == "EMAIL_TAKEN" for r in responses if r.status_code == 409)
    assert accounts_with(spellings[0]) == 1
    user = get_user_model().objects.get(email__iexact=spellings[0])
    assert list(EmailClaim.objects.values_list("key", "user")) == [(address_key(spellings[0]), user.pk)]


def test_an_email_change_confirmed_while_the_address_is_registered_makes_one_account(
        delivery: str, user: Any) -> None:
    owner = AuthClient(delivery)
    assert owner.login().status_code == 200
    target, *others = variants("race-y")
    assert owner.post("/auth/change-email/request", {"newEmail": target, "password": PASSWORD}).status_code == 202
    token = re.search(r"confirm-email\?token=([A-Za-z0-9_-]+)", mail.outbox[-1].body).group(1)
    clients = [AuthClient(delivery) for _ in others]

    responses = together([lambda: owner.post("/auth/change-email/confirm", {"token": token}),
                      *(register(c, e) for c, e in zip(clients, others, strict=True))])

    confirmed, *registered = responses
    assert confirmed.status_code == 200 or confirmed.json()["code"] == "INVALID_TOKEN", confirmed.content
    assert all(r.status_code in (201, 409) for r in registered), [(r.status_code, r.content) for r in registered]
    assert [confirmed.status_code == 200, *(r.status_code == 201 for r in registered)].count(True) == 1
    assert accounts_with(target) == 1
