"""Apple's redirect flow (issue 19): ``GET oauth/apple`` to Apple's authorize page with
``response_mode=form_post``, Apple's page POSTing ``code``, ``state``, ``id_token`` and (first
authorization only) ``user`` to ``oauth/apple/callback``, against the Apple stand-in on 127.0.0.1.

Django's test client is the browser on the app's origin (its jar holds the binding cookie);
:func:`read_form_post` plays the browser at Apple's page (the form its script would submit).
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import urllib.parse
from collections.abc import Iterator
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from django_dualauth.crypto import open_token
from django_dualauth.delivery import access_cookie_name
from django_dualauth.models import AuthSession, LinkedAccount, OAuthState

from .apple_standin import AppleStandIn, AppleTeam, AppleUser, read_form_post
from .helpers import APPLE_BUNDLE, APPLE_SERVICES

pytestmark = pytest.mark.django_db

User = get_user_model()
APP = "http://testserver"
RETURN = APP + "/app/signed-in"
APP_RETURN = "myapp://auth"
CALLBACK = APP + "/auth/oauth/apple/callback"
FORM = "application/x-www-form-urlencoded"


@pytest.fixture
def apple_rest() -> Iterator[AppleStandIn]:
    standin = AppleStandIn()
    yield standin
    standin.stop()


@pytest.fixture
def team(apple_rest: AppleStandIn) -> AppleTeam:
    team = apple_rest.register_team()
    apple_rest.register_client(APPLE_SERVICES, team, redirect_uris=(CALLBACK,))
    apple_rest.register_client(APPLE_BUNDLE, team)
    return team


@pytest.fixture
def apple(settings: Any, apple_rest: AppleStandIn, team: AppleTeam) -> AppleStandIn:
    settings.DUALAUTH_SOCIAL_PROVIDERS = {"apple": {
        # The web flow presents the first client id: the Services ID.
        "client_ids": [APPLE_SERVICES, APPLE_BUNDLE], **apple_rest.provider_options, "redirect_uri": CALLBACK,
        "team_id": team.team_id, "key_id": team.key_id, "private_key": team.private_pem}}
    settings.DUALAUTH_SOCIAL_RETURN_URLS = [RETURN]
    settings.DUALAUTH_SOCIAL_APP_RETURN_URLS = [APP_RETURN]
    return apple_rest


def _start(browser: Client, query: str = "") -> tuple[str, dict[str, str]]:
    """``GET oauth/apple`` then Apple's page: the form it posts back (action, fields)."""
    answer = browser.get("/auth/oauth/apple" + query)
    assert answer.status_code == 302, answer.content
    return read_form_post(answer["Location"])


def _post_back(browser: Client, fields: dict[str, str]) -> Any:
    return browser.post("/auth/oauth/apple/callback", urllib.parse.urlencode(fields), content_type=FORM)


def _query(location: str) -> dict[str, str]:
    return dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(location).query))


def test_start_asks_for_form_post_with_a_nonce_and_no_pkce(apple: AppleStandIn) -> None:
    answer = Client().get("/auth/oauth/apple")
    assert answer.status_code == 302
    query = _query(answer["Location"])
    assert answer["Location"].startswith(apple.url + "/auth/authorize?")
    assert query["response_mode"] == "form_post" and query["scope"] == "name email"
    assert (query["client_id"], query["redirect_uri"]) == (APPLE_SERVICES, CALLBACK)
    assert query["nonce"] and query["state"] and "code_challenge" not in query
    # The binding cookie must come back on Apple's cross-site POST: SameSite=None, hence Secure.
    (cookie,) = [c for c in answer.cookies.values() if "dualauth_oauth_" in c.key]
    assert cookie.key.startswith("__Host-")
    assert cookie["samesite"] == "None" and cookie["secure"] and cookie["httponly"] and cookie["path"] == "/"


