# ruff: noqa: F811
"""Attacks on the redirect flow's new surfaces (issue 19 §5-§6): the link ticket, return URLs,
Apple's form_post, provider mix-up and the rate limits of the new endpoints. Each test performs
the attack and asserts the defence; ids in brackets are ``security-catalogue.md``'s.

The app under test in-process, the real OpenID Connect provider and the Apple stand-in, as in
``test_redirect_flow.py``, ``test_redirect_linking.py`` and ``test_apple_web_flow.py``.
"""

from __future__ import annotations

import secrets
import urllib.parse
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from django_dualauth.models import LinkedAccount, OAuthState
from django_dualauth.testing import AuthClient

from .apple_standin import AppleStandIn
from .oidc_provider import OidcClient, OidcProvider
from .system_browser import SystemBrowser
from .test_apple_web_flow import _post_back, _start, apple, apple_rest, team  # noqa: F401
from .test_redirect_flow import APP, APP_RETURN, CALLBACK, RETURN, app, browser, idp, idp_client  # noqa: F401
from .test_redirect_linking import _link_start, signed_in  # noqa: F401

pytestmark = pytest.mark.django_db(transaction=True)


def _query(url: str) -> dict[str, str]:
    return dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(url).query))


# --- the link ticket handed to a victim -----------------------------------------------------------

@pytest.fixture
def web_signed_in(client_factory: Any, user: Any) -> AuthClient:
    """A web page's session (cookies): its tickets are bound to it."""
    client = client_factory("cookie")
    assert client.login().status_code == 200
    return client


def test_a_web_link_ticket_opened_in_another_browser_links_nothing(
        web_signed_in: AuthClient, idp: OidcProvider) -> None:
    """[CSRF-04, RFC 9700 §4.7] The attacker's own ticket (a cookie session's), sent to a victim whose
    browser opens it: without the binding, the victim's provider account would be linked to the
    attacker's account, and the victim's next "Sign in with …" would land in it."""
    url = _link_start(web_signed_in).json()["url"]
    hop = Client().get(url.removeprefix(APP))  # the victim's browser: no session of the attacker's
    assert hop.status_code == 400 and hop.json()["code"] == "INVALID_STATE"
    assert OAuthState.objects.get().code_consumed_at is not None  # spent: the attacker cannot retry it
    # Nor in the attacker's own browser afterwards (single use).
    again = web_signed_in.client.get(url.removeprefix(APP))
    assert again.status_code == 400 and again.json()["code"] == "INVALID_STATE"
    assert not LinkedAccount.objects.exists()


def test_a_web_link_ticket_opened_in_the_victims_signed_in_browser_is_refused(
        signed_in: AuthClient, client_factory: Any, idp: OidcProvider) -> None:
    """[CSRF-04, RFC 9700 §4.7] The victim is signed in here too (their own session cookie): still not
    the session that made the ticket."""
    victim_user = get_user_model().objects.create_user(username="victim", email="victim@example.com",
                                                       password="victim-password-1")
    victim = client_factory("cookie")
    assert victim.login(email="victim@example.com", password="victim-password-1").status_code == 200
    url = _link_start(signed_in).json()["url"]
    hop = victim.client.get(url.removeprefix(APP))
    assert hop.status_code == 400 and hop.json()["code"] == "INVALID_STATE"
    assert not LinkedAccount.objects.filter(user=victim_user).exists()


def test_an_app_link_ticket_is_refused_in_a_browser_signed_in_as_someone_else(
        client_factory: Any, user: Any, idp: OidcProvider) -> None:
    """[CSRF-04, RFC 9700 §4.7] An app's (bearer) ticket cannot be bound to its system browser, which
    holds nothing of the app's; but a browser signed in as another user is not that browser."""
    attacker = client_factory("bearer")
    assert attacker.login().status_code == 200
    url = _link_start(attacker, app=True).json()["url"]
    get_user_model().objects.create_user(username="victim", email="victim@example.com",
                                         password="victim-password-1")
    victim = client_factory("cookie")
    assert victim.login(email="victim@example.com", password="victim-password-1").status_code == 200
    hop = victim.client.get(url.removeprefix(APP))
    assert hop.status_code == 400 and hop.json()["code"] == "INVALID_STATE"
    # The same user's web session in the system browser (shared with Safari on iOS) is no obstacle.
    url = _link_start(attacker, app=True).json()["url"]
    same_user_browser = client_factory("cookie")
    assert same_user_browser.login().status_code == 200
    hop = same_user_browser.client.get(url.removeprefix(APP))
    assert hop.status_code == 302 and hop["Location"].startswith(idp.issuer + "/authorize")


