# ruff: noqa: F811
"""An app's link through the redirect flow (``link/start`` with ``app``, or from any session that is
not a cookie session): the callback links nothing and hands a one-time code to the app URL, which
only the session that started the link redeems, with its PKCE verifier, at ``link/finish``.

The attack it closes [CSRF-04, RFC 9700 §4.7]: an attacker's own app ticket, opened in a victim's
browser without a session of this site, would link the victim's provider account to the attacker's
account. Against the real OpenID Connect provider and the Apple stand-in.
"""

from __future__ import annotations

import secrets
import urllib.parse
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.utils import timezone

from django_dualauth.crypto import open_token
from django_dualauth.models import LinkedAccount, OAuthState
from django_dualauth.signals import social_account_linked
from django_dualauth.testing import AuthClient
from tests.conftest import capture

from .apple_standin import AppleStandIn, read_form_post
from .helpers import APPLE_SERVICES
from .oidc_provider import OidcProvider, OidcUser
from .system_browser import SystemBrowser
from .test_apple_web_flow import _post_back, apple, apple_rest, team  # noqa: F401
from .test_redirect_flow import APP, APP_RETURN, RETURN, _s256, app, browser, idp, idp_client  # noqa: F401
from .test_redirect_linking import VERIFIER, _link_finish, _link_start, linker  # noqa: F401

# both_backends: the links are made under unique indexes and row locks, which PostgreSQL enforces
# differently from SQLite; stage 2 runs the module again there.
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.both_backends]


def _query(url: str) -> dict[str, str]:
    return dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(url).query))


@pytest.fixture
def attacker(client_factory: Any, user: Any) -> AuthClient:
    """The app of the account a link ticket names (bearer)."""
    client = client_factory("bearer")
    assert client.login().status_code == 200
    return client


def _victim_app(client_factory: Any) -> tuple[Any, AuthClient]:
    victim = get_user_model().objects.create_user(username="victim", email="victim@example.com",
                                                  password="victim-password-1")
    client = client_factory("bearer")
    assert client.login(email="victim@example.com", password="victim-password-1").status_code == 200
    return victim, client


def _app_link_code(client: AuthClient, browser: SystemBrowser, idp: OidcProvider, who: OidcUser) -> str:
    """link/start (app), the system browser through the provider: the code at the app URL."""
    started = _link_start(client, app=True)
    assert started.status_code == 200, started.content
    page = idp.sign_in(browser, started.json()["url"], who, stop_at=lambda u: u.startswith("myapp:"))
    assert page.location.startswith(APP_RETURN + "?") and set(_query(page.location)) == {"code"}
    return _query(page.location)["code"]


def _finish(client: AuthClient, code: str, verifier: str = VERIFIER) -> Any:
    return client.post(client.url("oauth/idp/link/finish"), {"code": code, "codeVerifier": verifier})


def _refused(answer: Any) -> None:
    assert answer.status_code == 400 and answer.json()["code"] == "INVALID_OAUTH_CODE", answer.content


# --- the attack --------------------------------------------------------------------------------------

def test_an_attackers_app_ticket_opened_by_a_victim_links_nothing(
        attacker: AuthClient, client_factory: Any, browser: SystemBrowser, idp: OidcProvider,
        linker: OidcUser, user: Any) -> None:
    """[CSRF-04] The victim's browser (no session here) signs in at the provider: the code lands at
    the app URL of the victim's device; the victim's own app cannot redeem it (another session, no
    verifier), and with it spent, the attacker cannot either."""
    events = capture(social_account_linked)
    linked = next(events)
    code = _app_link_code(attacker, browser, idp, linker)
    assert not LinkedAccount.objects.exists()  # the callback linked nothing
    _refused(_finish(attacker, secrets.token_urlsafe(32)))  # the attacker never sees the code
    victim, victim_app = _victim_app(client_factory)
    _refused(_finish(victim_app, code, secrets.token_urlsafe(48)))
    _refused(_finish(victim_app, code))  # even with the attacker's verifier: spent, and another session
    _refused(_finish(attacker, code))  # spent by the refusals
    next(events, None)
    assert not LinkedAccount.objects.exists() and linked == []


def test_a_bearer_sessions_web_link_also_needs_the_clients_proof(
        attacker: AuthClient, browser: SystemBrowser, idp: OidcProvider, linker: OidcUser) -> None:
    """[CSRF-04] A bearer session's ticket is no more bound to a browser when it names a web return
    URL: it needs the PKCE challenge and ends in a code too, never linked at the callback."""
    bare = attacker.post(attacker.url("oauth/idp/link/start"), {})
    assert bare.status_code == 400 and bare.json()["code"] == "RETURN_URL_NOT_ALLOWED"
    assert not OAuthState.objects.exists()
    started = _link_start(attacker)
    page = idp.sign_in(browser, started.json()["url"], linker, stop_at=lambda u: u.startswith(RETURN))
    assert page.location.startswith(RETURN + "?") and set(_query(page.location)) == {"code"}
    assert not LinkedAccount.objects.exists()


