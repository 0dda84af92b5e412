"""What node-auth's browser client and its Flutter package need before and around sign-in
(issue 17): the CSRF cookie planted on every auth answer to a browser that has none, so that a
first ``POST login`` can be retried with its token; ``GET verify-email`` that changes nothing;
``GET ui/config``.

The suite runs with node-auth's CSRF names (``CSRF_COOKIE_NAME = "csrf-token"``,
``CSRF_HEADER_NAME = "HTTP_X_CSRF_TOKEN"``, tests/settings.py), as its ``auth.js`` uses them.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlencode

import pytest
from django.conf import settings as django_settings
from django.core import mail
from rest_framework.test import APIClient

from django_dualauth.models import AccountState, AuthSession
from tests.conftest import EMAIL, ORIGIN, PASSWORD, AuthClient

pytestmark = pytest.mark.django_db

CSRF = "csrf-token"
HTML = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"  # what a browser sends


def browser() -> APIClient:
    """A browser at ``ORIGIN`` that has made no request yet: no cookie at all."""
    return APIClient(enforce_csrf_checks=True, HTTP_ORIGIN=ORIGIN)


def login(client: APIClient, **headers: str) -> Any:
    return client.post("/auth/login", {"email": EMAIL, "password": PASSWORD}, format="json", **headers)


def planted(response: Any) -> str | None:
    morsel = response.cookies.get(CSRF)
    return morsel.value if morsel is not None and morsel.value else None


# --- the CSRF cookie planted on the first answer ------------------------------------------------------

def test_a_browser_whose_first_request_is_login_retries_once_with_the_planted_token(user: Any) -> None:
    client = browser()
    first = login(client)
    assert first.status_code == 403 and first.json()["code"] == "CSRF_INVALID"
    token = planted(first)
    assert token, "the 403 must carry the CSRF cookie"
    cookie = first.cookies[CSRF]
    assert cookie["samesite"] == django_settings.CSRF_COOKIE_SAMESITE and not cookie["httponly"]  # JS reads it
    assert not AuthSession.objects.exists()  # the check refused the first request

    retried = login(client, HTTP_X_CSRF_TOKEN=token)  # auth.js: the header from document.cookie
    assert retried.status_code == 200, retried.content
    assert AuthSession.objects.filter(user=user, delivery="cookie").count() == 1
    assert client.get("/auth/me").json()["email"] == EMAIL


@pytest.mark.parametrize("token", [None, "", "x" * 32, "wrong-token-of-the-right-length-abcdefghijklmnopq"])
def test_the_check_still_refuses_without_the_planted_token(user: Any, token: str | None) -> None:
    """Planting changes what the answer carries, never what the check accepts."""
    client = browser()
    assert planted(login(client))  # the cookie is in the jar now
    headers = {} if token is None else {"HTTP_X_CSRF_TOKEN": token}
    again = login(client, **headers)
    assert again.status_code == 403 and again.json()["code"] == "CSRF_INVALID"
    assert not AuthSession.objects.exists()


def test_an_untrusted_origin_is_refused_even_with_the_planted_token(user: Any) -> None:
    client = browser()
    token = planted(login(client))
    assert token
    forged = login(client, HTTP_ORIGIN="https://evil.example", HTTP_X_CSRF_TOKEN=token)
    assert forged.status_code == 403 and forged.json()["code"] == "CSRF_INVALID"


@pytest.mark.parametrize(("method", "path", "status"), [
    ("get", "/auth/me", 401),  # not signed in
    ("post", "/auth/refresh", 401),  # no refresh token
    ("post", "/auth/register", 403),  # the CSRF check
    ("post", "/auth/magic-link/send", 404),  # the feature is off
    ("get", "/auth/login", 405),
    ("post", "/auth/login", 403),
    ("get", "/auth/csrf", 200),
])
def test_every_auth_answer_plants_the_cookie_for_a_browser_without_one(method: str, path: str,
                                                                       status: int) -> None:
    response = getattr(browser(), method)(path, {}, format="json") if method == "post" else browser().get(path)
    assert response.status_code == status, response.content
    assert planted(response)


def test_a_browser_that_has_the_cookie_gets_no_new_one(user: Any) -> None:
    client = browser()
    token = planted(client.get("/auth/me"))
    assert token
    assert CSRF not in client.get("/auth/me").cookies
    # A new sign-in rotates it, as before.
    signed_in = login(client, HTTP_X_CSRF_TOKEN=token)
    assert signed_in.status_code == 200 and planted(signed_in) not in (None, token)


def test_bearer_requests_get_no_csrf_cookie(user: Any, settings: Any) -> None:
    app = APIClient(HTTP_X_AUTH_STRATEGY="bearer")
    for response in (app.get("/auth/me"), app.post("/auth/refresh", format="json"), login(app)):
        assert CSRF not in response.cookies, response
    settings.DUALAUTH_DELIVERY_POLICY = "bearer"  # no request can ask for cookies: never planted
    assert CSRF not in browser().get("/auth/me").cookies


def test_a_project_view_outside_the_auth_urls_plants_nothing() -> None:
    assert CSRF not in browser().get("/api/whoami").cookies


# --- GET verify-email ---------------------------------------------------------------------------------

def _mailed_token(ac: AuthClient) -> str:
    assert ac.login().status_code == 200
    assert ac.post("/auth/send-verification-email").status_code == 202
    match = re.search(r"verify-email\?token=([A-Za-z0-9_-]+)", mail.outbox[-1].body)
    assert match
    return match.group(1)


def _verified(user: Any) -> bool:
    return AccountState.objects.filter(user=user, email_verified=True).exists()


def test_the_packages_get_is_a_405_that_names_the_post(auth_client: AuthClient, user: Any) -> None:
    token = _mailed_token(auth_client)
    r = auth_client.get(f"/auth/verify-email?token={token}", HTTP_ACCEPT="application/json")
    assert r.status_code == 405, r.content
    assert r.json() == {"error": "Send the token with POST verify-email", "code": "EMAIL_VERIFICATION_REQUIRES_POST"}
    assert r["Allow"] == "POST" and r["Referrer-Policy"] == "no-referrer" and "WWW-Authenticate" not in r
    assert not _verified(user)
    assert auth_client.post("/auth/verify-email", {"token": token}).status_code == 200  # the one-line change
    assert _verified(user)


def test_a_browser_following_the_link_is_sent_to_the_page_and_nothing_changes(auth_client: AuthClient,
                                                                               user: Any) -> None:
    token = _mailed_token(auth_client)
    for accept in (HTML, "text/html", "application/xhtml+xml, application/json"):
        r = auth_client.get(f"/auth/verify-email?token={token}", HTTP_ACCEPT=accept)
        assert r.status_code == 303, (accept, r.content)
        assert r["Location"] == f"https://app.example.com/verify-email?token={token}"
        assert r["Referrer-Policy"] == "no-referrer" and r["Cache-Control"] == "no-store"
    assert not _verified(user)  # a scanner's GET verifies nothing
    assert auth_client.post("/auth/verify-email", {"token": token}).status_code == 200


@pytest.mark.parametrize("accept", ["", "application/json", "*/*", "application/json, text/html",
                                    "text/html;q=0, application/json", "application/problem+json"])
def test_anything_else_than_a_browser_gets_the_405(auth_client: AuthClient, user: Any, accept: str) -> None:
    r = auth_client.get("/auth/verify-email?token=abc", HTTP_ACCEPT=accept)
    assert (r.status_code, r.json()["code"]) == (405, "EMAIL_VERIFICATION_REQUIRES_POST")


def test_the_redirect_quotes_the_token(auth_client: AuthClient) -> None:
    query = urlencode({"token": "a&next=https://evil.example/#"})
    r = auth_client.get(f"/auth/verify-email?{query}", HTTP_ACCEPT=HTML)
    assert r.status_code == 303
    assert r["Location"] == "https://app.example.com/verify-email?token=a%26next%3Dhttps%3A%2F%2Fevil.example%2F%23"


@pytest.mark.parametrize("query", ["", "?token=", f"?token={'A' * 257}"])
def test_a_browser_without_a_usable_token_gets_a_400(auth_client: AuthClient, query: str) -> None:
    r = auth_client.get(f"/auth/verify-email{query}", HTTP_ACCEPT=HTML)
    assert (r.status_code, r.json()["code"]) == (400, "VALIDATION_ERROR")


def test_with_the_flow_off_every_get_is_the_405_and_never_a_500(auth_client: AuthClient, settings: Any) -> None:
    settings.DUALAUTH_VERIFY_EMAIL_URL = ""
    for accept in (HTML, "application/json"):
        r = auth_client.get("/auth/verify-email?token=abc", HTTP_ACCEPT=accept)
        assert (r.status_code, r.json()["code"]) == (405, "EMAIL_VERIFICATION_REQUIRES_POST")
    assert auth_client.post("/auth/verify-email", {"token": "abc"}).status_code == 404  # POST: the flow is off


# --- GET ui/config ------------------------------------------------------------------------------------

UI_CONFIG_KEYS = {"registrationEnabled", "magicLinkEnabled", "smsEnabled", "totpEnabled", "githubEnabled",
                  "googleEnabled", "availableProviders", "apiPrefix", "features", "ui"}


def test_ui_config_answers_the_packages_model_and_node_auths_shape(auth_client: AuthClient) -> None:
    r = auth_client.get("/auth/ui/config")
    assert r.status_code == 200
    body = r.json()
    assert set(body) == UI_CONFIG_KEYS
    assert body["apiPrefix"] == "/auth"
    # The suite's settings turn registration on and leave magic links and SMS off: off says so.
    assert body["registrationEnabled"] is True and body["magicLinkEnabled"] is body["smsEnabled"] is False
    assert body["githubEnabled"] is body["googleEnabled"] is False and body["availableProviders"] == []
    assert body["totpEnabled"] is True
    assert body["features"] == {"register": True, "magicLink": False, "sms": False, "google": False,
                                "github": False, "forgotPassword": True, "verifyEmail": True,
                                "changeEmail": True, "twoFactor": True}
    assert body["ui"] == {"siteName": "django-dualauth"}


def test_ui_config_follows_the_settings(auth_client: AuthClient, settings: Any) -> None:
    settings.DUALAUTH_REGISTRATION_ENABLED = False
    settings.DUALAUTH_MAGIC_LINK_ENABLED = settings.DUALAUTH_SMS_ENABLED = True
    settings.DUALAUTH_PASSWORD_RESET_URL = ""
    settings.DUALAUTH_SITE_NAME = "Acme"
    body = auth_client.get("/auth/ui/config").json()
    assert not body["registrationEnabled"] and body["magicLinkEnabled"] and body["smsEnabled"]
    assert not body["features"]["register"] and body["features"]["sms"] and not body["features"]["forgotPassword"]
    assert body["ui"] == {"siteName": "Acme"}


def test_ui_config_is_the_same_for_everyone_and_cacheable(auth_client: AuthClient, user: Any) -> None:
    anonymous = browser().get("/auth/ui/config")
    assert auth_client.login().status_code == 200
    signed_in = auth_client.get("/auth/ui/config")
    assert signed_in.json() == anonymous.json()  # nothing per user
    for r in (anonymous, signed_in):
        assert r["Cache-Control"] == "public, max-age=300" and "Pragma" not in r
        assert not r.cookies  # a shared cache must not store anyone's cookie
    assert str(user.pk) not in anonymous.content.decode() and EMAIL not in signed_in.content.decode()