def test_a_link_ticket_after_sign_out_does_not_hop(web_signed_in: AuthClient, idp: OidcProvider) -> None:
    """[SES-01] Signed out between link/start and the hop: the cookie session is gone,
    the ticket refused (a bearer session's is refused at the callback: test_redirect_linking)."""
    url = _link_start(web_signed_in).json()["url"]
    assert web_signed_in.logout().status_code in (200, 204)
    hop = web_signed_in.client.get(url.removeprefix(APP))
    assert hop.status_code == 400 and hop.json()["code"] == "INVALID_STATE"
    assert not LinkedAccount.objects.exists()


# --- open redirects through the return URL ----------------------------------------------------------

_OFF_LIST = [
    {"return_path": "//evil.example"}, {"return_path": "/\\evil.example"}, {"return_path": "/%2F%2Fevil.example"},
    {"return_path": "/%2f%2fevil.example"}, {"return_path": "/@evil.example"}, {"return_path": "/\t/evil.example"},
    {"return_path": "/\n/evil.example"}, {"return_path": "/app/signed-in\t"},
    {"return_path": "\uff0f\uff0fevil.example"}, {"return_path": "/app/signed-in#@evil.example"},
    {"return_path": "/app/signed-in/"}, {"return_path": "/" + "a" * 5000},
    {"returnTo": "//evil.example/app/signed-in"}, {"returnTo": "http://testserver.evil.example/app/signed-in"},
    {"returnUrl": RETURN + "/"}, {"returnUrl": "HTTP://TESTSERVER/app/signed-in"},
    {"returnUrl": "http://testserver:80/app/signed-in"}, {"returnUrl": "http://user@testserver/app/signed-in"},
    {"returnUrl": "http://testserver@evil.example/app/signed-in"}, {"returnUrl": RETURN + "#x"},
    {"returnUrl": RETURN + "?next=https://evil.example"}, {"returnUrl": RETURN + "\u3002evil.example"},
    {"returnUrl": "http://testserver\uff0eevil.example/app/signed-in"},
]


@pytest.mark.parametrize("params", _OFF_LIST)
def test_no_return_url_near_match_starts_a_flow(idp: OidcProvider, app: Client, params: dict[str, str]) -> None:
    """[CK-04, ASVS 3.7.2] Exact match only, whatever the name, encoding or spoofed origin."""
    answer = app.get("/auth/oauth/idp", params, HTTP_ORIGIN="https://evil.example",
                     HTTP_REFERER="https://evil.example/")
    assert answer.status_code == 400 and answer.json()["code"] == "RETURN_URL_NOT_ALLOWED", params
    assert not OAuthState.objects.exists()


@pytest.mark.parametrize("delivery", ["cookie", "bearer"])
def test_no_return_url_near_match_starts_a_link(client_factory: Any, user: Any, idp: OidcProvider,
                                               delivery: str) -> None:
    """[CK-04, ASVS 3.7.2] The same rule at ``link/start``, under both deliveries."""
    client = client_factory(delivery)
    assert client.login().status_code == 200
    for params in _OFF_LIST:
        answer = _link_start(client, **params)
        assert answer.status_code == 400 and answer.json()["code"], params
    assert not OAuthState.objects.exists()


def test_a_spoofed_origin_only_picks_among_allowlisted_origins(idp: OidcProvider, app: Client,
                                                                settings: Any) -> None:
    """[CK-04, ASVS 3.7.2] ``Origin``/``Referer`` choose the origin of ``return_path`` only among the
    allowlist's, never add one."""
    settings.DUALAUTH_SOCIAL_RETURN_URLS = [RETURN, "https://spa.example/done"]
    for header in ({"HTTP_ORIGIN": "https://evil.example"}, {"HTTP_REFERER": "https://evil.example/done"},
                   {"HTTP_ORIGIN": "https://spa.example.evil.example"}, {"HTTP_ORIGIN": "null"}):
        answer = app.get("/auth/oauth/idp", {"return_path": "/done"}, **header)
        assert answer.status_code == 400 and answer.json()["code"] == "RETURN_URL_NOT_ALLOWED", header
    assert not OAuthState.objects.exists()


# --- mix-up --------------------------------------------------------------------------------------------