def test_form_post_signs_in_with_cookies_and_takes_the_name_from_user(apple: AppleStandIn) -> None:
    browser = Client()
    action, fields = _start(browser, "?returnUrl=" + urllib.parse.quote(RETURN))
    assert action == CALLBACK and set(fields) == {"state", "code", "id_token", "user"}
    answer = _post_back(browser, fields)

    assert answer.status_code == 302 and answer["Location"] == RETURN
    assert browser.cookies[access_cookie_name()]["httponly"]
    me = browser.get("/auth/me")
    assert me.status_code == 200 and me.json()["email"] == apple.next_user.email
    user = User.objects.get()
    assert (user.first_name, user.last_name) == ("Alice", "Liddell") and not user.has_usable_password()
    link = LinkedAccount.objects.get()
    assert (link.provider, link.provider_account_id, link.provider_token_client_id) == (
        "apple", apple.next_user.sub, APPLE_SERVICES)
    (raw,) = list(apple._state.refresh_tokens)
    assert raw not in link.provider_token and open_token(link.provider_token) == raw
    assert AuthSession.objects.get().auth_methods == ["fed"]


def test_the_name_is_taken_at_the_first_authorization_only(apple: AppleStandIn) -> None:
    browser = Client()
    assert _post_back(browser, _start(browser)[1]).status_code == 302
    # The next authorization carries no `user`; a forged one changes nothing on the account.
    second = Client()
    _, fields = _start(second)
    assert "user" not in fields
    fields["user"] = '{"name": {"firstName": "Mallory", "lastName": "Evil"}}'
    answer = _post_back(second, fields)
    assert answer.status_code == 302 and answer["Location"] == RETURN
    user = User.objects.get()
    assert (user.first_name, user.last_name) == ("Alice", "Liddell")


def test_an_unreadable_user_field_is_ignored(apple: AppleStandIn) -> None:
    browser = Client()
    _, fields = _start(browser)
    fields["user"] = "{not json"
    assert _post_back(browser, fields)["Location"] == RETURN
    assert User.objects.get().first_name == ""


def test_names_the_account_cannot_hold_are_dropped_not_a_refusal(apple: AppleStandIn) -> None:
    browser = Client()
    _, fields = _start(browser)
    fields["user"] = '{"name": {"firstName": "%s", "lastName": "Liddell"}}' % ("A" * 300)
    assert _post_back(browser, fields)["Location"] == RETURN
    assert User.objects.get().first_name == ""


def test_a_post_from_another_browser_is_refused(apple: AppleStandIn) -> None:
    """Login CSRF: the attacker's own state and code posted from the victim's browser."""
    attacker, victim = Client(), Client()
    _, fields = _start(attacker)
    answer = _post_back(victim, fields)
    assert answer.status_code == 302 and _query(answer["Location"]) == {"error": "INVALID_STATE"}
    assert not User.objects.exists() and not AuthSession.objects.exists()
    assert not victim.cookies.get(access_cookie_name()) or not victim.cookies[access_cookie_name()].value
    assert apple.token_requests == 0  # refused before the code is sent anywhere


@pytest.mark.parametrize("state", [None, "", "x" * 10, secrets.token_urlsafe(32)])
def test_a_missing_or_unknown_state_is_a_400(apple: AppleStandIn, state: str | None) -> None:
    browser = Client()
    _, fields = _start(browser)
    if state is None:
        del fields["state"]
    else:
        fields["state"] = state
    answer = _post_back(browser, fields)
    assert answer.status_code == 400 and answer.json()["code"] == "INVALID_STATE"
    assert not User.objects.exists() and apple.token_requests == 0


def test_a_replayed_post_is_refused(apple: AppleStandIn) -> None:
    browser = Client()
    _, fields = _start(browser)
    cookies = {k: v.value for k, v in browser.cookies.items()}
    assert _post_back(browser, fields)["Location"] == RETURN
    for name, value in cookies.items():  # even with the binding cookie put back
        browser.cookies[name] = value
    again = _post_back(browser, fields)
    assert again.status_code == 302 and _query(again["Location"]) == {"error": "INVALID_STATE"}
    assert AuthSession.objects.count() == 1 and apple.token_requests == 1


