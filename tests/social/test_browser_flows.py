"""Headless Chromium through the OpenID provider's own login and consent pages: first the
provider's code flow alone, to a loopback redirect target; then the app's redirect flow end to
end (the example project served live): sign-in by cookie, a tampered state, a callback in another
browser profile, a return URL off the allowlist, node-auth's ``return_path``, GitHub (its stand-in),
and linking the provider from a signed-in session."""

from __future__ import annotations

import json
import secrets
import time
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
import pytest

from tests.browser import start_chromium, wait_for_url, wait_until
from tests.live_server import DEMO_EMAIL, DEMO_PASSWORD, free_port, live_server

from .capture import LoopbackCapture
from .github_standin import GitHubStandIn
from .oidc_provider import OidcClient, OidcProvider, OidcUser, Pkce
from .system_browser import SystemBrowser

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


# --- the app's redirect flow in Chromium, end to end -----------------------------------------------
# The example project served by gunicorn on 127.0.0.1 (tests/social/live_app: the idp and GitHub
# providers configured), the provider on localhost: another site, so the provider's redirect back
# is the cross-site top-level navigation it is in production (the binding cookie is SameSite=Lax).

@dataclass
class LiveApp:
    base: str
    idp: OidcProvider
    github: GitHubStandIn

    @property
    def signed_in(self) -> str:
        return self.base + "/e2e/signed-in"

    @property
    def linked(self) -> str:
        return self.base + "/e2e/linked"


@pytest.fixture(scope="module")
def live_app(tmp_path_factory: Any, oidc_provider: OidcProvider, github: GitHubStandIn) -> Iterator[LiveApp]:
    tmp = tmp_path_factory.mktemp("social-live-app")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    client = oidc_provider.register_client(OidcClient(
        f"live-{secrets.token_hex(6)}", secrets.token_urlsafe(24), (base + "/auth/oauth/idp/callback",)))
    gh = github.register_app(callback_url=base + "/auth/oauth/github/callback")
    config = tmp / "social.json"
    config.write_text(json.dumps({
        "providers": {
            "idp": {"kind": "oidc", "issuer": oidc_provider.issuer, "client_ids": [client.client_id],
                    "client_secret": client.client_secret, "redirect_uri": base + "/auth/oauth/idp/callback"},
            "github": {"client_ids": [gh.client_id], "client_secret": gh.client_secret,
                       "redirect_uri": base + "/auth/oauth/github/callback",
                       "authorization_endpoint": github.authorize_url, "token_endpoint": github.token_url,
                       "userinfo_endpoint": github.api_url + "/user"}},
        "return_urls": [base + "/e2e/signed-in", base + "/e2e/linked"],
    }))
    env = {"DJANGO_SETTINGS_MODULE": "tests.social.live_app.settings", "E2E_SOCIAL_CONFIG": str(config)}
    with live_server(tmp, env=env, port=port) as served:
        yield LiveApp(served, oidc_provider, github)


def _new_provider_user(provider: OidcProvider, prefix: str) -> OidcUser:
    """A provider account of the test's own: the app's database is shared by the module's tests."""
    name = f"{prefix}-{secrets.token_hex(4)}"
    return provider.register_user(OidcUser(name, f"{name}-password", f"{name}@idp.example", True, "Chro Mium"))


def _fetch(browser: Any, method: str, path: str, body: Any = None) -> dict[str, Any]:
    """``fetch`` from the page (credentials included; a POST carries the CSRF token from
    ``GET /auth/csrf``, as a web client does): ``{status, body}``."""
    return browser.execute_async_script(  # type: ignore[no-any-return]
        "const [method, path, body, done] = arguments;"
        "const send = (token) => fetch(path, {method, credentials: 'include', headers: token ?"
        " {'Content-Type': 'application/json', 'X-CSRF-Token': token} : {},"
        " body: token ? JSON.stringify(body || {}) : undefined});"
        "(method === 'GET' ? send(null) : fetch('/auth/csrf', {credentials: 'include'})"
        "  .then(r => r.json()).then(b => send(b.csrfToken)))"
        ".then(r => r.text().then(t => done({status: r.status, body: t ? JSON.parse(t) : null})))"
        ".catch(e => done({status: 0, body: String(e)}));", method, path, body)


def _page_query(browser: Any) -> dict[str, str]:
    from selenium.webdriver.common.by import By

    page = wait_until(browser, lambda d: d.find_elements(By.ID, "page"))[0]
    return dict(urllib.parse.parse_qsl(page.get_attribute("data-query") or ""))


