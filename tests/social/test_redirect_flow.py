"""The redirect flow (``oauth/<provider>``, its callback, and the app's ``oauth/<provider>/exchange``)
against the real OpenID Connect provider (a second process on localhost) and the GitHub stand-in.

The app under test is served in-process through Django's test client, mounted in the
:class:`SystemBrowser` as ``http://testserver``: its cookie jar is the browser's for the app's
origin (the binding cookie, the session cookies), the provider's cookies live in the browser's
own jar. A second test client is a second browser.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import urllib.parse
from typing import Any

import pytest
from django.test import Client
from django_otp.plugins.otp_totp.models import TOTPDevice

from django_dualauth.delivery import access_cookie_name
from django_dualauth.models import AuthSession, LinkedAccount, OAuthState
from django_dualauth.services.claims import update_account_state

from .github_standin import GitHubEmail, GitHubStandIn
from .oidc_provider import OidcClient, OidcProvider
from .system_browser import SystemBrowser

pytestmark = pytest.mark.django_db(transaction=True)

APP = "http://testserver"
RETURN = APP + "/app/signed-in"
APP_RETURN = "myapp://auth"
CALLBACK = APP + "/auth/oauth/idp/callback"
BEARER = {"X-Auth-Strategy": "bearer"}


def _s256(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()


@pytest.fixture
def idp_client(oidc_provider: OidcProvider) -> OidcClient:
    return oidc_provider.register_client(OidcClient(
        f"app-{secrets.token_hex(6)}", secrets.token_urlsafe(24), (CALLBACK,), skip_authorization=True))


@pytest.fixture
def idp(settings: Any, oidc_provider: OidcProvider, idp_client: OidcClient) -> OidcProvider:
    settings.DUALAUTH_SOCIAL_PROVIDERS = {"idp": {
        "kind": "oidc", "issuer": oidc_provider.issuer, "client_ids": [idp_client.client_id],
        "client_secret": idp_client.client_secret, "redirect_uri": CALLBACK}}
    settings.DUALAUTH_SOCIAL_RETURN_URLS = [RETURN, APP + "/other"]
    settings.DUALAUTH_SOCIAL_APP_RETURN_URLS = [APP_RETURN]
    return oidc_provider


@pytest.fixture
def app() -> Client:
    return Client()


@pytest.fixture
def browser(system_browser: SystemBrowser, app: Client) -> SystemBrowser:
    system_browser.mount(APP, app)
    return system_browser


def _web_sign_in(browser: SystemBrowser, idp: OidcProvider, user: str = "alice", query: str = "") -> Any:
    """Start at the app, sign in at the provider; the redirect back to the return URL (unfetched)."""
    return idp.sign_in(browser, f"{APP}/auth/oauth/idp{query}", idp.users[user],
                       stop_at=lambda url: url.startswith(RETURN) or url.startswith(APP + "/auth/2fa"))


def _to_callback(browser: SystemBrowser, idp: OidcProvider, query: str = "", user: str = "alice") -> Any:
    """Sign in at the provider and stop before the app's callback: its URL, unfetched."""
    return idp.sign_in(browser, f"{APP}/auth/oauth/idp{query}", idp.users[user],
                       stop_at=lambda url: url.startswith(CALLBACK))


# --- the web flow ----------------------------------------------------------------------------------

def test_web_flow_signs_in_with_cookies_and_me_answers(idp: OidcProvider, browser: SystemBrowser,
                                                       app: Client) -> None:
    page = _web_sign_in(browser, idp)
    assert page.location == RETURN
    assert app.cookies.get(access_cookie_name()) and app.cookies[access_cookie_name()]["httponly"]
    me = app.get("/auth/me")
    assert me.status_code == 200
    body = me.json()
    assert body["email"] == "alice@idp.example" and body.get("loginProvider") == "idp"
    session = AuthSession.objects.get()
    assert session.delivery == "cookie" and "fed" in session.auth_methods
    link = LinkedAccount.objects.get()
    assert (link.provider, link.provider_account_id) == ("idp", idp.users["alice"].sub)
    assert OAuthState.objects.get().consumed_at is not None