def test_link_start_of_an_app_needs_its_s256_challenge(attacker: AuthClient, idp: OidcProvider) -> None:
    for body in ({"app": True}, {"app": True, "code_challenge": "short"},
                 {"app": True, "code_challenge": _s256(VERIFIER), "code_challenge_method": "plain"},
                 {"app": True, "code_challenge": "=" * 43}):
        answer = attacker.post(attacker.url("oauth/idp/link/start"), body)
        assert answer.status_code == 400 and answer.json()["code"] == "RETURN_URL_NOT_ALLOWED", body
    for body in ({"app": True, "code_challenge": 5}, {"app": True, "code_challenge": "x" * 500}):
        answer = attacker.post(attacker.url("oauth/idp/link/start"), body)
        assert answer.status_code == 400 and answer.json()["code"], body
    assert not OAuthState.objects.exists()


# --- the app's link ----------------------------------------------------------------------------------

def test_an_app_links_with_its_code_verifier_and_session(
        attacker: AuthClient, browser: SystemBrowser, idp: OidcProvider, linker: OidcUser, user: Any,
        caplog: Any) -> None:
    caplog.set_level("INFO", logger="django_dualauth")
    events = capture(social_account_linked)
    linked = next(events)
    code = _app_link_code(attacker, browser, idp, linker)
    row = OAuthState.objects.get()
    assert code not in (row.code_digest, row.state_digest) and row.link_subject == linker.sub
    answer = _finish(attacker, code)
    assert answer.status_code == 200, answer.content
    body = answer.json()
    assert body["success"] is True and (body["linkedAccount"]["provider"],
                                        body["linkedAccount"]["providerAccountId"]) == ("idp", linker.sub)
    assert answer["Cache-Control"] == "no-store"
    next(events, None)
    assert [(e["how"], e["provider"], e["user"].pk) for e in linked] == [("redirect", "idp", user.pk)]
    assert LinkedAccount.objects.get().user_id == user.pk
    audit = [r.getMessage() for r in caplog.records]
    assert f"auth.social.linked user={user.pk} provider=idp how=redirect" in audit
    assert all(code not in m for m in audit)
    _refused(_finish(attacker, code))  # single use


def test_a_wrong_verifier_spends_the_code(attacker: AuthClient, browser: SystemBrowser, idp: OidcProvider,
                                          linker: OidcUser) -> None:
    code = _app_link_code(attacker, browser, idp, linker)
    _refused(_finish(attacker, code, secrets.token_urlsafe(48)))
    _refused(_finish(attacker, code))
    assert not LinkedAccount.objects.exists()


def test_an_expired_code_is_refused(attacker: AuthClient, browser: SystemBrowser, idp: OidcProvider,
                                    linker: OidcUser) -> None:
    code = _app_link_code(attacker, browser, idp, linker)
    OAuthState.objects.update(code_expires_at=timezone.now() - timedelta(seconds=1))
    _refused(_finish(attacker, code))
    assert not LinkedAccount.objects.exists()


def test_another_session_of_the_same_user_cannot_finish(
        attacker: AuthClient, client_factory: Any, browser: SystemBrowser, idp: OidcProvider,
        linker: OidcUser) -> None:
    code = _app_link_code(attacker, browser, idp, linker)
    other = client_factory("bearer")
    assert other.login().status_code == 200
    _refused(_finish(other, code))
    _refused(_finish(attacker, code))  # spent
    assert not LinkedAccount.objects.exists()


def test_link_finish_needs_a_session_and_its_provider(attacker: AuthClient, client_factory: Any,
                                                      idp: OidcProvider) -> None:
    for delivery in ("cookie", "bearer"):
        anonymous = client_factory(delivery)
        answer = anonymous.post(anonymous.url("oauth/idp/link/finish"),
                                {"code": secrets.token_urlsafe(32), "codeVerifier": VERIFIER})
        assert answer.status_code == 401 and answer.json()["code"], answer.content
    answer = attacker.post(attacker.url("oauth/nope/link/finish"),
                           {"code": secrets.token_urlsafe(32), "codeVerifier": VERIFIER})
    assert answer.status_code == 404


