"""A web login always starts a new family and never upgrades the one the browser held (MFA-09)."""

from __future__ import annotations

import pytest

from django_dualauth.delivery import refresh_cookie_name
from django_dualauth.models import AuthSession

pytestmark = pytest.mark.django_db


def test_cookie_login_revokes_the_family_the_browser_already_held(client_factory, user):
    browser = client_factory("cookie")
    assert browser.login().status_code == 200
    old = AuthSession.objects.get()
    assert browser.login().status_code == 200
    old.refresh_from_db()
    assert old.revoked_reason == "superseded"
    assert AuthSession.objects.filter(revoked_at__isnull=True).count() == 1


def test_planted_refresh_cookie_of_another_account_is_not_upgraded(client_factory, user_factory, user):
    attacker = client_factory("cookie")
    user_factory(email="mallory@example.com")
    attacker.login(email="mallory@example.com")
    planted = attacker.refresh_token
    victim = client_factory("cookie")
    victim.client.cookies[refresh_cookie_name()] = planted
    assert victim.login().status_code == 200
    assert victim.me().json()["email"] == user.email
    assert AuthSession.objects.get(user__email="mallory@example.com").revoked_at is not None


def test_duplicated_refresh_cookie_at_login_is_ignored_not_a_500(client_factory, user):
    browser = client_factory("cookie")
    name = refresh_cookie_name()
    response = browser.login(HTTP_COOKIE=f"{name}=a; {name}=b; csrf-token={browser.csrf_token()}")
    assert response.status_code == 200, response.content


def test_bearer_login_leaves_existing_sessions_alone(client_factory, user):
    phone = client_factory("bearer")
    phone.login()
    phone.login()
    assert AuthSession.objects.filter(revoked_at__isnull=True).count() == 2