def test_start_sends_state_pkce_nonce_and_the_registered_redirect_uri(idp: OidcProvider, app: Client,
                                                                      settings: Any) -> None:
    settings.ALLOWED_HOSTS = ["testserver", "evil.example"]
    answer = app.get("/auth/oauth/idp", HTTP_HOST="evil.example")  # the Host never makes the redirect URI
    assert answer.status_code == 302
    location = urllib.parse.urlsplit(answer["Location"])
    query = dict(urllib.parse.parse_qsl(location.query))
    assert answer["Location"].startswith(idp.issuer + "/authorize")
    assert query["redirect_uri"] == CALLBACK
    assert query["code_challenge_method"] == "S256" and len(query["code_challenge"]) == 43
    assert query["nonce"] and query["state"] and query["nonce"] != query["state"]
    cookie = next(c for c in answer.cookies.values() if "dualauth_oauth_" in c.key)
    assert cookie["httponly"] and cookie["samesite"] == "Lax" and 0 < int(cookie["max-age"]) <= 600
    row = OAuthState.objects.get()
    assert query["state"] not in (row.state_digest, row.browser_digest)  # digests only


def test_a_second_factor_goes_to_the_2fa_page_with_a_challenge_not_a_session(
        idp: OidcProvider, browser: SystemBrowser, app: Client) -> None:
    _web_sign_in(browser, idp)
    user = LinkedAccount.objects.get().user
    TOTPDevice.objects.create(user=user, name="dualauth", confirmed=True)
    update_account_state(user, two_factor_enabled=True)
    app.cookies.clear()
    AuthSession.objects.all().delete()
    page = _web_sign_in(browser, idp)
    split = urllib.parse.urlsplit(page.location)
    assert (split.scheme, split.netloc, split.path) == ("http", "testserver", "/auth/2fa")
    query = dict(urllib.parse.parse_qsl(split.query))
    assert query["methods"] == "totp" and query["tempToken"]
    assert not AuthSession.objects.exists() and not app.cookies.get(access_cookie_name())


def test_a_conflict_goes_back_with_the_code_and_writes_nothing(idp: OidcProvider, browser: SystemBrowser,
                                                               user_factory: Any) -> None:
    user_factory(email="alice@idp.example")
    page = _web_sign_in(browser, idp)
    query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(page.location).query))
    assert page.location.startswith(RETURN + "?")
    assert query == {"error": "OAUTH_ACCOUNT_CONFLICT", "code": "OAUTH_ACCOUNT_CONFLICT", "provider": "idp"}
    assert not LinkedAccount.objects.exists() and not AuthSession.objects.exists()


def test_an_unverified_address_makes_no_account(idp: OidcProvider, browser: SystemBrowser) -> None:
    page = _web_sign_in(browser, idp, user="unverified")
    assert page.location == RETURN + "?error=OAUTH_EMAIL_NOT_VERIFIED"
    assert not LinkedAccount.objects.exists() and not AuthSession.objects.exists()


def test_access_denied_at_the_provider_goes_back_with_the_error(idp: OidcProvider, browser: SystemBrowser,
                                                                app: Client) -> None:
    page = browser.follow(f"{APP}/auth/oauth/idp", stop_at=lambda url: url.startswith(idp.issuer))
    state = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(page.location).query))["state"]
    answer = app.get("/auth/oauth/idp/callback", {"state": state, "error": "access_denied"})
    assert (answer.status_code, answer["Location"]) == (302, RETURN + "?error=OAUTH_ACCESS_DENIED")


def test_the_chosen_return_url_is_used(idp: OidcProvider, browser: SystemBrowser) -> None:
    page = idp.sign_in(browser, f"{APP}/auth/oauth/idp?returnUrl={urllib.parse.quote(APP + '/other')}",
                       idp.users["alice"], stop_at=lambda url: url.startswith(APP + "/other"))
    assert page.location == APP + "/other"


# --- refusals --------------------------------------------------------------------------------------

@pytest.mark.parametrize("trick", [
    "https://evil.example/app/signed-in", RETURN + ".evil.example", RETURN + "/../../evil", RETURN + "?x=1",
    "//evil.example", "http://testserver@evil.example/app/signed-in", "http:\\\\evil.example",
    "/app/signed-in", "HTTP://TESTSERVER/app/signed-in", APP, RETURN[:-1], "javascript:alert(1)", " " + RETURN,
])
def test_a_return_url_off_the_allowlist_is_refused(idp: OidcProvider, app: Client, trick: str) -> None:
    answer = app.get("/auth/oauth/idp", {"returnUrl": trick})
    assert answer.status_code == 400 and answer.json()["code"] == "RETURN_URL_NOT_ALLOWED"
    assert not OAuthState.objects.exists()