def test_a_state_of_one_provider_at_another_providers_callback_is_refused(
        idp: OidcProvider, settings: Any, oidc_provider: OidcProvider, idp_client: OidcClient,
        browser: SystemBrowser, app: Client) -> None:
    """[RFC 9207, RFC 9700 §4.4: no catalogue id] Mix-up: provider A's code and state delivered to
    provider B's callback. The state is looked up per provider, so B knows no such flow; A's flow still works."""
    other_callback = APP + "/auth/oauth/other/callback"
    other = oidc_provider.register_client(OidcClient(
        f"other-{secrets.token_hex(6)}", secrets.token_urlsafe(24), (other_callback,), skip_authorization=True))
    settings.DUALAUTH_SOCIAL_PROVIDERS = {**settings.DUALAUTH_SOCIAL_PROVIDERS, "other": {
        "kind": "oidc", "issuer": oidc_provider.issuer, "client_ids": [other.client_id],
        "client_secret": other.client_secret, "redirect_uri": other_callback}}
    page = idp.sign_in(browser, f"{APP}/auth/oauth/idp", idp.users["alice"],
                       stop_at=lambda url: url.startswith(CALLBACK))
    query = urllib.parse.urlsplit(page.location).query
    mixed = app.get("/auth/oauth/other/callback?" + query)
    assert mixed.status_code == 400 and mixed.json()["code"] == "INVALID_STATE"
    assert OAuthState.objects.get().consumed_at is None
    assert app.get("/auth/oauth/idp/callback?" + query)["Location"] == RETURN


def test_apples_form_post_is_no_get_and_another_providers_callback_no_post(apple: AppleStandIn) -> None:
    """[RFC 9207, RFC 9700 §4.4: no catalogue id] Apple's form fields sent as a GET query to
    Apple's callback: 405, the state untouched (other providers' callbacks refuse POST:
    test_apple_web_flow)."""
    browser = Client()
    _, fields = _start(browser)
    assert browser.get("/auth/oauth/apple/callback", fields).status_code == 405
    assert OAuthState.objects.get().consumed_at is None
    assert _post_back(browser, fields).status_code == 302


# --- Apple's form_post ------------------------------------------------------------------------------

@pytest.mark.parametrize("user_field", [
    "[" * 2048, '{"name": ' * 1000 + "1" + "}" * 1000, '{"name": {"firstName": 5, "lastName": ["x"]}}',
    '{"name": {"firstName": "<script>alert(1)</script>"}}', "x" * 100_000, '"just a string"', "null",
])
def test_a_hostile_user_field_never_fails_the_sign_in(apple: AppleStandIn, user_field: str) -> None:
    """[IN-02, IN-03] The ``user`` field is the browser's to forge: nested deeper than the
    recursion limit (was a 500), huge, of the wrong types. Names are stored as text (escaped
    where rendered: the admin, the API's JSON), never markup the server produces."""
    browser = Client()
    _, fields = _start(browser)
    fields["user"] = user_field
    answer = _post_back(browser, fields)
    assert answer.status_code == 302 and answer["Location"] == RETURN, answer.content
    user = get_user_model().objects.get()
    assert user.first_name in ("", "<script>alert(1)</script>")
    assert LinkedAccount.objects.filter(user=user).exists()


@pytest.mark.parametrize("first", ["Al\x00ice", "Al\u0007ice", "Alice\u202e", "\u200b"])
def test_control_characters_in_apples_names_leave_the_name_out(first: str) -> None:
    """[IN-06] NUL (a 500 on PostgreSQL, which refuses it in text), other control and format
    characters in a forged ``user`` field: that name is left out, the other kept."""
    import json

    from django_dualauth.services.social_redirect import _form_post_names

    raw = json.dumps({"name": {"firstName": first, "lastName": "Liddell"}})
    assert _form_post_names(raw) == {"lastName": "Liddell"}
    assert _form_post_names(json.dumps({"name": {"firstName": "Zoë 🍎", "lastName": "O'Brien"}})) == {
        "firstName": "Zoë 🍎", "lastName": "O'Brien"}


