"""Shared fixtures. ``auth_client``, ``client_factory`` and ``delivery`` come from the app's own
pytest plugin (``django_dualauth.pytest_plugin``): every test using ``auth_client`` runs as a web
browser (cookies, CSRF token, Origin) and as a native app (X-Auth-Strategy: bearer)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.core.cache import caches
from django.dispatch import Signal

from django_dualauth import testing
from django_dualauth.services import revocation
from django_dualauth.signals import session_revoked

PASSWORD = "correct horse battery staple"
EMAIL = "alice@example.com"
ORIGIN = "https://app.example.com"
CSRF_COOKIE = "csrf-token"

# The social test infrastructure (an OpenID provider, a GitHub stand-in, a system-browser
# client) and headless Chromium: docs/testing.md, "Social sign-in and browser tests".
pytest_plugins = ["django_dualauth.pytest_plugin", "tests.social.fixtures", "tests.browser"]


class AuthClient(testing.AuthClient):
    """The shipped client (``django_dualauth.testing``), as the suite's browser at ``ORIGIN`` and
    logging in as the default account."""

    def __init__(self, delivery: testing.Delivery) -> None:
        super().__init__(delivery, **CLIENT_OPTIONS)


CLIENT_OPTIONS: dict[str, Any] = {"origin": ORIGIN, "email": EMAIL, "password": PASSWORD}


@pytest.fixture
def client_factory(db: None) -> type[AuthClient]:
    """The plugin's ``auth_client`` is built by this, so every client of the suite is the one above
    (and ``type(auth_client)("bearer")`` is another of its kind)."""
    return AuthClient


@pytest.fixture(autouse=True)
def _clear_cache() -> None:
    """Each test starts on an empty cache in normal operation: one that holds every recent
    revocation (it has none), as the revocation check records after a republication."""
    for alias in ("default",):
        caches[alias].clear()
        caches[alias].set(revocation.COMPLETE_KEY, 1, timeout=None)
    revocation.forget_failures()


@pytest.fixture
def password() -> str:
    return PASSWORD


@pytest.fixture
def user_factory(django_user_model: Any) -> Any:
    def make(email: str = EMAIL, password: str = PASSWORD, **fields: Any) -> Any:
        return django_user_model.objects.create_user(username=email, email=email,
                                                     password=password, **fields)
    return make


@pytest.fixture
def user(user_factory: Any) -> Any:
    return user_factory()


def _on_redis() -> bool:
    return "redis" in django_settings.CACHES["default"]["BACKEND"].lower()


# Every DUALAUTH_REVOCATION_CHECK mode; "cache+push" (DUALAUTH_REVOCATION_PUSH, Redis pub/sub)
# needs Redis, so only the services stage runs it.
@pytest.fixture(params=["database", "cache", *(["cache+push"] if _on_redis() else [])])
def revocation_check(request: Any, settings: Any) -> str:
    settings.DUALAUTH_REVOCATION_CHECK = request.param.split("+")[0]
    settings.DUALAUTH_REVOCATION_PUSH = request.param.endswith("+push")
    return request.param  # type: ignore[no-any-return]


def capture(signal: Signal) -> Iterator[list[dict[str, Any]]]:
    """Collect the keyword arguments of every ``signal`` sent while the generator is open."""
    events: list[dict[str, Any]] = []

    def receive(sender: Any, **kwargs: Any) -> None:
        events.append(kwargs)

    signal.connect(receive)
    yield events
    signal.disconnect(receive)


@pytest.fixture
def revoked_events() -> Iterator[list[dict[str, Any]]]:
    yield from capture(session_revoked)
