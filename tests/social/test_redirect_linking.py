# ruff: noqa: F811
"""Linking a provider account from a signed-in session through the redirect flow (``POST
oauth/<provider>/link/start``, then the browser at ``GET oauth/<provider>?linkTicket=``), and
node-auth's names for the start's return address (``return_path``, ``returnTo``), against the
real OpenID Connect provider; the app under test in-process, as in ``test_redirect_flow.py``.

Each linking test runs under both deliveries: the web page's own browser (cookies, CSRF), where
the callback links, and an app (bearer) that opens the URL in a system browser holding none of its
credentials, where the callback hands a one-time code that the app redeems at ``link/finish``.
"""

from __future__ import annotations

import secrets
import urllib.parse
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client

from django_dualauth.models import AuthSession, LinkedAccount, OAuthState
from django_dualauth.signals import social_account_linked
from django_dualauth.testing import AuthClient
from tests.conftest import capture

from .oidc_provider import OidcProvider, OidcUser
from .system_browser import SystemBrowser

# The in-process app and its provider, as test_redirect_flow.py sets them up (fixtures by import,
# so parameters of the same names redefine them: F811 is pytest's idiom here, not a mistake).
from .test_redirect_flow import (  # noqa: F401
    APP,
    APP_RETURN,
    RETURN,
    _s256,
    _web_sign_in,
    app,
    browser,
    idp,
    idp_client,
)

# both_backends: the links are made under unique indexes and row locks, which PostgreSQL enforces
# differently from SQLite; stage 2 runs the module again there.
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.both_backends]


def _query(url: str) -> dict[str, str]:
    return dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(url).query))


@pytest.fixture
def linker(idp: OidcProvider) -> OidcUser:
    """A provider account of its own for each test (the provider process is shared)."""
    name = f"linker-{secrets.token_hex(4)}"
    return idp.register_user(OidcUser(name, "linker-password-1", f"{name}@idp.example", True, "Link Er"))


@pytest.fixture
def signed_in(auth_client: AuthClient, user: Any) -> AuthClient:
    assert auth_client.login().status_code == 200
    return auth_client


#: The PKCE verifier of the link starts of these tests (an app's own; a cookie page sends none).
VERIFIER = secrets.token_urlsafe(48)


def _link_start(client: AuthClient, **body: Any) -> Any:
    """``link/start``; a client whose ticket is not bound to its browser (bearer, or ``app``)
    sends its PKCE challenge, as it must."""
    if not client.is_cookie or body.get("app"):
        body.setdefault("code_challenge", _s256(VERIFIER))
    return client.post(client.url("oauth/idp/link/start"), body)


def _link_finish(client: AuthClient, location: str, verifier: str = VERIFIER) -> Any:
    """The app's end of its link: the code of the URL the callback sent the browser to."""
    return client.post(client.url("oauth/idp/link/finish"), {"code": _query(location)["code"],
                                                             "codeVerifier": verifier})


def _completed(client: AuthClient, page: Any, back: str = RETURN) -> None:
    """The link finished, whichever the delivery: linked at the callback (a cookie page) or at
    ``link/finish`` with the code (nothing linked before)."""
    if client.is_cookie:
        assert page.location == back + "?linked=idp"
        return
    assert page.location.startswith(back + "?") and set(_query(page.location)) == {"code"}
    assert not LinkedAccount.objects.exists()
    answer = _link_finish(client, page.location)
    assert answer.status_code == 200, answer.content
    assert answer.json()["success"] is True


def _system_browser_for(client: AuthClient, browser: SystemBrowser) -> SystemBrowser:
    """The browser that opens the link URL: for the web, the page's own (its jar has the session);
    for an app, a system browser with nothing of the app's."""
    if client.is_cookie:
        browser.mount(APP, client.client)
    return browser


def _link_through_provider(client: AuthClient, browser: SystemBrowser, idp: OidcProvider, who: OidcUser,
                           stop: str = RETURN, **body: Any) -> Any:
    started = _link_start(client, **body)
    assert started.status_code == 200, started.content
    url = started.json()["url"]
    assert url.startswith(APP + "/auth/oauth/idp?linkTicket=")
    return idp.sign_in(_system_browser_for(client, browser), url, who, stop_at=lambda u: u.startswith(stop))


# --- linking ---------------------------------------------------------------------------------------