def test_a_web_return_url_is_not_an_app_one_nor_the_reverse(idp: OidcProvider, app: Client) -> None:
    challenge = _s256(secrets.token_urlsafe(48))
    assert app.get("/auth/oauth/idp", {"returnUrl": APP_RETURN}).status_code == 400
    answer = app.get("/auth/oauth/idp", {"app": "1", "returnUrl": RETURN, "code_challenge": challenge})
    assert answer.status_code == 400 and answer.json()["code"] == "RETURN_URL_NOT_ALLOWED"


def test_an_unconfigured_provider_or_one_without_redirect_flow_is_404(idp: OidcProvider, settings: Any,
                                                                      app: Client) -> None:
    assert app.get("/auth/oauth/nope").status_code == 404
    settings.DUALAUTH_SOCIAL_PROVIDERS = {"idp": {**settings.DUALAUTH_SOCIAL_PROVIDERS["idp"], "redirect_uri": ""}}
    answer = app.get("/auth/oauth/idp")
    assert answer.status_code == 404 and answer.json()["code"] == "NOT_FOUND"
    assert app.get("/auth/oauth/idp/callback", {"state": "x" * 43}).status_code == 404


def test_an_unknown_state_is_400_json(idp: OidcProvider, app: Client) -> None:
    for params in ({}, {"state": "short"}, {"state": secrets.token_urlsafe(32), "code": "c"}):
        answer = app.get("/auth/oauth/idp/callback", params)
        assert answer.status_code == 400 and answer.json()["code"] == "INVALID_STATE"


def test_the_state_from_another_browser_is_refused(idp: OidcProvider, browser: SystemBrowser) -> None:
    # Login CSRF: the attacker's own callback URL, opened in the victim's browser.
    page = _to_callback(browser, idp)
    victim = Client()
    answer = victim.get(page.location.removeprefix(APP))
    assert (answer.status_code, answer["Location"]) == (302, RETURN + "?error=INVALID_STATE")
    assert not AuthSession.objects.exists() and not LinkedAccount.objects.exists()
    assert not victim.cookies.get(access_cookie_name())


def test_a_binding_cookie_of_the_right_name_and_another_value_is_refused(
        idp: OidcProvider, browser: SystemBrowser, app: Client) -> None:
    page = _to_callback(browser, idp)
    name = next(k for k in app.cookies if "dualauth_oauth_" in k)
    app.cookies[name] = secrets.token_urlsafe(32)
    answer = app.get(page.location.removeprefix(APP))
    assert (answer.status_code, answer["Location"]) == (302, RETURN + "?error=INVALID_STATE")
    assert not AuthSession.objects.exists() and not LinkedAccount.objects.exists()


def test_a_state_is_spent_once(idp: OidcProvider, browser: SystemBrowser, app: Client) -> None:
    page = _to_callback(browser, idp)
    first = app.get(page.location.removeprefix(APP))
    assert first["Location"] == RETURN
    again = app.get(page.location.removeprefix(APP))  # the browser's cookie was cleared: put it back
    assert again["Location"] == RETURN + "?error=INVALID_STATE"
    assert AuthSession.objects.count() == 1


def test_a_spent_state_is_refused_even_with_the_binding_cookie(idp: OidcProvider, browser: SystemBrowser,
                                                              app: Client) -> None:
    page = _to_callback(browser, idp)
    cookies = {k: v.value for k, v in app.cookies.items() if "dualauth_oauth_" in k}
    assert app.get(page.location.removeprefix(APP))["Location"] == RETURN
    for name, value in cookies.items():
        app.cookies[name] = value
    assert app.get(page.location.removeprefix(APP))["Location"] == RETURN + "?error=INVALID_STATE"
    assert AuthSession.objects.count() == 1


