"""The OpenID Connect provider of the social tests (django-oauth-toolkit in a second process),
driven by the system-browser client, as the app-flow tests will drive it: what it does is what
the redirect-flow tests may rely on. The same flow in Chromium is in test_browser_flows.py."""

from __future__ import annotations

import json
import secrets
import urllib.error
import urllib.request
from typing import Any

import jwt
import pytest

from .capture import LoopbackCapture
from .oidc_provider import OidcClient, OidcProvider, Pkce
from .system_browser import SystemBrowser

pytestmark = pytest.mark.test_infrastructure


def _flow(provider: OidcProvider, client: OidcClient, browser: SystemBrowser, redirect_uri: str,
          user: str = "alice", **kwargs: Any) -> tuple[dict[str, str], str, str, Pkce]:
    state, nonce, pkce = secrets.token_urlsafe(16), secrets.token_urlsafe(16), Pkce.new()
    url = provider.authorize_url(client, redirect_uri, state=state, nonce=nonce, pkce=pkce, **kwargs)
    page = provider.sign_in(browser, url, provider.users[user], stop_at=redirect_uri)
    assert page.is_redirect and page.location.startswith(redirect_uri + "?"), (page.status, page.text[:500])
    return page.query(), state, nonce, pkce


def _decode(provider: OidcProvider, id_token: str, client: OidcClient, nonce: str) -> dict[str, Any]:
    jwks = jwt.PyJWKClient(provider.metadata()["jwks_uri"])
    key = jwks.get_signing_key_from_jwt(id_token)
    claims: dict[str, Any] = jwt.decode(id_token, key.key, algorithms=["RS256"], audience=client.client_id,
                                        issuer=provider.issuer, options={"require": ["exp", "iat", "nonce"]})
    assert claims["nonce"] == nonce
    return claims


def test_discovery_names_the_endpoints_under_its_issuer(oidc_provider: OidcProvider) -> None:
    meta = oidc_provider.metadata()
    assert meta["issuer"] == oidc_provider.issuer
    for name in ("authorization_endpoint", "token_endpoint", "userinfo_endpoint", "jwks_uri"):
        assert meta[name].startswith(oidc_provider.issuer + "/")
    assert meta["code_challenge_methods_supported"] == ["S256"]
    assert "RS256" in meta["id_token_signing_alg_values_supported"]
    assert meta["authorization_response_iss_parameter_supported"] is True
    assert {"email", "email_verified"} <= set(meta["claims_supported"])
    with urllib.request.urlopen(meta["jwks_uri"], timeout=30) as answer:
        keys = json.loads(answer.read())["keys"]
    assert [(k["kty"], bool(k["kid"])) for k in keys] == [("RSA", True)]


def test_code_flow_with_pkce_yields_an_rs256_id_token_with_the_nonce(
        oidc_provider: OidcProvider, oidc_client: OidcClient, system_browser: SystemBrowser,
        loopback_capture: LoopbackCapture) -> None:
    redirect_uri = oidc_client.redirect_uris[0]
    query, state, nonce, pkce = _flow(oidc_provider, oidc_client, system_browser, redirect_uri)
    assert query["state"] == state
    assert query["iss"] == oidc_provider.issuer  # RFC 9207
    tokens = oidc_provider.exchange_code(oidc_client, query["code"], redirect_uri, pkce.verifier)
    assert tokens.status == 200, tokens.body
    assert tokens.body["token_type"] == "Bearer"
    assert jwt.get_unverified_header(tokens.body["id_token"])["alg"] == "RS256"
    claims = _decode(oidc_provider, tokens.body["id_token"], oidc_client, nonce)
    alice = oidc_provider.users["alice"]
    assert (claims["sub"], claims["email"], claims["email_verified"], claims["name"]) == (
        alice.sub, alice.email, True, alice.name)

    request = urllib.request.Request(oidc_provider.metadata()["userinfo_endpoint"],
                                     headers={"Authorization": f"Bearer {tokens.body['access_token']}"})
    with urllib.request.urlopen(request, timeout=30) as answer:
        assert json.loads(answer.read())["email"] == alice.email
    assert loopback_capture.hits == []  # the system browser stops before the redirect target


def test_an_unverified_address_is_asserted_as_unverified(
        oidc_provider: OidcProvider, oidc_client: OidcClient, system_browser: SystemBrowser) -> None:
    redirect_uri = oidc_client.redirect_uris[0]
    query, _, nonce, pkce = _flow(oidc_provider, oidc_client, system_browser, redirect_uri, user="unverified")
    tokens = oidc_provider.exchange_code(oidc_client, query["code"], redirect_uri, pkce.verifier)
    claims = _decode(oidc_provider, tokens.body["id_token"], oidc_client, nonce)
    assert claims["email_verified"] is False