def test_a_signed_in_user_links_through_the_redirect_flow(
        signed_in: AuthClient, browser: SystemBrowser, idp: OidcProvider, linker: OidcUser, user: Any,
        caplog: Any) -> None:
    caplog.set_level("INFO", logger="django_dualauth")
    sessions = AuthSession.objects.count()
    events = capture(social_account_linked)
    linked = next(events)
    page = _link_through_provider(signed_in, browser, idp, linker)
    _completed(signed_in, page)
    next(events, None)
    audit = [r.getMessage() for r in caplog.records if r.getMessage().startswith("auth.social")]
    flow = "link" if signed_in.is_cookie else "app_link"
    assert f"auth.social.redirect_started user={user.pk} provider=idp flow={flow} ip=127.0.0.1" in audit
    assert f"auth.social.linked user={user.pk} provider=idp how=redirect" in audit
    # The raw ticket and code are never logged.
    assert all("linkTicket" not in r.getMessage() and "code=" not in r.getMessage() for r in caplog.records)
    link = LinkedAccount.objects.get()
    assert (link.user_id, link.provider, link.provider_account_id) == (user.pk, "idp", linker.sub)
    assert [(e["how"], e["provider"]) for e in linked] == [("redirect", "idp")]
    assert AuthSession.objects.count() == sessions  # linked, not signed in again
    listed = signed_in.get(signed_in.url("linked-accounts")).json()["linkedAccounts"]
    assert [(a["provider"], a["providerAccountId"]) for a in listed] == [("idp", linker.sub)]
    # The identity now signs that user in.
    other = SystemBrowser()
    other.mount(APP, Client())
    assert _web_sign_in(other, idp, user=linker.username).location == RETURN
    assert AuthSession.objects.filter(user=user).count() == sessions + 1


def test_an_app_links_and_comes_back_to_its_app_url(
        client_factory: Any, user: Any, browser: SystemBrowser, idp: OidcProvider, linker: OidcUser) -> None:
    app_client = client_factory("bearer")
    assert app_client.login().status_code == 200
    page = _link_through_provider(app_client, browser, idp, linker, stop="myapp:", app=True)
    _completed(app_client, page, back=APP_RETURN)
    assert LinkedAccount.objects.get().user_id == user.pk


def test_an_identity_linked_to_another_user_is_the_conflict_answer(
        signed_in: AuthClient, browser: SystemBrowser, idp: OidcProvider, linker: OidcUser, user: Any) -> None:
    first = SystemBrowser()
    first.mount(APP, Client())
    assert _web_sign_in(first, idp, user=linker.username).location == RETURN  # another account has it
    owner = LinkedAccount.objects.get().user_id
    assert owner != user.pk
    page = _link_through_provider(signed_in, browser, idp, linker)
    assert page.location.startswith(RETURN + "?")
    if signed_in.is_cookie:
        assert _query(page.location) == {"error": "OAUTH_ACCOUNT_CONFLICT", "code": "OAUTH_ACCOUNT_CONFLICT",
                                         "provider": "idp"}
    else:  # as oauth/<provider>/link answers it
        answer = _link_finish(signed_in, page.location)
        assert answer.status_code == 409 and answer.json()["code"] == "OAUTH_ACCOUNT_ALREADY_LINKED"
    assert list(LinkedAccount.objects.values_list("user_id", flat=True)) == [owner]


def test_link_start_needs_a_fresh_sign_in(signed_in: AuthClient, idp: OidcProvider) -> None:
    AuthSession.objects.update(created_at=AuthSession.objects.get().created_at - timedelta(hours=1))
    answer = _link_start(signed_in)
    assert answer.status_code == 403 and answer.json()["code"] == "REAUTHENTICATION_REQUIRED"
    assert not OAuthState.objects.exists()


def test_link_start_needs_a_session_and_a_cookie_request_its_csrf_token(
        client_factory: Any, user: Any, idp: OidcProvider) -> None:
    for delivery in ("cookie", "bearer"):
        answer = _link_start(client_factory(delivery))
        assert answer.status_code == 401 and answer.json()["code"], answer.content
    web = client_factory("cookie")
    assert web.login().status_code == 200
    # Another site's page cannot start a link in the user's browser: its token, not its Origin.
    headers: dict[str, Any] = {**web.headers(), "HTTP_ORIGIN": "https://evil.example"}
    forged = web.client.post(web.url("oauth/idp/link/start"), {}, format="json", **headers)
    assert forged.status_code == 403 and forged.json()["code"] == "CSRF_INVALID"
    untokened = web.client.post(web.url("oauth/idp/link/start"), {}, format="json", HTTP_ORIGIN=web.origin)
    assert untokened.status_code == 403 and untokened.json()["code"] == "CSRF_INVALID"
    assert not OAuthState.objects.exists()


