"""``DUALAUTH_SOCIAL_PROVIDERS``: what each kind defaults to, what is refused (system checks E016,
E017, W010), and one key client per provider per process in ``conf.Snapshot``."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.core import checks

from django_dualauth.checks import check_settings
from django_dualauth.conf import snapshot
from django_dualauth.social_providers import ProviderConfigError, parse_providers


def ids(messages: list[checks.CheckMessage]) -> list[str]:
    return [m.id for m in messages]


def test_each_kind_has_its_issuers_keys_and_algorithm() -> None:
    providers = parse_providers({
        "google": {"client_ids": ["web", "ios", "android"]},
        "apple": {"client_ids": ["com.example.app", "com.example.web"]},
        "corp": {"kind": "oidc", "issuer": "https://login.corp.example/", "client_ids": ["c"]},
        "github": {"client_ids": ["g"], "client_secret": "s"},
    })
    google, apple, corp, github = providers.values()
    assert google.issuers == ("https://accounts.google.com", "accounts.google.com")
    assert google.jwks_uri == "https://www.googleapis.com/oauth2/v3/certs"
    assert google.client_ids == ("web", "ios", "android") and google.algorithms == ("RS256",)
    assert apple.issuers == ("https://appleid.apple.com",) and apple.nonce_hashed and not google.nonce_hashed
    assert corp.discovery_url == "https://login.corp.example/.well-known/openid-configuration" and not corp.jwks_uri
    assert not github.uses_id_tokens and google.uses_id_tokens
    assert not any(p.link_verified_email for p in providers.values())  # never merged unless asked


@pytest.mark.parametrize(("raw", "message"), [
    ([], "must be a dict"),
    ({"google": {}}, "at least one client id"),
    ({"google": {"client_ids": "web", "algorithms": ["HS256"]}}, "not allowed"),
    ({"google": {"client_ids": ["web"], "algorithms": ["none"]}}, "not allowed"),
    ({"corp": {"kind": "oidc", "client_ids": ["c"]}}, "needs its issuer"),
    ({"facebook": {"client_ids": ["f"]}}, "kind must be one of"),
    ({"github": {"client_ids": ["g"]}}, "client_secret"),
    ({"google": {"client_ids": ["w"], "clientid": "x"}}, "unknown keys"),
    ({"Google": {"client_ids": ["w"]}}, "lower-case"),
    ({"goo/gle": {"kind": "google", "client_ids": ["w"]}}, "lower-case"),
    ({"google": {"client_ids": ["w"], "timeout": 300}}, "timeout"),
    ({"google": {"client_ids": ["w"], "link_verified_email": "yes"}}, "True or False"),
])
def test_a_provider_that_cannot_work_is_refused(raw: Any, message: str) -> None:
    with pytest.raises(ProviderConfigError, match=message):
        parse_providers(raw)


def test_e014_names_the_problem_and_no_provider_is_served(settings: Any) -> None:
    settings.DUALAUTH_SOCIAL_PROVIDERS = {"google": {"client_ids": ["w"], "algorithms": ["HS256"]}}
    assert "dualauth.E016" in ids(check_settings())
    assert snapshot().social_providers == {}


def test_valid_providers_pass_the_checks(settings: Any) -> None:
    settings.DUALAUTH_SOCIAL_PROVIDERS = {
        "google": {"client_ids": ["w"]},
        "local": {"kind": "oidc", "issuer": "http://127.0.0.1:9/", "client_ids": ["c"]}}
    assert check_settings() == []


def test_w009_a_key_set_over_plain_http_off_loopback(settings: Any) -> None:
    settings.DUALAUTH_SOCIAL_PROVIDERS = {"google": {"client_ids": ["w"], "jwks_uri": "http://keys.example/jwks"}}
    assert ids(check_settings()) == ["dualauth.W010"]


@pytest.mark.parametrize(("name", "value"), [
    ("SOCIAL_NONCE_LIFETIME", 0), ("SOCIAL_ID_TOKEN_LEEWAY", -1), ("SOCIAL_JWKS_LIFESPAN", "soon"),
    ("SOCIAL_ID_TOKEN_MAX_AGE", timedelta(0))])
def test_e015_durations(settings: Any, name: str, value: Any) -> None:
    setattr(settings, f"DUALAUTH_{name}", value)
    assert ids(check_settings()) == ["dualauth.E017"]


def test_one_key_client_per_provider_per_process(settings: Any) -> None:
    settings.DUALAUTH_SOCIAL_PROVIDERS = {"google": {"client_ids": ["w"]}, "apple": {"client_ids": ["a"]}}
    first = snapshot().social_providers
    assert snapshot().social_providers["google"].keys is first["google"].keys  # kept, so its cache is too
    assert first["google"].keys is not first["apple"].keys
    settings.DUALAUTH_SOCIAL_JWKS_LIFESPAN = 60  # a change of settings builds them anew
    assert snapshot().social_providers["google"].keys is not first["google"].keys
