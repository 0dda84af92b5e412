"""E-mail addresses against the user model and the database (issue 15, items 10, 12, 13), under
both deliveries, on SQLite (stage 1) and again on PostgreSQL (stage 2, ``both_backends``).

- Item 13: an address matches in any case, a non-ASCII domain included, at every look-up
  (login, password reset, magic link), as it does at registration. SQLite's ``LIKE`` folds
  ASCII only, so the look-up normalises the address first.
- Item 12: a valid address (up to the input's 254 characters) is accepted or refused with a
  clear 400 whatever the user model's field limits are, never a 500: ``auth.User``'s username
  holds 150 (PostgreSQL enforces it, SQLite does not: so the length is asserted here too).
- Item 10, the claims' life cycle: a claim follows its user's address, is taken over once
  stale, dies with its user; users without a claim (before migration 0008) are still found.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.core import mail

from django_dualauth.models import AuthSession, EmailClaim
from django_dualauth.services import sms
from django_dualauth.services.email_claims import address_key
from tests.conftest import PASSWORD, AuthClient
from tests.test_input_robustness import assert_clean_4xx, snapshot

pytestmark = [pytest.mark.django_db, pytest.mark.both_backends]

NEW_PASSWORD = "a long and unusual passphrase 42"
#: 64 + 1 + 189 = 254 characters, the most the input field allows; every label within 63.
LONG = "l" * 64 + "@" + "a" * 63 + "." + "b" * 63 + "." + "c" * 57 + ".com"
User = get_user_model()


def register(client: AuthClient, email: str, password: str = NEW_PASSWORD) -> Any:
    return client.post("/auth/register", {"email": email, "password": password})


def confirm_link() -> str:
    return re.search(r"confirm-email\?token=([A-Za-z0-9_-]+)", mail.outbox[-1].body).group(1)


def change_email(client: AuthClient, new: str) -> Any:
    """Request (as the logged-in client) and confirm a change of address; the confirm answer."""
    requested = client.post("/auth/change-email/request", {"newEmail": new, "password": PASSWORD})
    assert requested.status_code == 202, requested.content
    return client.post("/auth/change-email/confirm", {"token": confirm_link()})


# --- item 13: a non-ASCII domain matches in any case ------------------------------------------

@pytest.mark.parametrize(("stored", "typed"), [("u@bücher.example", "u@BÜCHER.example"),
                                                ("u@BÜCHER.example", "U@bücher.EXAMPLE"),
                                                ("u@Ärger.example", "u@ÄRGER.EXAMPLE")])
def test_a_non_ascii_domain_matches_in_any_case_at_login(auth_client: AuthClient, stored: str, typed: str) -> None:
    assert register(auth_client, stored).status_code == 201
    response = auth_client.login(email=typed, password=NEW_PASSWORD)
    assert response.status_code == 200, response.content
    assert AuthSession.objects.filter(user__email=User.objects.get().email).count() == 1


def test_a_non_ascii_domain_matches_in_any_case_for_a_password_reset(auth_client: AuthClient,
                                                                      user_factory: Any) -> None:
    user = user_factory("u@bücher.example")
    assert auth_client.post("/auth/forgot-password", {"email": "U@BÜCHER.example"}).status_code == 202
    assert [m.to for m in mail.outbox] == [[user.email]]


def test_a_non_ascii_domain_matches_in_any_case_for_a_magic_link(auth_client: AuthClient, user_factory: Any,
                                                                  settings: Any) -> None:
    settings.DUALAUTH_MAGIC_LINK_ENABLED = True
    user = user_factory("u@bücher.example")
    assert auth_client.post("/auth/magic-link/send", {"email": "u@BÜCHER.Example"}).status_code == 202
    assert [m.to for m in mail.outbox] == [[user.email]]


def test_a_non_ascii_domain_matches_in_any_case_for_an_sms_login(user_factory: Any, settings: Any) -> None:
    from django_dualauth.models import SMSDevice

    settings.DUALAUTH_SMS_ENABLED = True
    user = user_factory("u@bücher.example")
    SMSDevice.objects.create(user=user, name="sms", number="+14155550123", confirmed=True)
    assert sms.request_login_code("u@BÜCHER.EXAMPLE") is not None


def test_a_case_variant_of_a_non_ascii_domain_cannot_register(auth_client: AuthClient) -> None:
    assert register(auth_client, "u@bücher.example").status_code == 201
    before = snapshot()
    assert_clean_4xx(register(auth_client, "U@BÜCHER.EXAMPLE"), 409, "EMAIL_TAKEN")
    assert snapshot() == before


@pytest.mark.parametrize("twin", ["mike@ıbm.example", "MIKE@IBM.EXAMPLE", "mi\u212aE@ibm.example"])
def test_a_twin_that_a_look_up_would_confuse_cannot_register(auth_client: AuthClient, twin: str) -> None:
    """IN-07: whatever a database's case-insensitive match folds together (PostgreSQL's UPPER
    turns the dotless ı into I), the claim key folds too, so the look-up is never ambiguous."""
    assert register(auth_client, "mike@ibm.example").status_code == 201
    response = register(auth_client, twin)
    assert response.status_code in (400, 409), response.content
    assert User.objects.count() == 1


def test_the_normalised_look_up_keeps_like_wildcards_literal(auth_client: AuthClient, user_factory: Any) -> None:
    user_factory("a_b@bücher.example")
    assert auth_client.login(email="A%B@BÜCHER.example").status_code == 401
    assert auth_client.login(email="A_B@BÜCHER.example").status_code == 200


# --- item 12: long addresses and the user model's limits -------------------------------------

def test_a_254_character_address_registers_and_logs_in(auth_client: AuthClient) -> None:
    assert len(LONG) == 254
    response = register(auth_client, LONG)
    assert response.status_code == 201, response.content
    user = User.objects.get(pk=response.json()["userId"])
    assert user.email == LONG
    limit = User._meta.get_field("username").max_length
    assert len(user.username) <= limit and user.username.startswith(LONG[:100])
    assert auth_client.login(email=LONG.upper(), password=NEW_PASSWORD).status_code == 200


def test_long_addresses_that_share_their_first_characters_get_different_usernames(auth_client: AuthClient) -> None:
    other = LONG[:-5] + "x.com"
    assert register(auth_client, LONG).status_code == 201
    assert register(auth_client, other).status_code == 201
    assert len(set(User.objects.values_list("username", flat=True))) == 2
    assert_clean_4xx(register(auth_client, LONG.upper()), 409, "EMAIL_TAKEN")


def test_an_address_longer_than_the_models_email_field_is_a_clear_400(auth_client: AuthClient,
                                                                      monkeypatch: Any) -> None:
    monkeypatch.setattr(User._meta.get_field("email"), "max_length", 100)  # a custom model's limit
    before = snapshot()
    body = assert_clean_4xx(register(auth_client, LONG), 400, "VALIDATION_ERROR")
    assert body["fields"] == {"email": ["Ensure this field has no more than 100 characters."]}
    assert snapshot() == before and not EmailClaim.objects.exists()


def test_a_short_username_field_gets_a_username_that_fits(auth_client: AuthClient, monkeypatch: Any) -> None:
    monkeypatch.setattr(User._meta.get_field("username"), "max_length", 40)
    response = register(auth_client, "someone.with.a.rather.long.name@example.com")
    assert response.status_code == 201
    user = User.objects.get(pk=response.json()["userId"])
    assert len(user.username) == 40 and user.username.startswith("someone.with.a.rather.") and "+" in user.username
    assert auth_client.login(email=user.email, password=NEW_PASSWORD).status_code == 200


def test_a_username_field_too_short_for_any_derived_name_is_a_clear_400(auth_client: AuthClient,
                                                                         monkeypatch: Any) -> None:
    monkeypatch.setattr(User._meta.get_field("username"), "max_length", 10)
    before = snapshot()
    body = assert_clean_4xx(register(auth_client, "someone@example.com"), 400, "VALIDATION_ERROR")
    assert list(body["fields"]) == ["email"]
    assert snapshot() == before


def test_an_email_change_to_a_254_character_address_keeps_the_username_in_its_field(
        auth_client: AuthClient, user: Any) -> None:
    assert auth_client.login().status_code == 200
    response = change_email(auth_client, LONG)
    assert response.status_code == 200, response.content
    user.refresh_from_db()
    assert user.email == LONG
    assert len(user.username) <= User._meta.get_field("username").max_length and user.username != "alice@example.com"
    assert auth_client.login(email=LONG, password=PASSWORD).status_code == 200
    # The username derived from the long address follows the next change too.
    auth_client.post("/auth/change-email/request", {"newEmail": "alice.back@example.com", "password": PASSWORD})
    assert auth_client.post("/auth/change-email/confirm", {"token": confirm_link()}).status_code == 200
    user.refresh_from_db()
    assert (user.email, user.username) == ("alice.back@example.com", "alice.back@example.com")


def test_a_username_of_its_own_stays_when_the_address_changes(auth_client: AuthClient) -> None:
    user = User.objects.create_user(username="alice", email="alice@example.com", password=PASSWORD)
    assert auth_client.login().status_code == 200
    assert change_email(auth_client, LONG).status_code == 200
    user.refresh_from_db()
    assert (user.email, user.username) == (LONG, "alice")


def test_an_email_change_to_an_address_the_model_cannot_hold_is_a_clear_400(
        auth_client: AuthClient, user: Any, monkeypatch: Any) -> None:
    assert auth_client.login().status_code == 200
    monkeypatch.setattr(User._meta.get_field("email"), "max_length", 100)
    response = auth_client.post("/auth/change-email/request", {"newEmail": LONG, "password": PASSWORD})
    body = assert_clean_4xx(response, 400, "VALIDATION_ERROR")
    assert list(body["fields"]) == ["newEmail"] and not mail.outbox


def test_an_email_change_to_another_accounts_username_is_refused_cleanly(
        auth_client: AuthClient, user: Any, user_factory: Any) -> None:
    User.objects.create_user(username="carol@example.com", email="bob@example.com", password=PASSWORD)
    assert auth_client.login().status_code == 200
    assert_clean_4xx(change_email(auth_client, "carol@example.com"), 400, "INVALID_TOKEN")
    user.refresh_from_db()
    assert (user.email, user.username) == ("alice@example.com", "alice@example.com")


# --- item 10: the claims' life cycle -----------------------------------------------------------

def test_registration_claims_the_address_for_its_user(auth_client: AuthClient) -> None:
    response = register(auth_client, "Dana@Example.com")
    user = User.objects.get(pk=response.json()["userId"])
    assert list(EmailClaim.objects.values_list("key", "user")) == [(address_key("dana@example.com"), user.pk)]


def test_a_user_without_a_claim_still_holds_the_address(auth_client: AuthClient, user: Any) -> None:
    """Users created before migration 0008 (or by the admin, a script) have no claim."""
    assert not EmailClaim.objects.exists()
    before = snapshot()
    assert_clean_4xx(register(auth_client, "ALICE@example.com"), 409, "EMAIL_TAKEN")
    assert snapshot() == before and not EmailClaim.objects.exists()


def test_a_claim_whose_user_changed_address_elsewhere_is_taken_over(auth_client: AuthClient) -> None:
    first = User.objects.get(pk=register(auth_client, "erin@example.com").json()["userId"])
    first.email = "erin.new@example.com"  # by the admin: not through the app's e-mail change
    first.save()
    response = register(auth_client, "ERIN@example.com")
    assert response.status_code == 201, response.content
    assert EmailClaim.objects.get(key=address_key("erin@example.com")).user_id == int(response.json()["userId"])


def test_a_claim_dies_with_its_user_and_the_address_is_free_again(auth_client: AuthClient) -> None:
    User.objects.get(pk=register(auth_client, "fay@example.com").json()["userId"]).delete()
    assert not EmailClaim.objects.exists()
    assert register(auth_client, "FAY@example.com").status_code == 201


def test_an_email_change_moves_the_claim(auth_client: AuthClient, user: Any) -> None:
    assert auth_client.login().status_code == 200
    assert change_email(auth_client, "alice.new@example.com").status_code == 200
    assert list(EmailClaim.objects.values_list("key", "user")) == [(address_key("alice.new@example.com"), user.pk)]
    assert_clean_4xx(register(auth_client, "ALICE.NEW@example.com"), 409, "EMAIL_TAKEN")
    assert register(auth_client, "alice@example.com").status_code == 201  # the old address is free