def test_a_link_ticket_is_spent_once_and_an_unknown_one_refused(
        signed_in: AuthClient, idp: OidcProvider, app: Client) -> None:
    url = _link_start(signed_in).json()["url"]
    path = url.removeprefix(APP)
    row = OAuthState.objects.get()
    assert row.flow == "link" and _query(url)["linkTicket"] not in (row.code_digest, row.state_digest)
    # A web ticket hops in the page's own browser only (its session cookie): test_redteam.py.
    first = (signed_in.client if signed_in.is_cookie else app).get(path)
    assert first.status_code == 302 and first["Location"].startswith(idp.issuer + "/authorize")
    for again in (path, f"/auth/oauth/idp?linkTicket={secrets.token_urlsafe(32)}", "/auth/oauth/idp?linkTicket=x"):
        answer = Client().get(again)
        assert answer.status_code == 400 and answer.json()["code"] == "INVALID_STATE"


def test_a_session_ended_before_the_callback_links_nothing(
        signed_in: AuthClient, browser: SystemBrowser, idp: OidcProvider, linker: OidcUser) -> None:
    url = _link_start(signed_in).json()["url"]
    from django.utils import timezone

    AuthSession.objects.update(revoked_at=timezone.now())  # signed out elsewhere meanwhile
    if signed_in.is_cookie:  # the page's browser no longer carries the session that made the ticket
        hop = signed_in.client.get(url.removeprefix(APP))
        assert hop.status_code == 400 and hop.json()["code"] == "INVALID_STATE"
        assert not LinkedAccount.objects.exists()
        return
    page = idp.sign_in(_system_browser_for(signed_in, browser), url, linker,
                       stop_at=lambda u: u.startswith(RETURN))
    assert page.location == RETURN + "?error=REAUTHENTICATION_REQUIRED"
    assert not LinkedAccount.objects.exists()


def test_the_link_is_bound_to_the_browser_that_opened_the_ticket(
        signed_in: AuthClient, browser: SystemBrowser, idp: OidcProvider, linker: OidcUser) -> None:
    # An attacker's own link flow, its callback URL opened in the victim's browser: refused.
    url = _link_start(signed_in).json()["url"]
    page = idp.sign_in(_system_browser_for(signed_in, browser), url, linker,
                       stop_at=lambda u: u.startswith(APP + "/auth/oauth/idp/callback"))
    answer = Client().get(page.location.removeprefix(APP))
    assert (answer.status_code, answer["Location"]) == (302, RETURN + "?error=INVALID_STATE")
    assert not LinkedAccount.objects.exists()


def test_link_start_refuses_a_return_url_off_the_allowlist_and_bad_input(
        signed_in: AuthClient, idp: OidcProvider) -> None:
    for body in ({"returnUrl": "https://evil.example/"}, {"return_path": "//evil.example"},
                 {"returnUrl": APP_RETURN}, {"app": True, "returnUrl": RETURN}):
        answer = _link_start(signed_in, **body)
        assert answer.status_code == 400 and answer.json()["code"] == "RETURN_URL_NOT_ALLOWED", body
    bad: tuple[dict[str, object], ...] = ({"returnUrl": 5}, {"app": "sometimes"}, {"returnUrl": "x" * 5000})
    for body in bad:
        answer = _link_start(signed_in, **body)
        assert answer.status_code == 400 and answer.json()["code"], body
    assert not OAuthState.objects.exists()


def test_a_link_start_with_node_auths_return_path(signed_in: AuthClient, idp: OidcProvider) -> None:
    assert _link_start(signed_in, return_path="/other").status_code == 200
    assert OAuthState.objects.get().return_url == APP + "/other"


# --- node-auth's names for the return address --------------------------------------------------------

@pytest.mark.parametrize(("params", "expected"), [
    ({"return_path": "/other"}, APP + "/other"),
    ({"return_path": "/app/signed-in"}, RETURN),
    ({"returnTo": APP + "/other"}, APP + "/other"),
    ({"returnTo": "/other"}, APP + "/other"),
    ({"returnUrl": RETURN, "return_path": "/app/signed-in"}, RETURN),
])
def test_node_auths_return_names_are_aliases(idp: OidcProvider, app: Client, params: dict[str, str],
                                             expected: str) -> None:
    answer = app.get("/auth/oauth/idp", params)
    assert answer.status_code == 302, answer.content
    assert OAuthState.objects.get().return_url == expected