def _requested(browser: Any) -> list[str]:
    """The URLs the browser requested since the last call (Chromium's performance log)."""
    urls = []
    for entry in browser.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message["method"] == "Network.requestWillBeSent":
            urls.append(message["params"]["request"]["url"])
    return urls


def _provider_login(browser: Any, provider: OidcProvider, who: OidcUser) -> None:
    from selenium.webdriver.common.by import By

    wait_for_url(browser, provider.base_url + "/accounts/login/")
    browser.find_element(By.ID, "id_username").send_keys(who.username)
    browser.find_element(By.ID, "id_password").send_keys(who.password)
    browser.find_element(By.ID, "login-submit").click()
    wait_until(browser, lambda d: d.find_elements(By.NAME, "allow"))[0].click()


def test_chromium_signs_in_to_the_app_through_the_providers_login_page(
        browser: Any, live_app: LiveApp, screenshot_dir: Path) -> None:
    who = _new_provider_user(live_app.idp, "web")
    start = f"{live_app.base}/auth/oauth/idp?returnUrl={urllib.parse.quote(live_app.signed_in)}"
    started = time.monotonic()
    browser.get(start)
    _provider_login(browser, live_app.idp, who)
    wait_for_url(browser, live_app.signed_in)
    print(f"app sign-in through the provider took {time.monotonic() - started:.2f} s")
    assert browser.current_url == live_app.signed_in and _page_query(browser) == {}
    browser.save_screenshot(str(screenshot_dir / "app-signed-in.png"))

    me = _fetch(browser, "GET", "/auth/me")
    assert me["status"] == 200, me
    assert me["body"]["email"] == who.email and me["body"]["loginProvider"] == "idp"
    # The session is in HttpOnly cookies: none of it is readable by the page's script.
    visible = browser.execute_script("return document.cookie")
    assert "accessToken" not in visible and "refreshToken" not in visible and "dualauth_oauth_" not in visible
    jar = {c["name"]: c for c in browser.execute_cdp_cmd("Network.getAllCookies", {})["cookies"]}
    tokens = [c for name, c in jar.items() if "accessToken" in name or "refreshToken" in name]
    assert len(tokens) == 2 and all(c["httpOnly"] for c in tokens)
    assert not any("dualauth_oauth_" in name for name in jar)  # the binding cookie was cleared

    # Signed out, the same browser is signed in again at the provider: only consent is asked.
    assert _fetch(browser, "POST", "/auth/logout")["status"] == 200
    assert _fetch(browser, "GET", "/auth/me")["status"] == 401
    browser.get(start)
    wait_until(browser, lambda d: d.find_elements("name", "allow"))[0].click()
    wait_for_url(browser, live_app.signed_in)
    assert _fetch(browser, "GET", "/auth/me")["body"]["email"] == who.email


def test_chromium_a_tampered_state_is_refused(browser: Any, live_app: LiveApp) -> None:
    who = _new_provider_user(live_app.idp, "tamper")
    browser.get(f"{live_app.base}/auth/oauth/idp")
    _provider_login(browser, live_app.idp, who)
    wait_for_url(browser, live_app.signed_in)  # a first sign-in: the browser is now signed in there
    _fetch(browser, "POST", "/auth/logout")
    # Again, with the state changed on the way back (in the consent form, which carries it to the
    # provider's redirect): 400 JSON, no sign-in, though this browser holds the binding cookie.
    from selenium.webdriver.common.by import By

    browser.get(f"{live_app.base}/auth/oauth/idp")
    allow = wait_until(browser, lambda d: d.find_elements(By.NAME, "allow"))[0]
    state = browser.find_element(By.CSS_SELECTOR, "input[name=state]")
    original = state.get_attribute("value")
    browser.execute_script("arguments[0].value = arguments[1]", state, original[:-4] + "AAAA")
    allow.click()
    wait_for_url(browser, live_app.base + "/auth/oauth/idp/callback")
    assert dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(browser.current_url).query))["code"]
    body = json.loads(browser.find_element("tag name", "body").text)
    assert body["code"] == "INVALID_STATE" and body["error"]
    assert _fetch(browser, "GET", "/auth/me")["status"] == 401