def test_control_characters_in_a_providers_names_are_not_stored(monkeypatch: Any) -> None:
    """[IN-06] A provider's user may set their own display name: an id_token's ``given_name`` or
    GitHub's ``name`` with NUL or a control character fills no name (was a 500 on PostgreSQL)."""
    from types import SimpleNamespace

    from django_dualauth.services import social, social_redirect

    assert social._claim_text("Al\x00ice") == social._claim_text("Al\u0007ice") == social._claim_text(5) == ""
    assert social._claim_text("  Zoë ") == "Zoë"
    answers = iter([{"id": 7, "name": "Mal\x00lory Evil"}, [{"email": "m@example.com", "primary": True,
                                                             "verified": True}]])
    monkeypatch.setattr(social_redirect, "fetch_json", lambda *args, **kwargs: next(answers))
    provider = SimpleNamespace(config=SimpleNamespace(name="github", userinfo_endpoint="https://api.example/user",
                                                      timeout=5))
    identity = social_redirect._github_identity(provider, {"access_token": "t"})  # type: ignore[arg-type]
    assert (identity.subject, identity.first_name, identity.last_name) == ("7", "", "")


def test_a_replayed_form_post_is_refused(apple: AppleStandIn) -> None:
    """[RFC 9700 §4.7; single use as ML-01] The same POST again, from the same browser (the cookie cleared) or with
    the cookie kept: the state is spent."""
    browser = Client()
    _, fields = _start(browser)
    cookies = dict(browser.cookies.items())
    assert _post_back(browser, fields)["Location"] == RETURN
    replay = Client()
    replay.cookies.update(cookies)
    answer = _post_back(replay, fields)
    assert answer.status_code == 302 and _query(answer["Location"]) == {"error": "INVALID_STATE"}
    assert LinkedAccount.objects.count() == 1


# --- rate limits of the new endpoints ----------------------------------------------------------------

def test_the_form_post_callback_is_rate_limited(apple: AppleStandIn, settings: Any) -> None:
    """[BF-04] The callback POST counts against ``oauth_redirect_ip`` (its start too)."""
    settings.DUALAUTH_RATE_LIMITS = {"oauth_redirect_ip": "3/h"}
    browser = Client()
    _, fields = _start(browser)  # 1
    assert _post_back(browser, fields).status_code == 302  # 2
    assert _post_back(browser, {"state": secrets.token_urlsafe(32)}).status_code == 400  # 3
    answer = _post_back(browser, fields)
    assert answer.status_code == 429 and answer.json()["code"] == "RATE_LIMITED"


@pytest.mark.parametrize("delivery", ["cookie", "bearer"])
def test_link_start_is_rate_limited(client_factory: Any, user: Any, idp: OidcProvider, settings: Any,
                                    delivery: str) -> None:
    """[BF-04] ``link/start`` counts against ``oauth_redirect_ip``: each makes a row."""
    settings.DUALAUTH_RATE_LIMITS = {"oauth_redirect_ip": "2/h"}
    client = client_factory(delivery)
    assert client.login().status_code == 200
    assert [_link_start(client).status_code for _ in range(2)] == [200, 200]
    answer = _link_start(client)
    assert answer.status_code == 429 and answer.json()["code"] == "RATE_LIMITED"
    assert OAuthState.objects.count() == 2


@pytest.mark.parametrize("delivery", ["cookie", "bearer"])
def test_the_code_exchange_is_rate_limited(client_factory: Any, idp: OidcProvider, settings: Any,
                                           delivery: str) -> None:
    """[BF-03, BF-04] Guessing one-time codes: ``oauth_exchange_ip``."""
    settings.DUALAUTH_RATE_LIMITS = {"oauth_exchange_ip": "2/h"}
    client = client_factory(delivery)
    body = {"code": secrets.token_urlsafe(32), "codeVerifier": "v" * 43}
    url = client.url("oauth/idp/exchange")
    assert [client.post(url, body).status_code for _ in range(2)] == [400, 400]
    answer = client.post(url, body)
    assert answer.status_code == 429 and answer.json()["code"] == "RATE_LIMITED"


# --- the exchange: login CSRF through a browser ---------------------------------------------------