@pytest.mark.parametrize("params", [
    {"return_path": "//evil.example/app/signed-in"}, {"return_path": "/nope"}, {"return_path": "app/signed-in"},
    {"return_path": "/\\evil.example"}, {"return_path": "https://evil.example/app/signed-in"},
    {"returnTo": "https://evil.example/other"}, {"returnTo": "/other/../evil"},
    {"returnUrl": RETURN, "return_path": "/other"},  # names that disagree
    {"return_path": "/other\r\nLocation: https://evil.example"},
])
def test_node_auths_return_names_go_through_the_same_allowlist(idp: OidcProvider, app: Client,
                                                                params: dict[str, str]) -> None:
    answer = app.get("/auth/oauth/idp", params)
    assert answer.status_code == 400 and answer.json()["code"] == "RETURN_URL_NOT_ALLOWED"
    assert not OAuthState.objects.exists()


def test_return_path_takes_the_origin_of_the_request_when_allowlisted(idp: OidcProvider, app: Client,
                                                                       settings: Any) -> None:
    settings.DUALAUTH_SOCIAL_RETURN_URLS = [RETURN, "https://spa.example/done", "https://admin.example/done"]
    assert app.get("/auth/oauth/idp", {"return_path": "/done"}, HTTP_REFERER="https://admin.example/x").status_code \
        == 302
    assert app.get("/auth/oauth/idp", {"return_path": "/done"}, HTTP_ORIGIN="https://spa.example").status_code == 302
    # An unknown origin: the first entry's (node-auth's default), where /done is not allowlisted.
    assert app.get("/auth/oauth/idp", {"return_path": "/done"},
                   HTTP_REFERER="https://evil.example/").status_code == 400
    assert list(OAuthState.objects.order_by("created_at").values_list("return_url", flat=True)) == [
        "https://admin.example/done", "https://spa.example/done"]


def test_the_app_flow_takes_return_path_on_its_own_allowlist(idp: OidcProvider, app: Client, settings: Any) -> None:
    settings.DUALAUTH_SOCIAL_APP_RETURN_URLS = [APP_RETURN, "myapp://auth/done"]
    challenge = "x" * 43
    answer = app.get("/auth/oauth/idp", {"app": "1", "code_challenge": challenge, "return_path": "/done"})
    assert answer.status_code == 302, answer.content
    assert OAuthState.objects.get().return_url == "myapp://auth/done"


def test_a_redirect_uri_that_is_not_the_providers_callback_is_check_w013(settings: Any) -> None:
    from django_dualauth.checks import check_settings

    base = {"kind": "oidc", "issuer": "https://login.example", "client_ids": ["c"]}
    for uri in ("https://api.example.com/auth/oauth/idp/callback", "http://127.0.0.1:8001/v2/auth/oauth/idp/callback"):
        settings.DUALAUTH_SOCIAL_PROVIDERS = {"idp": {**base, "redirect_uri": uri}}
        assert "dualauth.W013" not in [m.id for m in check_settings()], uri
    for uri in ("https://api.example.com/auth/oauth/other/callback", "https://api.example.com/cb",
                "https://api.example.com/auth/oauth/idp/callback/"):
        settings.DUALAUTH_SOCIAL_PROVIDERS = {"idp": {**base, "redirect_uri": uri}}
        assert "dualauth.W013" in [m.id for m in check_settings()], uri
    settings.DUALAUTH_SOCIAL_PROVIDERS = {"idp": base}  # no redirect flow: nothing derived
    assert "dualauth.W013" not in [m.id for m in check_settings()]


def test_the_link_url_comes_from_the_redirect_uri_never_the_host(signed_in: AuthClient, idp: OidcProvider,
                                                                 settings: Any) -> None:
    settings.ALLOWED_HOSTS = ["testserver", "evil.example"]
    headers: dict[str, Any] = {**signed_in.headers(), "HTTP_HOST": "evil.example"}
    answer = signed_in.client.post(signed_in.url("oauth/idp/link/start"), {"code_challenge": _s256(VERIFIER)},
                                   format="json", **headers)
    assert answer.status_code == 200, answer.content
    assert answer.json()["url"].startswith(APP + "/auth/oauth/idp?linkTicket=")