def test_a_forged_code_is_refused_by_the_provider(idp: OidcProvider, browser: SystemBrowser, app: Client) -> None:
    page = _to_callback(browser, idp)
    query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(page.location).query))
    answer = app.get("/auth/oauth/idp/callback", {**query, "code": "not-the-code"})
    assert answer["Location"] == RETURN + "?error=OAUTH_CODE_EXCHANGE_FAILED"
    assert not AuthSession.objects.exists()


def test_an_iss_of_another_issuer_is_refused(idp: OidcProvider, browser: SystemBrowser, app: Client) -> None:
    # RFC 9207: the provider declares authorization_response_iss_parameter_supported.
    assert idp.metadata().get("authorization_response_iss_parameter_supported") is True
    page = _to_callback(browser, idp)
    query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(page.location).query))
    for iss in ("http://localhost:1/o", None):
        forged = {k: v for k, v in {**query, "iss": iss}.items() if v is not None}
        answer = app.get("/auth/oauth/idp/callback", forged)
        assert answer["Location"] in (RETURN + "?error=OAUTH_ISSUER_MISMATCH", RETURN + "?error=INVALID_STATE")
        if iss is not None:
            assert answer["Location"] == RETURN + "?error=OAUTH_ISSUER_MISMATCH"
    assert not AuthSession.objects.exists()


def test_an_omitted_iss_is_refused_when_the_provider_declares_it(idp: OidcProvider, browser: SystemBrowser,
                                                                 app: Client) -> None:
    page = _to_callback(browser, idp)
    query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(page.location).query))
    del query["iss"]
    assert app.get("/auth/oauth/idp/callback", query)["Location"] == RETURN + "?error=OAUTH_ISSUER_MISMATCH"


def test_a_nonce_of_another_flow_is_refused(idp: OidcProvider, browser: SystemBrowser, app: Client,
                                            monkeypatch: Any) -> None:
    # The id_token carries the nonce of the flow's start; derive another at the callback.
    from django_dualauth.services import social_redirect

    page = _to_callback(browser, idp)
    monkeypatch.setattr(social_redirect, "_nonce_for", lambda provider, raw: secrets.token_urlsafe(32))
    answer = app.get(page.location.removeprefix(APP))
    assert answer["Location"] == RETURN + "?error=INVALID_NONCE"
    assert not AuthSession.objects.exists()


def test_a_provider_that_cannot_be_reached(idp: OidcProvider, settings: Any, app: Client) -> None:
    from tests.live_server import free_port

    dead = f"http://127.0.0.1:{free_port()}/o"
    settings.DUALAUTH_SOCIAL_PROVIDERS = {"idp": {**settings.DUALAUTH_SOCIAL_PROVIDERS["idp"], "issuer": dead}}
    answer = app.get("/auth/oauth/idp")
    assert answer.status_code == 503 and answer.json()["code"] == "PROVIDER_UNAVAILABLE"
    assert answer["Retry-After"]


# --- the app flow ----------------------------------------------------------------------------------

def _app_flow(browser: SystemBrowser, idp: OidcProvider, verifier: str) -> dict[str, str]:
    query = "?" + urllib.parse.urlencode({"app": "1", "code_challenge": _s256(verifier),
                                          "code_challenge_method": "S256"})
    page = idp.sign_in(browser, f"{APP}/auth/oauth/idp{query}", idp.users["alice"],
                       stop_at=lambda url: url.startswith("myapp:"))
    assert page.location.startswith(APP_RETURN)
    return dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(page.location).query))


def test_app_flow_hands_a_one_time_code_redeemed_under_bearer(idp: OidcProvider, browser: SystemBrowser,
                                                              app: Client) -> None:
    verifier = secrets.token_urlsafe(48)
    query = _app_flow(browser, idp, verifier)
    assert set(query) == {"code"}  # never tokens in a URL
    assert not AuthSession.objects.exists() and not app.cookies.get(access_cookie_name())
    answer = Client().post("/auth/oauth/idp/exchange", {"code": query["code"], "codeVerifier": verifier},
                           content_type="application/json", headers=BEARER)
    assert answer.status_code == 200, answer.content
    body = answer.json()
    assert body["accessToken"] and body["refreshToken"]
    assert AuthSession.objects.get().delivery == "bearer"
    me = Client().get("/auth/me", headers={"Authorization": f"Bearer {body['accessToken']}", **BEARER})
    assert me.status_code == 200 and me.json()["email"] == "alice@idp.example"
    again = Client().post("/auth/oauth/idp/exchange", {"code": query["code"], "codeVerifier": verifier},
                          content_type="application/json", headers=BEARER)
    assert again.status_code == 400 and again.json()["code"] == "INVALID_OAUTH_CODE"
    assert AuthSession.objects.count() == 1