def test_a_cross_site_exchange_in_a_browser_is_refused_and_spends_nothing(
        client_factory: Any, idp: OidcProvider) -> None:
    """[CSRF-01, CSRF-04] An attacker's own one-time code (and verifier) POSTed by the victim's browser
    under cookie delivery would sign the victim into the attacker's account: CSRF and Origin are
    checked before the code is touched; the same code then still works for its app (bearer)."""
    OAuthState.objects.create(
        provider="idp", state_digest="s" * 64, browser_digest="b" * 64, flow="app", return_url=APP_RETURN,
        app_code_challenge=_s256("v" * 43), created_at=_now(), expires_at=_now() + _minutes(5),
        user=get_user_model().objects.create_user(username="attacker", email="attacker@example.com"),
        code_digest=_code_digest("c" * 43), code_expires_at=_now() + _minutes(1))
    web = client_factory("cookie")
    body = {"code": "c" * 43, "codeVerifier": "v" * 43}
    forged = web.client.post(web.url("oauth/idp/exchange"), body, format="json", HTTP_ORIGIN="https://evil.example")
    assert forged.status_code == 403 and forged.json()["code"] == "CSRF_INVALID"
    assert OAuthState.objects.get().code_consumed_at is None
    app = client_factory("bearer")
    assert app.post(app.url("oauth/idp/exchange"), body).status_code == 200


def _now() -> Any:
    from django.utils import timezone

    return timezone.now()


def _minutes(n: int) -> Any:
    from datetime import timedelta

    return timedelta(minutes=n)


def _s256(verifier: str) -> str:
    import base64
    import hashlib

    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()


def _code_digest(raw: str) -> str:
    from django_dualauth.crypto import digest
    from django_dualauth.services.social_redirect import APP_CODE_PURPOSE

    return digest(raw, APP_CODE_PURPOSE)


# --- Apple's refresh token: nowhere to be seen ---------------------------------------------------------

def test_apples_refresh_token_shows_nowhere_raw_or_sealed(apple: AppleStandIn, admin_client: Any,
                                                          caplog: Any) -> None:
    """[RT-01, IN-08] Neither the raw refresh token nor its ciphertext in the logs, the model's
    ``str``/``repr``, the admin's pages, the user's or the staff API's linked-account bodies."""
    from django.urls import reverse

    from django_dualauth.api.social import linked_account_body

    User = get_user_model()  # noqa: N806 - the model

    caplog.set_level("DEBUG")
    browser = Client()
    assert _post_back(browser, _start(browser)[1]).status_code == 302
    link = LinkedAccount.objects.get()
    (raw,) = list(apple._state.refresh_tokens)
    sealed = link.provider_token
    assert sealed and raw not in sealed
    secrets_ = (raw, sealed, sealed[:24])
    answers = [browser.get("/auth/linked-accounts"),
               admin_client.get(reverse("admin:dualauth_linkedaccount_changelist")),
               admin_client.get(reverse("admin:dualauth_linkedaccount_change", args=[link.pk])),
               admin_client.get(reverse(f"admin:{User._meta.app_label}_{User._meta.model_name}_change",
                                        args=[link.user_id]))]
    assert [answer.status_code for answer in answers] == [200] * 4
    assert link.provider_account_id in answers[2].content.decode()  # the page shows the link
    pages = [str(link), repr(link), repr(linked_account_body(link)), caplog.text,
             *(answer.content.decode() for answer in answers)]
    for page in pages:
        assert not any(value in page for value in secrets_)


def test_a_tampered_sealed_token_does_not_open(apple: AppleStandIn) -> None:
    """[RT-01, IN-08] Fernet is authenticated: one flipped character and nothing opens."""
    from django_dualauth.crypto import open_token

    browser = Client()
    assert _post_back(browser, _start(browser)[1]).status_code == 302
    sealed = LinkedAccount.objects.get().provider_token
    middle = len(sealed) // 2
    flipped = sealed[:middle] + ("A" if sealed[middle] != "A" else "B") + sealed[middle + 1:]
    assert open_token(sealed) is not None
    assert open_token(flipped) is None and open_token("not a token \u00e9") is None


# --- RFC 9207 on Apple ---------------------------------------------------------------------------------

def test_an_iss_of_another_issuer_in_apples_form_post_is_refused(apple: AppleStandIn) -> None:
    """[RFC 9207, RFC 9700 §4.4: no catalogue id] Apple sends no ``iss``; one in the form must still be Apple's."""
    from django_dualauth.conf import snapshot

    browser = Client()
    _, fields = _start(browser)
    fields["iss"] = "https://evil.example"
    answer = _post_back(browser, fields)
    assert answer.status_code == 302 and _query(answer["Location"]) == {"error": "OAUTH_ISSUER_MISMATCH"}, answer
    assert not LinkedAccount.objects.exists()
    again = Client()
    _, fields = _start(again)
    fields["iss"] = snapshot().social_providers["apple"].config.issuers[0]
    assert _post_back(again, fields)["Location"] == RETURN
