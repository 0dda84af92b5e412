"""pytest fixtures of the social test infrastructure (registered by ``tests/conftest.py``, so
any test module can use them):

- ``oidc_provider`` (session): a running :class:`~tests.social.oidc_provider.OidcProvider`.
- ``oidc_client`` (function): a fresh confidential client of it whose one redirect URI is
  ``loopback_capture.url("/callback")``.
- ``github`` (session) and ``github_app`` (function): the GitHub stand-in and a fresh OAuth app.
- ``loopback_capture`` (function): a :class:`~tests.social.capture.LoopbackCapture`.
- ``system_browser`` (function): a fresh :class:`~tests.social.system_browser.SystemBrowser`.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from typing import Any

import pytest

from .capture import LoopbackCapture
from .github_standin import GitHubApp, GitHubStandIn
from .oidc_provider import OidcClient, OidcProvider, start_oidc_provider
from .system_browser import SystemBrowser


@pytest.fixture(scope="session")
def oidc_provider(tmp_path_factory: Any) -> Iterator[OidcProvider]:
    """One provider process for the whole session (start-up about 1 s); tests register their own
    clients (:meth:`OidcProvider.register_client`) and users rather than change shared ones."""
    with start_oidc_provider(tmp_path_factory.mktemp("oidc-provider")) as provider:
        yield provider


@pytest.fixture
def loopback_capture() -> Iterator[LoopbackCapture]:
    with LoopbackCapture() as capture:
        yield capture


@pytest.fixture
def oidc_client(oidc_provider: OidcProvider, loopback_capture: LoopbackCapture) -> OidcClient:
    return oidc_provider.register_client(OidcClient(
        f"client-{secrets.token_hex(6)}", secrets.token_urlsafe(24), (loopback_capture.url("/callback"),)))


@pytest.fixture
def system_browser() -> SystemBrowser:
    return SystemBrowser()


@pytest.fixture(scope="session")
def github() -> Iterator[GitHubStandIn]:
    with GitHubStandIn() as standin:
        yield standin


@pytest.fixture
def github_app(github: GitHubStandIn, loopback_capture: LoopbackCapture) -> GitHubApp:
    return github.register_app(callback_url=loopback_capture.url("/callback"))
