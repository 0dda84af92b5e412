"""Unit tests of ``services/users.py`` without HTTP (issue 16, item 7): how an address is
normalised, stored and looked up, and the account stamp mailed tokens depend on."""

from __future__ import annotations

import re

import pytest

from django_dualauth.exceptions import ValidationFailed
from django_dualauth.services.users import (
    active_user_by_email,
    normalize_address,
    state_stamp,
    user_fields_for_address,
    username_for_address,
)

pytestmark = pytest.mark.django_db


def test_normalize_address_strips_and_lowercases_the_domain_only():
    assert normalize_address("  Alice.Smith@EXAMPLE.Com\n") == "Alice.Smith@example.com"
    assert normalize_address("bob@BÜCHER.example") == "bob@bücher.example"  # non-ASCII too, on every database


def test_fields_for_an_address_fill_the_email_and_the_username():
    assert user_fields_for_address("a@example.com") == {"email": "a@example.com", "username": "a@example.com"}
    assert user_fields_for_address("a@example.com", username=False) == {"email": "a@example.com"}


def test_an_address_longer_than_the_email_field_is_a_validation_error_on_the_named_field():
    too_long = "a" * 250 + "@example.com"  # 262 > 254
    with pytest.raises(ValidationFailed) as raised:
        user_fields_for_address(too_long, field="newEmail")
    assert list(raised.value.as_dict()["fields"]) == ["newEmail"]


def test_an_address_longer_than_the_username_field_gets_a_cut_username_unique_per_address():
    local = "x" * 180
    first, second = f"{local}1@example.com", f"{local}2@example.com"  # same first 150 characters
    one, two = username_for_address(first), username_for_address(second)
    assert one is not None and two is not None
    assert len(one) == len(two) == 150
    assert one != two
    assert re.fullmatch(r"x{133}\+[0-9a-f]{16}", one)
    assert username_for_address(first.upper())[-16:] == one[-16:]
    assert user_fields_for_address(first)["username"] == one


def test_an_address_that_fits_is_its_own_username():
    assert username_for_address("a@example.com") == "a@example.com"


def test_active_user_by_email_is_case_insensitive_and_answers_none_unless_exactly_one_active(user_factory):
    user = user_factory("Carol@example.com")
    assert active_user_by_email("carol@EXAMPLE.COM ") == user
    assert active_user_by_email("nobody@example.com") is None

    user.is_active = False
    user.save()
    assert active_user_by_email("carol@example.com") is None


def test_two_accounts_of_one_address_are_ambiguous_and_none_is_chosen(user_factory, django_user_model):
    user_factory("dave@example.com")
    django_user_model.objects.create_user(username="dave-2", email="DAVE@example.com", password="x" * 12)
    assert active_user_by_email("dave@example.com") is None


def test_state_stamp_changes_with_password_address_and_active_flag_and_purpose(user):
    stamp = state_stamp(user, "reset")
    assert stamp == state_stamp(user, "reset")
    assert stamp != state_stamp(user, "verify")
    assert user.password not in stamp

    user.set_password("another-password-1")
    assert state_stamp(user, "reset") != stamp
    changed = state_stamp(user, "reset")
    user.email = "moved@example.com"
    assert state_stamp(user, "reset") != changed
    changed = state_stamp(user, "reset")
    user.is_active = False
    assert state_stamp(user, "reset") != changed