def test_app_code_with_a_wrong_verifier_is_refused_and_spent(idp: OidcProvider, browser: SystemBrowser) -> None:
    verifier = secrets.token_urlsafe(48)
    query = _app_flow(browser, idp, verifier)
    wrong = Client().post("/auth/oauth/idp/exchange", {"code": query["code"],
                                                        "codeVerifier": secrets.token_urlsafe(48)},
                          content_type="application/json", headers=BEARER)
    assert wrong.status_code == 400 and wrong.json()["code"] == "INVALID_OAUTH_CODE"
    right = Client().post("/auth/oauth/idp/exchange", {"code": query["code"], "codeVerifier": verifier},
                          content_type="application/json", headers=BEARER)
    assert right.status_code == 400 and not AuthSession.objects.exists()


def test_app_flow_needs_its_code_challenge(idp: OidcProvider, app: Client) -> None:
    for params in ({"app": "1"}, {"app": "1", "code_challenge": "x" * 43, "code_challenge_method": "plain"},
                   {"app": "1", "code_challenge": "short"}):
        answer = app.get("/auth/oauth/idp", params)
        assert answer.status_code == 400 and answer.json()["code"] == "RETURN_URL_NOT_ALLOWED"


def test_app_flow_with_2fa_goes_to_the_app_2fa_path(idp: OidcProvider, browser: SystemBrowser) -> None:
    verifier = secrets.token_urlsafe(48)
    code = _app_flow(browser, idp, verifier)["code"]
    assert Client().post("/auth/oauth/idp/exchange", {"code": code, "codeVerifier": verifier},
                         content_type="application/json", headers=BEARER).status_code == 200
    user = LinkedAccount.objects.get().user
    TOTPDevice.objects.create(user=user, name="dualauth", confirmed=True)
    update_account_state(user, two_factor_enabled=True)
    query = "?" + urllib.parse.urlencode({"app": "1", "code_challenge": _s256(verifier)})
    page = idp.sign_in(browser, f"{APP}/auth/oauth/idp{query}", idp.users["alice"],
                       stop_at=lambda url: url.startswith("myapp:"))
    split = urllib.parse.urlsplit(page.location)
    assert (split.scheme, split.netloc, split.path) == ("myapp", "auth", "/auth/2fa")
    found = dict(urllib.parse.parse_qsl(split.query))
    assert found["methods"] == "totp" and found["tempToken"]
    verify = Client().post("/auth/2fa/verify", {"tempToken": found["tempToken"], "code": "000000"},
                           content_type="application/json", headers=BEARER)
    assert verify.status_code in (400, 401)  # a challenge (a wrong code is refused), not a session
    assert AuthSession.objects.count() == 1


def test_exchange_refuses_bad_input_under_both_deliveries(idp: OidcProvider, auth_client: Any) -> None:
    answer = auth_client.post("/auth/oauth/idp/exchange", {"code": secrets.token_urlsafe(32),
                                                           "codeVerifier": secrets.token_urlsafe(48)})
    assert answer.status_code in (400, 403)
    assert answer.json()["code"] in ("INVALID_OAUTH_CODE", "CSRF_FAILED")
    assert auth_client.post("/auth/oauth/idp/exchange", {"code": 1}).status_code in (400, 403)


# --- GitHub ----------------------------------------------------------------------------------------

@pytest.fixture
def gh(settings: Any, github: GitHubStandIn) -> Any:
    app = github.register_app(callback_url=APP + "/auth/oauth/github/callback")
    settings.DUALAUTH_SOCIAL_PROVIDERS = {"github": {
        "client_ids": [app.client_id], "client_secret": app.client_secret,
        "redirect_uri": APP + "/auth/oauth/github/callback", "authorization_endpoint": github.authorize_url,
        "token_endpoint": github.token_url, "userinfo_endpoint": github.api_url + "/user"}}
    settings.DUALAUTH_SOCIAL_RETURN_URLS = [RETURN]
    return app


