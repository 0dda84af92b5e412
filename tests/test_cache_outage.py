"""A shared cache (Redis) that is down: clear JSON answers, never a 500.

Rate limits follow django-ratelimit's ``RATELIMIT_FAIL_OPEN``: closed (default) answers
503 ``SERVICE_UNAVAILABLE`` with ``Retry-After``; open lets the request through unlimited.
The cache revocation mode falls back to the database, so revoked sessions stay refused.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import AuthClient

pytestmark = pytest.mark.django_db

DEAD_REDIS = {"default": {
    "BACKEND": "django_redis.cache.RedisCache",
    "LOCATION": "redis://127.0.0.1:1/0",  # nothing listens on port 1
    "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 0.2, "SOCKET_TIMEOUT": 0.2},
}}


@pytest.fixture
def dead_cache(settings: Any) -> None:
    settings.CACHES = DEAD_REDIS  # Django's setting_changed handler rebuilds the cache handlers


@pytest.fixture
def logged_in(auth_client: AuthClient, user: Any) -> AuthClient:
    assert auth_client.login().status_code == 200  # while the cache still answers
    return auth_client


def test_rate_limited_endpoints_answer_503_when_the_cache_is_down(logged_in: AuthClient, dead_cache: None) -> None:
    unknown = logged_in.client.post("/auth/refresh", {"refreshToken": "A" * 43}, format="json", HTTP_COOKIE="")
    for response in (logged_in.login(), unknown):
        assert response.status_code == 503, response.content
        assert response.json()["code"] == "SERVICE_UNAVAILABLE"
        assert int(response["Retry-After"]) > 0


def test_a_refresh_that_rotates_does_not_need_the_cache(logged_in: AuthClient, dead_cache: None) -> None:
    # The refresh budget counts refused attempts only; a rotation never reads it.
    assert logged_in.refresh().status_code == 200
    assert logged_in.me().status_code == 200


def test_fail_open_lets_logins_through(auth_client: AuthClient, user: Any, dead_cache: None, settings: Any) -> None:
    settings.RATELIMIT_FAIL_OPEN = True
    assert auth_client.login().status_code == 200
    assert auth_client.refresh().status_code == 200


def test_cache_revocation_mode_falls_back_to_the_database(logged_in: AuthClient, dead_cache: None,
                                                          settings: Any) -> None:
    settings.DUALAUTH_REVOCATION_CHECK = "cache"
    token = logged_in.access_token
    assert logged_in.me().status_code == 200
    assert logged_in.logout().status_code == 200  # the marker cannot be written: logged, not raised
    response = logged_in.client.get("/auth/me", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert (response.status_code, response.json()["code"]) == (401, "SESSION_REVOKED")
