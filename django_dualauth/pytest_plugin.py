"""pytest fixtures for projects that use the app: every test that takes ``auth_client`` runs twice,
as a browser (``cookie``) and as a native app (``bearer``).

Opt in from the project's root ``conftest.py``::

    pytest_plugins = ["django_dualauth.pytest_plugin"]

Needs pytest-django (the fixtures use its ``db``). A project that mounts the app elsewhere than
``/auth/``, or logs in as a fixed account, overrides ``auth_client_options``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from .testing import DELIVERIES, AuthClient, Delivery


@pytest.fixture(params=DELIVERIES)
def delivery(request: pytest.FixtureRequest) -> Delivery:
    """``"cookie"``, then ``"bearer"``."""
    return request.param  # type: ignore[no-any-return]


@pytest.fixture
def auth_client_options() -> dict[str, Any]:
    """Keyword arguments of every ``AuthClient`` the fixtures build (``prefix``, ``origin``,
    ``email``, ``password``)."""
    return {}


@pytest.fixture
def client_factory(db: None, auth_client_options: dict[str, Any]) -> Callable[..., AuthClient]:
    """``client_factory("cookie")``: a client of one delivery, for tests that need one or several."""
    def make(delivery: Delivery, **options: Any) -> AuthClient:
        return AuthClient(delivery, **{**auth_client_options, **options})
    return make


@pytest.fixture
def auth_client(delivery: Delivery, client_factory: Callable[..., AuthClient]) -> AuthClient:
    """A client of each delivery in turn (the test runs once per delivery)."""
    return client_factory(delivery)