def test_github_web_flow_signs_in_with_the_primary_verified_address(gh: Any, browser: SystemBrowser,
                                                                    app: Client) -> None:
    page = browser.follow(APP + "/auth/oauth/github", stop_at=lambda url: url.startswith(RETURN))
    assert page.location == RETURN
    assert app.get("/auth/me").json()["email"] == "octocat@github.example"
    assert LinkedAccount.objects.get().provider_account_id == "583231"


def test_github_without_a_primary_verified_address_makes_no_account(gh: Any, browser: SystemBrowser) -> None:
    gh.emails = [GitHubEmail("octocat@github.example", primary=True, verified=False),
                 GitHubEmail("other@github.example", primary=False, verified=True)]
    page = browser.follow(APP + "/auth/oauth/github", stop_at=lambda url: url.startswith(RETURN))
    assert page.location == RETURN + "?error=OAUTH_EMAIL_NOT_VERIFIED"
    assert not LinkedAccount.objects.exists()


def test_github_denied(gh: Any, browser: SystemBrowser) -> None:
    gh.deny = True
    page = browser.follow(APP + "/auth/oauth/github", stop_at=lambda url: url.startswith(RETURN))
    assert page.location == RETURN + "?error=OAUTH_ACCESS_DENIED"


def test_ui_config_lists_the_redirect_providers(gh: Any, app: Client) -> None:
    body = app.get("/auth/ui/config").json()
    assert body["githubEnabled"] is True and body["googleEnabled"] is False
    assert body["availableProviders"] == ["github"] and body["features"]["github"] is True


# --- rate limits, checks ---------------------------------------------------------------------------

def test_start_callback_and_exchange_are_rate_limited_per_ip(idp: OidcProvider, app: Client, settings: Any) -> None:
    settings.DUALAUTH_RATE_LIMITS = {"oauth_redirect_ip": "2/m", "oauth_exchange_ip": "1/m"}
    assert [app.get("/auth/oauth/idp").status_code for _ in range(2)] == [302, 302]
    assert app.get("/auth/oauth/idp/callback", {"state": "x" * 43}).status_code == 429
    body = {"code": secrets.token_urlsafe(32), "codeVerifier": secrets.token_urlsafe(48)}
    codes = [Client().post("/auth/oauth/idp/exchange", body, content_type="application/json",
                           headers=BEARER).status_code for _ in range(2)]
    assert codes == [400, 429]


@pytest.mark.parametrize("url", ["https://user@app.example.com/x", "/relative", "https://app.example.com/x#f",
                                 "https:\\\\app.example.com", "app.example.com/x", 5])
def test_a_return_url_that_cannot_be_matched_safely_is_check_e018(settings: Any, url: Any) -> None:
    from django_dualauth.checks import check_settings

    settings.DUALAUTH_SOCIAL_APP_RETURN_URLS = [url]
    assert "dualauth.E018" in [m.id for m in check_settings()]
    settings.DUALAUTH_SOCIAL_APP_RETURN_URLS = ["myapp://auth", "https://app.example.com/signed-in?x=1"]
    assert "dualauth.E018" not in [m.id for m in check_settings()]


def test_the_purge_deletes_expired_states_and_keeps_a_live_app_code(idp: OidcProvider, browser: SystemBrowser,
                                                                    app: Client) -> None:
    from datetime import timedelta
    from io import StringIO

    from django.core.management import call_command
    from django.utils import timezone

    app.get("/auth/oauth/idp")
    OAuthState.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    verifier = secrets.token_urlsafe(48)
    code = _app_flow(browser, idp, verifier)["code"]
    live = OAuthState.objects.get(code_digest__isnull=False)
    assert live.expires_at >= live.code_expires_at  # the row outlives its code
    out = StringIO()
    call_command("dualauth_purge", stdout=out)
    assert "1 redirect-flow state(s) deleted" in out.getvalue()
    assert list(OAuthState.objects.values_list("pk", flat=True)) == [live.pk]
    assert Client().post("/auth/oauth/idp/exchange", {"code": code, "codeVerifier": verifier},
                         content_type="application/json", headers=BEARER).status_code == 200
