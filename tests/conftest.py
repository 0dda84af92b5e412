"""Shared fixtures. ``auth_client`` is parametrized: every test using it runs as a web
browser (cookies, CSRF token, Origin) and as a native app (X-Auth-Strategy: bearer)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.core.cache import caches
from django.dispatch import Signal
from rest_framework.test import APIClient

from django_dualauth.delivery import access_cookie_name, refresh_cookie_name
from django_dualauth.services import revocation
from django_dualauth.signals import session_revoked

PASSWORD = "correct horse battery staple"
EMAIL = "alice@example.com"
ORIGIN = "https://app.example.com"
CSRF_COOKIE = "csrf-token"


class AuthClient:
    """Drives the API the way each kind of client does.

    ``cookie``: an ``APIClient(enforce_csrf_checks=True)`` that fetches a CSRF token first
    and sends it with ``Origin`` on every unsafe request; tokens live in its cookie jar.
    ``bearer``: sends ``X-Auth-Strategy: bearer``, keeps the tokens from the JSON body and
    presents the access token as ``Authorization: Bearer``.
    """

    def __init__(self, delivery: str) -> None:
        self.delivery = delivery
        self.client = APIClient(enforce_csrf_checks=True)
        self.access_token: str | None = None
        self.refresh_token: str | None = None
        if delivery == "cookie":
            self.client.get("/auth/csrf")

    @property
    def is_cookie(self) -> bool:
        return self.delivery == "cookie"

    def csrf_token(self) -> str:
        morsel = self.client.cookies.get(CSRF_COOKIE)
        return morsel.value if morsel else ""

    def headers(self, *, auth: bool = True) -> dict[str, str]:
        if self.is_cookie:
            return {"HTTP_ORIGIN": ORIGIN, "HTTP_X_CSRF_TOKEN": self.csrf_token()}
        headers = {"HTTP_X_AUTH_STRATEGY": "bearer"}
        if auth and self.access_token:
            headers["HTTP_AUTHORIZATION"] = f"Bearer {self.access_token}"
        return headers

    def cookie(self, name: str) -> str | None:
        morsel = self.client.cookies.get(name)
        return morsel.value if morsel and morsel.value else None

    def _remember(self, response: Any) -> Any:
        if response.status_code == 200 and not self.is_cookie:
            body = response.json()
            self.access_token = body.get("accessToken", self.access_token)
            self.refresh_token = body.get("refreshToken", self.refresh_token)
        if self.is_cookie:
            self.access_token = self.cookie(access_cookie_name())
            self.refresh_token = self.cookie(refresh_cookie_name())
        return response

    def post(self, path: str, data: Any = None, **extra: Any) -> Any:
        return self.client.post(path, data if data is not None else {}, format="json",
                                **{**self.headers(), **extra})

    def get(self, path: str, **extra: Any) -> Any:
        return self.client.get(path, **{**self.headers(), **extra})

    def login(self, email: str = EMAIL, password: str = PASSWORD, **extra: Any) -> Any:
        return self._remember(self.post("/auth/login", {"email": email, "password": password},
                                        **extra))

    def refresh(self, **extra: Any) -> Any:
        data = {} if self.is_cookie else {"refreshToken": self.refresh_token}
        return self._remember(self.post("/auth/refresh", data, **extra))

    def logout(self, **extra: Any) -> Any:
        return self._remember(self.post("/auth/logout", **extra))

    def logout_all(self, **extra: Any) -> Any:
        return self._remember(self.post("/auth/logout-all", **extra))

    def me(self, **extra: Any) -> Any:
        return self.get("/auth/me", **extra)


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


@pytest.fixture(params=["cookie", "bearer"])
def delivery(request: Any) -> str:
    return request.param  # type: ignore[no-any-return]


@pytest.fixture
def auth_client(delivery: str, db: Any) -> AuthClient:
    return AuthClient(delivery)


@pytest.fixture
def client_factory(db: Any) -> Any:
    return AuthClient


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
