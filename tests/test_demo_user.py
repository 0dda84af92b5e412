"""``manage.py create_demo_user``: the demo's account survives the demo's own flows."""

from __future__ import annotations

import os
from typing import Any

import pytest
from django.contrib.auth import get_user_model

from example_project.demo.management.commands.create_demo_user import EMAIL, PASSWORD, Command
from tests.conftest import AuthClient
from tests.test_magic_links import send, token_from_last_mail, verify

pytestmark = pytest.mark.django_db


def create_demo_user() -> None:
    """The command itself: the demo app is the example project's, not in tests.settings."""
    Command(stdout=open(os.devnull, "w")).handle()  # noqa: SIM115 - closed with the process


def test_a_magic_link_to_the_demo_user_keeps_its_password(auth_client: AuthClient, settings: Any) -> None:
    """An unverified account takes its first magic link as the first proof of the mailbox and drops
    the password (pre-account hijacking); the demo user is verified, so trying the magic link on the
    demo page does not lock the demo out of its password."""
    settings.DUALAUTH_MAGIC_LINK_ENABLED = True
    create_demo_user()
    send(auth_client, EMAIL)
    assert verify(auth_client, token_from_last_mail()).status_code == 200
    user = get_user_model().objects.get(email=EMAIL)
    assert user.check_password(PASSWORD)
    assert auth_client.login(EMAIL, PASSWORD).status_code == 200


def test_running_it_again_resets_the_demo_user(settings: Any) -> None:
    create_demo_user()
    user = get_user_model().objects.get(email=EMAIL)
    user.set_password("something else entirely")
    user.save()
    create_demo_user()
    user.refresh_from_db()
    assert user.check_password(PASSWORD) and user.dualauth_state.email_verified
