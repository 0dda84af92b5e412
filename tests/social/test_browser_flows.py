"""The OpenID provider's code flow in headless Chromium, through the provider's own login and
consent pages to a loopback redirect target: the base of the redirect-flow tests of the app."""

from __future__ import annotations

import secrets
import time
from pathlib import Path
from typing import Any

import jwt
import pytest

from tests.browser import wait_for_url, wait_until

from .capture import LoopbackCapture
from .oidc_provider import OidcClient, OidcProvider, Pkce

pytestmark = pytest.mark.browser


def _sign_in(browser: Any, provider: OidcProvider, url: str, user: str = "alice",
             screenshot: Path | None = None) -> None:
    """Type the user's credentials on the provider's login page and press Authorize."""
    from selenium.webdriver.common.by import By

    browser.get(url)
    wait_for_url(browser, provider.base_url + "/accounts/login/")
    assert browser.title == "Sign in to the test provider"
    account = provider.users[user]
    browser.find_element(By.ID, "id_username").send_keys(account.username)
    browser.find_element(By.ID, "id_password").send_keys(account.password)
    if screenshot is not None:
        browser.save_screenshot(str(screenshot))
    browser.find_element(By.ID, "login-submit").click()
    allow = wait_until(browser, lambda d: d.find_elements(By.NAME, "allow"))
    allow[0].click()


def test_chromium_code_flow_through_the_providers_pages(
        browser: Any, oidc_provider: OidcProvider, oidc_client: OidcClient, loopback_capture: LoopbackCapture,
        screenshot_dir: Path) -> None:
    redirect_uri = oidc_client.redirect_uris[0]
    state, nonce, pkce = secrets.token_urlsafe(16), secrets.token_urlsafe(16), Pkce.new()
    url = oidc_provider.authorize_url(oidc_client, redirect_uri, state=state, nonce=nonce, pkce=pkce)
    started = time.monotonic()
    _sign_in(browser, oidc_provider, url, screenshot=screenshot_dir / "oidc-provider-login.png")

    hit = loopback_capture.wait(path="/callback")
    print(f"browser sign-in took {time.monotonic() - started:.2f} s")
    wait_until(browser, lambda d: d.find_elements("id", "captured"))
    assert browser.current_url == hit.url
    assert hit.query["state"] == state
    assert hit.query["iss"] == oidc_provider.issuer

    wrong = oidc_provider.exchange_code(oidc_client, hit.query["code"], redirect_uri, Pkce.new().verifier)
    assert (wrong.status, wrong.body["error"]) == (400, "invalid_grant")

    # A fresh authorization: the browser is signed in at the provider, only consent is asked.
    state2, nonce2, pkce2 = secrets.token_urlsafe(16), secrets.token_urlsafe(16), Pkce.new()
    browser.get(oidc_provider.authorize_url(oidc_client, redirect_uri, state=state2, nonce=nonce2, pkce=pkce2))
    wait_until(browser, lambda d: d.find_elements("name", "allow"))[0].click()
    hit = loopback_capture.wait(path="/callback")
    assert hit.query["state"] == state2
    tokens = oidc_provider.exchange_code(oidc_client, hit.query["code"], redirect_uri, pkce2.verifier)
    assert tokens.status == 200, tokens.body
    id_token = tokens.body["id_token"]
    key = jwt.PyJWKClient(oidc_provider.metadata()["jwks_uri"]).get_signing_key_from_jwt(id_token)
    claims = jwt.decode(id_token, key.key, algorithms=["RS256"], audience=oidc_client.client_id,
                        issuer=oidc_provider.issuer)
    assert claims["nonce"] == nonce2
    assert claims["email"] == oidc_provider.users["alice"].email

    again = oidc_provider.exchange_code(oidc_client, hit.query["code"], redirect_uri, pkce2.verifier)
    assert (again.status, again.body["error"]) == (400, "invalid_grant")


def test_chromium_is_not_sent_to_an_unregistered_redirect_uri(
        browser: Any, oidc_provider: OidcProvider, oidc_client: OidcClient,
        loopback_capture: LoopbackCapture) -> None:
    from selenium.webdriver.common.by import By

    rogue = loopback_capture.url("/stolen")
    url = oidc_provider.authorize_url(oidc_client, rogue, state="s", nonce="n", pkce=Pkce.new())
    browser.get(url)
    wait_for_url(browser, oidc_provider.base_url + "/accounts/login/")
    alice = oidc_provider.users["alice"]
    browser.find_element(By.ID, "id_username").send_keys(alice.username)
    browser.find_element(By.ID, "id_password").send_keys(alice.password)
    browser.find_element(By.ID, "login-submit").click()
    wait_until(browser, lambda d: "Mismatching redirect URI." in d.page_source)
    assert browser.current_url.startswith(oidc_provider.issuer + "/authorize/")
    assert not browser.find_elements(By.NAME, "allow")
    assert loopback_capture.hits == []