def test_a_wrong_verifier_and_a_reused_code_are_refused(
        oidc_provider: OidcProvider, oidc_client: OidcClient, system_browser: SystemBrowser) -> None:
    redirect_uri = oidc_client.redirect_uris[0]
    query, _, _, pkce = _flow(oidc_provider, oidc_client, system_browser, redirect_uri)
    wrong = oidc_provider.exchange_code(oidc_client, query["code"], redirect_uri, Pkce.new().verifier)
    assert (wrong.status, wrong.body["error"]) == (400, "invalid_grant")
    missing = oidc_provider.exchange_code(oidc_client, query["code"], redirect_uri, None)
    assert (missing.status, missing.body["error"]) == (400, "invalid_request")

    query, _, _, pkce = _flow(oidc_provider, oidc_client, system_browser, redirect_uri)
    first = oidc_provider.exchange_code(oidc_client, query["code"], redirect_uri, pkce.verifier)
    again = oidc_provider.exchange_code(oidc_client, query["code"], redirect_uri, pkce.verifier)
    assert first.status == 200
    assert (again.status, again.body["error"]) == (400, "invalid_grant")


def test_a_wrong_client_secret_is_refused(
        oidc_provider: OidcProvider, oidc_client: OidcClient, system_browser: SystemBrowser) -> None:
    redirect_uri = oidc_client.redirect_uris[0]
    query, _, _, pkce = _flow(oidc_provider, oidc_client, system_browser, redirect_uri)
    impostor = OidcClient(oidc_client.client_id, "not-the-secret", oidc_client.redirect_uris)
    answer = oidc_provider.exchange_code(impostor, query["code"], redirect_uri, pkce.verifier)
    assert (answer.status, answer.body["error"]) == (401, "invalid_client")


@pytest.mark.parametrize("path", ["/elsewhere", "/callback/deeper", "/callback?extra=1"])
def test_an_unregistered_redirect_uri_gets_no_redirect(
        oidc_provider: OidcProvider, oidc_client: OidcClient, system_browser: SystemBrowser,
        loopback_capture: LoopbackCapture, path: str) -> None:
    rogue = loopback_capture.url(path)
    url = oidc_provider.authorize_url(oidc_client, rogue, state="s", nonce="n", pkce=Pkce.new())
    page = oidc_provider.sign_in(system_browser, url, oidc_provider.users["alice"], stop_at=loopback_capture.base_url)
    assert not page.is_redirect
    assert page.status == 400
    assert "Mismatching redirect URI." in page.text


def test_without_pkce_the_authorization_is_refused(
        oidc_provider: OidcProvider, oidc_client: OidcClient, system_browser: SystemBrowser) -> None:
    redirect_uri = oidc_client.redirect_uris[0]
    url = oidc_provider.authorize_url(oidc_client, redirect_uri, state="s1", nonce="n1", pkce=None)
    page = oidc_provider.sign_in(system_browser, url, oidc_provider.users["alice"], stop_at=redirect_uri)
    assert page.is_redirect
    assert page.query()["error"] == "invalid_request"
    assert "code" not in page.query()


def test_cancel_on_the_consent_page_answers_access_denied(
        oidc_provider: OidcProvider, oidc_client: OidcClient, system_browser: SystemBrowser) -> None:
    redirect_uri = oidc_client.redirect_uris[0]
    url = oidc_provider.authorize_url(oidc_client, redirect_uri, state="s2", nonce="n2", pkce=Pkce.new())
    page = oidc_provider.sign_in(system_browser, url, oidc_provider.users["alice"], stop_at=redirect_uri,
                                 consent=False)
    assert page.query()["error"] == "access_denied"
    assert page.query()["state"] == "s2"


def test_a_client_that_skips_consent_goes_straight_back_after_login(
        oidc_provider: OidcProvider, loopback_capture: LoopbackCapture, system_browser: SystemBrowser) -> None:
    client = oidc_provider.register_client(OidcClient(
        f"trusted-{secrets.token_hex(4)}", secrets.token_urlsafe(16), (loopback_capture.url("/cb"),),
        skip_authorization=True))
    query, state, _, _ = _flow(oidc_provider, client, system_browser, client.redirect_uris[0])
    assert query["state"] == state
    assert not [url for url in system_browser.history if "allow=" in url]
    # Signed in at the provider already: a second authorization needs no password.
    url = oidc_provider.authorize_url(client, client.redirect_uris[0], state="again", nonce="n", pkce=Pkce.new())
    page = system_browser.follow(url, stop_at=client.redirect_uris[0])
    assert page.query()["state"] == "again"


def test_control_endpoints_refuse_a_caller_without_the_token(oidc_provider: OidcProvider) -> None:
    request = urllib.request.Request(f"{oidc_provider.base_url}/_test/clients", data=b"{}", method="POST")
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=30)
    assert refused.value.code == 403
