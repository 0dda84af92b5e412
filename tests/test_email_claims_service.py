"""Unit tests of ``services/email_claims.py`` without HTTP (issue 16, item 7): which addresses
share a claim key, when a claim is held, taken over or released. The races themselves are in
``tests/real_servers/test_concurrent_registration.py`` and ``test_concurrent_registration_sqlite.py``."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest
from django.utils import timezone

from django_dualauth.exceptions import EmailTaken
from django_dualauth.models import AuthSession, EmailClaim
from django_dualauth.services.email_claims import address_key, bind_claim, claim_address, release_other_claims

pytestmark = pytest.mark.django_db


def claims() -> list[tuple[str, int | None]]:
    return sorted(EmailClaim.objects.values_list("key", "user_id"), key=str)


def held(email: str, user: Any) -> EmailClaim:
    return EmailClaim.objects.create(key=address_key(email), user=user, created_at=timezone.now())


# --- address_key ---------------------------------------------------------------------------

@pytest.mark.parametrize(("one", "other"), [
    ("Alice@Example.COM", "alice@example.com"),  # case
    ("  alice@example.com\n", "alice@example.com"),  # surrounding white space
    ("ａｌｉｃｅ@example.com", "alice@example.com"),  # NFKC: full-width letters
    ("ﬁn@example.com", "fin@example.com"),  # NFKC: the ligature
    ("straße@example.com", "STRASSE@example.com"),  # ß is ss
    ("STRAẞE@example.com", "strasse@example.com"),  # capital ẞ: lower() gives ß, only casefold() ss
    ("ılker@example.com", "ilker@example.com"),  # dotless ı: PostgreSQL's UPPER makes it I
    ("ılker@example.com", "ILKER@example.com"),
])
def test_addresses_a_case_insensitive_look_up_would_confuse_share_a_key(one: str, other: str) -> None:
    assert address_key(one) == address_key(other)


@pytest.mark.parametrize(("one", "other"), [
    ("alice@example.com", "alice@example.org"),
    ("alice@example.com", "alice.@example.com"),
    ("alice@example.com", "alíce@example.com"),  # an accent is another letter
])
def test_different_addresses_get_different_keys(one: str, other: str) -> None:
    assert address_key(one) != address_key(other)


def test_the_key_is_a_sha256_that_holds_no_copy_of_the_address() -> None:
    key = address_key("Alice@Example.com")
    assert len(key) == 64 and set(key) <= set("0123456789abcdef")
    assert key == hashlib.sha256(b"alice@example.com").hexdigest()
    assert "alice" not in key.lower()


# --- claim_address -------------------------------------------------------------------------

def test_a_registration_claims_a_free_address_without_a_user_and_binds_it_after(user_factory: Any) -> None:
    key = claim_address("New@Example.com")
    assert key == address_key("new@example.com")
    assert claims() == [(key, None)]
    user = user_factory("new@example.com")
    bind_claim(key, user)
    assert claims() == [(key, user.pk)]


def test_an_address_held_by_an_account_that_still_has_it_is_taken_in_any_case_variant(user: Any,
                                                                                       user_factory: Any) -> None:
    held(user.email, user)
    other = user_factory("bob@example.com")
    for variant in (user.email, user.email.upper(), f" {user.email} "):
        with pytest.raises(EmailTaken):
            claim_address(variant)
        with pytest.raises(EmailTaken):
            claim_address(variant, other)
    assert claims() == [(address_key(user.email), user.pk)]


def test_a_refused_claim_leaves_the_callers_transaction_usable(user: Any) -> None:
    """A savepoint around the insert: without it the failed INSERT poisons the transaction (on
    PostgreSQL every later statement fails; Django refuses any query in the atomic block)."""
    held(user.email, user)
    with pytest.raises(EmailTaken):
        claim_address(user.email.upper())
    assert EmailClaim.objects.count() == 1  # a query after the conflict, in the same transaction
    assert AuthSession.objects.count() == 0


def test_a_claim_whose_user_changed_address_elsewhere_is_taken_over(user: Any, user_factory: Any) -> None:
    held("old@example.com", user)  # the admin changed the address without passing through here
    assert user.email != "old@example.com"
    newcomer = user_factory("someone@example.com")
    assert claim_address("OLD@example.com", newcomer) == address_key("old@example.com")
    assert claims() == [(address_key("old@example.com"), newcomer.pk)]


def test_a_stale_claim_is_taken_over_by_a_registration_too(user: Any) -> None:
    held("old@example.com", user)
    claim_address("old@example.com")
    assert claims() == [(address_key("old@example.com"), None)]


def test_a_claim_without_a_user_is_taken_over(user: Any) -> None:
    """Only a registration's own transaction sees its claim without a user; one left so is not a hold."""
    EmailClaim.objects.create(key=address_key("ghost@example.com"), user=None, created_at=timezone.now())
    claim_address("ghost@example.com", user)
    assert claims() == [(address_key("ghost@example.com"), user.pk)]


def test_claiming_ones_own_address_again_keeps_the_claim(user: Any) -> None:
    held(user.email, user)
    assert claim_address(user.email.upper(), user) == address_key(user.email)
    assert claims() == [(address_key(user.email), user.pk)]


def test_a_holder_whose_address_changed_only_in_case_still_holds_it(user: Any, user_factory: Any) -> None:
    held(user.email, user)
    user.email = user.email.upper()
    user.save()
    with pytest.raises(EmailTaken):
        claim_address(user.email.lower(), user_factory("bob@example.com"))


# --- release_other_claims -------------------------------------------------------------------

def test_after_a_change_the_user_keeps_only_the_new_claim_and_others_keep_theirs(user: Any,
                                                                                  user_factory: Any) -> None:
    other = user_factory("bob@example.com")
    held("old@example.com", user)
    held("older@example.com", user)
    held(other.email, other)
    key = claim_address("new@example.com", user)
    release_other_claims(user, key)
    assert claims() == sorted([(key, user.pk), (address_key(other.email), other.pk)], key=str)
    assert claim_address("old@example.com", other)  # free again


def test_a_claim_dies_with_its_user(user: Any) -> None:
    held(user.email, user)
    user.delete()
    assert not EmailClaim.objects.exists()
    claim_address("alice@example.com")