def test_chromium_a_callback_opened_in_another_browser_profile_is_refused(
        browser: Any, live_app: LiveApp, tmp_path: Path) -> None:
    # Login CSRF: the attacker signs in at the provider in their own browser and has the victim's
    # browser (a fresh profile: no binding cookie) open the callback.
    attacker = _new_provider_user(live_app.idp, "attacker")
    system = SystemBrowser()
    page = live_app.idp.sign_in(system, f"{live_app.base}/auth/oauth/idp", attacker,
                                stop_at=lambda url: url.startswith(live_app.base + "/auth/oauth/idp/callback"))
    victim = start_chromium(tmp_path / "victim-profile")
    try:
        victim.get(page.location)
        wait_for_url(victim, live_app.signed_in)
        assert _page_query(victim) == {"error": "INVALID_STATE"}
        assert _fetch(victim, "GET", "/auth/me")["status"] == 401
        assert not [c for c in victim.execute_cdp_cmd("Network.getAllCookies", {})["cookies"]
                    if "accessToken" in c["name"]]
    finally:
        victim.quit()


def test_chromium_a_return_url_off_the_allowlist_never_reaches_the_provider(
        browser: Any, live_app: LiveApp) -> None:
    _requested(browser)
    for trick in ("https://evil.example/e2e/signed-in", live_app.signed_in + ".evil.example", "//evil.example"):
        browser.get(f"{live_app.base}/auth/oauth/idp?returnUrl={urllib.parse.quote(trick)}")
        body = json.loads(browser.find_element("tag name", "body").text)
        assert body["code"] == "RETURN_URL_NOT_ALLOWED"
        assert browser.current_url.startswith(live_app.base + "/auth/oauth/idp")
    browser.get(f"{live_app.base}/auth/oauth/idp?return_path={urllib.parse.quote('//evil.example')}")
    assert json.loads(browser.find_element("tag name", "body").text)["code"] == "RETURN_URL_NOT_ALLOWED"
    requested = _requested(browser)
    assert requested and not [url for url in requested if url.startswith(live_app.idp.base_url)]


def test_chromium_node_auths_return_path_lands_on_the_allowlisted_page(browser: Any, live_app: LiveApp) -> None:
    who = _new_provider_user(live_app.idp, "path")
    browser.get(f"{live_app.base}/auth/oauth/idp?return_path=/e2e/linked")
    _provider_login(browser, live_app.idp, who)
    wait_for_url(browser, live_app.linked)
    assert _fetch(browser, "GET", "/auth/me")["body"]["email"] == who.email


def test_chromium_github_signs_in_through_the_stand_in(browser: Any, live_app: LiveApp) -> None:
    # The stand-in has no login page (GitHub's own cannot run here): it authorizes at once.
    browser.get(f"{live_app.base}/auth/oauth/github?returnUrl={urllib.parse.quote(live_app.signed_in)}")
    wait_for_url(browser, live_app.signed_in)
    me = _fetch(browser, "GET", "/auth/me")
    assert me["status"] == 200 and me["body"]["loginProvider"] == "github", me
    assert "accessToken" not in browser.execute_script("return document.cookie")


def test_chromium_a_signed_in_user_links_the_provider_through_its_pages(browser: Any, live_app: LiveApp) -> None:
    who = _new_provider_user(live_app.idp, "link")
    browser.get(live_app.signed_in)
    signed_in = _fetch(browser, "POST", "/auth/login", {"email": DEMO_EMAIL, "password": DEMO_PASSWORD})
    assert signed_in["status"] == 200, signed_in
    started = _fetch(browser, "POST", "/auth/oauth/idp/link/start", {"returnUrl": live_app.linked})
    assert started["status"] == 200, started
    browser.execute_script("window.location.assign(arguments[0])", started["body"]["url"])
    _provider_login(browser, live_app.idp, who)
    wait_for_url(browser, live_app.linked)
    assert _page_query(browser) == {"linked": "idp"}
    me = _fetch(browser, "GET", "/auth/me")
    assert me["status"] == 200 and me["body"]["email"] == DEMO_EMAIL  # still the same account
    listed = _fetch(browser, "GET", "/auth/linked-accounts")["body"]["linkedAccounts"]
    assert [(a["provider"], a["providerAccountId"]) for a in listed] == [("idp", who.sub)]
    # Signed out, the provider account now signs in the demo user.
    _fetch(browser, "POST", "/auth/logout")
    browser.get(f"{live_app.base}/auth/oauth/idp")
    wait_until(browser, lambda d: d.find_elements("name", "allow"))[0].click()
    wait_for_url(browser, live_app.signed_in)
    assert _fetch(browser, "GET", "/auth/me")["body"]["email"] == DEMO_EMAIL
