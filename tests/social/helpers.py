"""Fixtures of the native social sign-in tests: stand-in Google, Apple and OpenID Connect issuers
on loopback, the providers configured against them, and the requests an app makes."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from django_dualauth.testing import AuthClient
from tests.social.standin_issuers import StandinIssuer

GOOGLE_WEB = "1234-web.apps.googleusercontent.com"
GOOGLE_IOS = "1234-ios.apps.googleusercontent.com"
GOOGLE_ANDROID = "1234-android.apps.googleusercontent.com"
APPLE_BUNDLE, APPLE_SERVICES = "com.example.app", "com.example.web"
CORP_CLIENT = "corp-app"


@pytest.fixture
def google() -> Iterator[StandinIssuer]:
    issuer = StandinIssuer("google", issuer="https://accounts.google.com", key_index=0)
    yield issuer
    issuer.stop()


@pytest.fixture
def apple() -> Iterator[StandinIssuer]:
    issuer = StandinIssuer("apple", issuer="https://appleid.apple.com", key_index=1)
    yield issuer
    issuer.stop()


@pytest.fixture
def corp() -> Iterator[StandinIssuer]:
    issuer = StandinIssuer("corp", key_index=2)  # its own URL is its issuer: discovery works
    yield issuer
    issuer.stop()


def provider_settings(google: StandinIssuer, apple: StandinIssuer, corp: StandinIssuer,
                      **google_options: Any) -> dict[str, Any]:
    return {
        "google": {"client_ids": [GOOGLE_WEB, GOOGLE_IOS, GOOGLE_ANDROID], "jwks_uri": google.jwks_uri,
                   **google_options},
        "apple": {"client_ids": [APPLE_BUNDLE, APPLE_SERVICES], "jwks_uri": apple.jwks_uri},
        "corp": {"kind": "oidc", "issuer": corp.issuer, "client_ids": [CORP_CLIENT]},
        "github": {"client_ids": ["gh-client"], "client_secret": "gh-secret"},
    }


@pytest.fixture
def providers(settings: Any, google: StandinIssuer, apple: StandinIssuer, corp: StandinIssuer) -> dict[str, Any]:
    settings.DUALAUTH_SOCIAL_PROVIDERS = provider_settings(google, apple, corp)
    return settings.DUALAUTH_SOCIAL_PROVIDERS  # type: ignore[no-any-return]


def get_nonce(client: AuthClient, provider: str = "google") -> str:
    response = client.post(client.url(f"oauth/{provider}/nonce"))
    assert response.status_code == 201, response.content
    return str(response.json()["nonce"])


def exchange(client: AuthClient, provider: str, id_token: str, nonce: str, **body: Any) -> Any:
    """POST ``oauth/<provider>/token`` as the app (or browser) of ``client``; keeps the tokens."""
    response = client.post(client.url(f"oauth/{provider}/token"), {"idToken": id_token, "nonce": nonce, **body})
    return client._remember(response)


def google_token(google: StandinIssuer, nonce: str | None, **claims: Any) -> str:
    claims.setdefault("aud", GOOGLE_WEB)
    return google.mint(google.claims(nonce=nonce, **claims))


def sign_in_with_google(client: AuthClient, google: StandinIssuer, **claims: Any) -> Any:
    nonce = get_nonce(client)
    return exchange(client, "google", google_token(google, nonce, **claims), nonce)
