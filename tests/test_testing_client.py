"""The shipped test client (``django_dualauth.testing``) that projects use to drive both deliveries."""

from __future__ import annotations

from datetime import timedelta

import pytest

from django_dualauth.delivery import access_cookie_name
from django_dualauth.testing import AuthClient
from tests.conftest import EMAIL, ORIGIN, PASSWORD

pytestmark = pytest.mark.django_db


def test_an_unknown_delivery_is_refused() -> None:
    with pytest.raises(ValueError, match="delivery"):
        AuthClient("session")  # type: ignore[arg-type]


def test_the_origin_defaults_to_the_first_trusted_origin(settings) -> None:
    settings.CSRF_TRUSTED_ORIGINS = ["https://spa.example.org", ORIGIN]
    assert AuthClient("cookie").headers()["HTTP_ORIGIN"] == "https://spa.example.org"


def test_login_refresh_and_logout_follow_the_tokens_of_each_delivery(auth_client, user, settings) -> None:
    settings.DUALAUTH_REFRESH_REUSE_GRACE = timedelta(0)  # strict: a second use is reuse
    login = auth_client.login(EMAIL, PASSWORD)
    assert login.status_code == 200, login.content
    first = auth_client.refresh_token
    assert first == auth_client.issued_refresh(login)
    assert auth_client.access_token == auth_client.issued_access(login)
    assert auth_client.me().json()["email"] == EMAIL

    rotated = auth_client.refresh()
    assert rotated.status_code == 200, rotated.content
    assert auth_client.refresh_token == auth_client.issued_refresh(rotated) != first
    # The spent token, presented again through the same channel, is reuse (strict mode).
    assert auth_client.present_refresh(first).status_code == 401
    assert auth_client.logout().status_code == 200


def test_a_token_given_to_the_client_is_presented_through_its_channel(client_factory, user) -> None:
    owner = client_factory("bearer")
    owner.login()
    for delivery in ("cookie", "bearer"):
        other = client_factory(delivery)
        assert other.get("/api/whoami").status_code == 401  # no token yet
        response = other.get_with_access("/api/whoami", owner.access_token)
        assert response.status_code == 200, response.content
        if delivery == "cookie":
            assert other.cookie(access_cookie_name()) == owner.access_token
        else:
            assert other.headers()["HTTP_AUTHORIZATION"] == f"Bearer {owner.access_token}"


def test_the_mount_point_is_a_parameter(user) -> None:
    client = AuthClient("bearer", prefix="/elsewhere", email=EMAIL, password=PASSWORD)
    assert client.url("login") == "/elsewhere/login"
    assert client.login().status_code == 404  # the suite mounts the app at /auth/ only