@pytest.mark.parametrize("body", [
    {}, {"code": secrets.token_urlsafe(32)}, {"codeVerifier": VERIFIER}, {"code": 5, "codeVerifier": VERIFIER},
    {"code": "x" * 500, "codeVerifier": VERIFIER}, {"code": secrets.token_urlsafe(32), "codeVerifier": "short"},
    {"code": secrets.token_urlsafe(32), "codeVerifier": "\x00" * 43}, {"code": "", "codeVerifier": ""},
    [], "text",
])
def test_link_finish_refuses_bad_input_with_a_4xx(attacker: AuthClient, idp: OidcProvider, body: Any) -> None:
    answer = attacker.post(attacker.url("oauth/idp/link/finish"), body)
    assert 400 <= answer.status_code < 500 and answer.json()["code"], answer.content


def test_a_cookie_call_to_link_finish_is_csrf_checked(
        client_factory: Any, user: Any, idp: OidcProvider, linker: OidcUser) -> None:
    """A cookie session may start an app-shaped link (its hop is then bound to its browser too);
    its finish is a state-changing cookie request: CSRF token and Origin, else refused, code unspent."""
    web = client_factory("cookie")
    assert web.login().status_code == 200
    own = SystemBrowser()
    own.mount(APP, web.client)
    code = _app_link_code(web, own, idp, linker)
    body = {"code": code, "codeVerifier": VERIFIER}
    untokened = web.client.post(web.url("oauth/idp/link/finish"), body, format="json", HTTP_ORIGIN=web.origin)
    assert untokened.status_code == 403 and untokened.json()["code"] == "CSRF_INVALID"
    forged = web.client.post(web.url("oauth/idp/link/finish"), body, format="json",
                             **{**web.headers(), "HTTP_ORIGIN": "https://evil.example"})
    assert forged.status_code == 403 and forged.json()["code"] == "CSRF_INVALID"
    assert not LinkedAccount.objects.exists()
    answer = _finish(web, code)
    assert answer.status_code == 200, answer.content
    assert LinkedAccount.objects.get().user_id == user.pk


def test_a_link_code_is_no_sign_in_code_and_a_sign_in_code_no_link_code(
        attacker: AuthClient, browser: SystemBrowser, idp: OidcProvider, linker: OidcUser) -> None:
    code = _app_link_code(attacker, browser, idp, linker)
    exchanged = Client().post("/auth/oauth/idp/exchange", {"code": code, "codeVerifier": VERIFIER},
                              content_type="application/json", headers={"X-Auth-Strategy": "bearer"})
    assert exchanged.status_code == 400 and exchanged.json()["code"] == "INVALID_OAUTH_CODE"
    assert _finish(attacker, code).status_code == 200  # the exchange did not spend it


def test_an_ended_session_gets_no_code(attacker: AuthClient, browser: SystemBrowser, idp: OidcProvider,
                                       linker: OidcUser) -> None:
    started = _link_start(attacker, app=True)
    assert attacker.logout().status_code in (200, 204)
    page = idp.sign_in(browser, started.json()["url"], linker, stop_at=lambda u: u.startswith("myapp:"))
    assert page.location == APP_RETURN + "?error=REAUTHENTICATION_REQUIRED"
    assert not LinkedAccount.objects.exists()


# --- Apple -------------------------------------------------------------------------------------------

def test_an_apps_apple_link_keeps_the_refresh_token_sealed_until_the_finish(
        client_factory: Any, user: Any, apple: AppleStandIn) -> None:
    app_client = client_factory("bearer")
    assert app_client.login().status_code == 200
    started = app_client.post(app_client.url("oauth/apple/link/start"),
                              {"app": True, "code_challenge": _s256(VERIFIER)})
    assert started.status_code == 200, started.content
    system_browser = Client()
    hop = system_browser.get(started.json()["url"].removeprefix(APP))
    assert hop.status_code == 302, hop.content
    _, fields = read_form_post(hop["Location"])
    back = _post_back(system_browser, fields)
    assert back.status_code == 302 and back["Location"].startswith(APP_RETURN + "?code=")
    code = _query(back["Location"])["code"]
    (raw,) = list(apple._state.refresh_tokens)
    row = OAuthState.objects.get()
    assert not LinkedAccount.objects.exists()
    assert raw not in row.link_provider_token and open_token(row.link_provider_token) == raw
    answer = app_client.post(app_client.url("oauth/apple/link/finish"), {"code": code, "codeVerifier": VERIFIER})
    assert answer.status_code == 200, answer.content
    link = LinkedAccount.objects.get()
    assert (link.user_id, link.provider, link.provider_token_client_id) == (user.pk, "apple", APPLE_SERVICES)
    assert open_token(link.provider_token) == raw and raw not in link.provider_token
    assert OAuthState.objects.get().link_provider_token == ""  # not kept on the row once redeemed