def test_the_user_cancelling_at_apple_goes_back_with_access_denied(apple: AppleStandIn) -> None:
    apple.deny = True
    browser = Client()
    _, fields = _start(browser)
    assert set(fields) == {"state", "error"}
    answer = _post_back(browser, fields)
    assert _query(answer["Location"]) == {"error": "OAUTH_ACCESS_DENIED"}
    assert OAuthState.objects.get().consumed_at is not None


def test_a_code_apple_refuses_goes_back_with_the_error(apple: AppleStandIn) -> None:
    browser = Client()
    _, fields = _start(browser)
    fields["code"] = "c" + "0" * 40
    answer = _post_back(browser, fields)
    assert _query(answer["Location"]) == {"error": "OAUTH_CODE_EXCHANGE_FAILED"}
    assert not User.objects.exists()


def test_an_id_token_without_this_flows_nonce_is_refused(apple: AppleStandIn) -> None:
    apple.nonce_override = hashlib.sha256(b"another flow").hexdigest()
    browser = Client()
    answer = _post_back(browser, _start(browser)[1])
    assert _query(answer["Location"]) == {"error": "INVALID_NONCE"}
    assert not User.objects.exists() and not AuthSession.objects.exists()


def test_apple_callback_answers_post_only_and_other_providers_get_only(apple: AppleStandIn, settings: Any) -> None:
    answer = Client().get("/auth/oauth/apple/callback?state=x&code=y")
    assert answer.status_code == 405 and answer.json()["code"] == "METHOD_NOT_ALLOWED"
    settings.DUALAUTH_SOCIAL_PROVIDERS = {**settings.DUALAUTH_SOCIAL_PROVIDERS, "google": {
        "client_ids": ["g"], "client_secret": "s", "redirect_uri": APP + "/auth/oauth/google/callback"}}
    answer = Client().post("/auth/oauth/google/callback", "state=x&code=y", content_type=FORM)
    assert answer.status_code == 405


def test_the_app_flow_through_the_system_browser(apple: AppleStandIn) -> None:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    browser = Client()
    _, fields = _start(browser, f"?app=1&code_challenge={challenge}&code_challenge_method=S256")
    answer = _post_back(browser, fields)
    assert answer.status_code == 302 and answer["Location"].startswith(APP_RETURN + "?code=")
    assert not browser.cookies.get(access_cookie_name())  # the browser gets no session
    code = _query(answer["Location"])["code"]
    tokens = Client().post("/auth/oauth/apple/exchange", {"code": code, "codeVerifier": verifier},
                           content_type="application/json", HTTP_X_AUTH_STRATEGY="bearer")
    assert tokens.status_code == 200, tokens.content
    assert tokens.json()["accessToken"] and LinkedAccount.objects.get().provider_token


def test_without_the_team_key_apples_redirect_flow_is_off(apple: AppleStandIn, settings: Any) -> None:
    options = dict(settings.DUALAUTH_SOCIAL_PROVIDERS["apple"])
    for key in ("team_id", "key_id", "private_key"):
        options.pop(key)
    settings.DUALAUTH_SOCIAL_PROVIDERS = {"apple": options}
    assert Client().get("/auth/oauth/apple").status_code == 404


def test_a_second_sign_in_by_form_post_finds_the_account(apple: AppleStandIn) -> None:
    first = Client()
    assert _post_back(first, _start(first)[1])["Location"] == RETURN
    apple.next_user = AppleUser(apple.next_user.sub, apple.next_user.email)
    second = Client()
    assert _post_back(second, _start(second)[1])["Location"] == RETURN
    assert User.objects.count() == 1 and AuthSession.objects.count() == 2
