"""CSRF and Origin checks on cookie-credentialed requests (CSRF-01, CSRF-02, CSRF-03, CSRF-04, CSRF-05).

Every unsafe endpoint (login, register, refresh, logout, logout-all and a project view behind
DualAuthentication) is attacked under both deliveries: the cookie client must be refused with no
state change, the bearer client must not need any CSRF token, and ambient cookies never add
privileges to a bearer request. Also the DELIVERY_POLICY restrictions.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.db.models import Sum
from django.utils.crypto import get_random_string

from django_dualauth.delivery import access_cookie_name, refresh_cookie_name
from django_dualauth.models import AuthSession
from tests.conftest import CSRF_COOKIE, EMAIL, ORIGIN, PASSWORD

pytestmark = pytest.mark.django_db

NEW_EMAIL = "newcomer@example.com"
ENDPOINTS = ["login", "register", "refresh", "logout", "logout-all", "whoami"]


def route(client: Any, endpoint: str) -> tuple[str, dict[str, Any]]:
    if endpoint == "login":
        return "/auth/login", {"email": EMAIL, "password": PASSWORD}
    if endpoint == "register":
        return "/auth/register", {"email": NEW_EMAIL, "password": PASSWORD}
    if endpoint == "refresh":
        return "/auth/refresh", {} if client.is_cookie else {"refreshToken": client.refresh_token}
    if endpoint == "whoami":
        return "/api/whoami", {}
    return f"/auth/{endpoint}", {}


def send(client: Any, endpoint: str, *, drop: tuple[str, ...] = (), **extra: Any) -> Any:
    """POST ``endpoint`` with the client's normal headers, minus ``drop``, plus ``extra``."""
    headers = {**client.headers(), **extra}
    for key in drop:
        headers.pop(key, None)
    path, body = route(client, endpoint)
    return client.client.post(path, body, format="json", **headers)


def state() -> tuple[Any, ...]:
    sessions = AuthSession.objects
    return (sessions.count(), sessions.aggregate(g=Sum("generation"))["g"],
            sessions.filter(revoked_at__isnull=True).count(), get_user_model().objects.count())


def assert_csrf_refused(response: Any, before: tuple[Any, ...]) -> None:
    assert response.status_code == 403, response.content
    assert response.json()["code"] == "CSRF_INVALID"
    assert state() == before
    # A refused request never touches the cookies (not even a logout's clearing).
    assert access_cookie_name() not in response.cookies
    assert refresh_cookie_name() not in response.cookies


@pytest.fixture
def logged_in(auth_client: Any, user: Any) -> Any:
    assert auth_client.login().status_code == 200
    return auth_client


# --- attacks ------------------------------------------------------------------------------

def _no_token(c: Any) -> dict[str, Any]:
    return {"drop": ("HTTP_X_CSRF_TOKEN",)}


def _wrong_token(c: Any) -> dict[str, Any]:
    return {"HTTP_X_CSRF_TOKEN": get_random_string(64)}


def _no_csrf_cookie(c: Any) -> dict[str, Any]:
    token = c.csrf_token()
    c.client.cookies.pop(CSRF_COOKIE, None)
    return {"HTTP_X_CSRF_TOKEN": token}


def _no_origin(c: Any) -> dict[str, Any]:
    return {"drop": ("HTTP_ORIGIN", "HTTP_REFERER")}


def _origin(value: str) -> Callable[[Any], dict[str, Any]]:
    return lambda c: {"HTTP_ORIGIN": value}


def _cross_site(c: Any) -> dict[str, Any]:
    return {"HTTP_SEC_FETCH_SITE": "cross-site"}


def _planted_pair_cross_origin(c: Any) -> dict[str, Any]:
    # Naive double-submit: a matching cookie/header pair from an attacker, refused by Origin.
    token = get_random_string(32)
    c.client.cookies[CSRF_COOKIE] = token
    return {"HTTP_X_CSRF_TOKEN": token, "HTTP_ORIGIN": "https://evil.example"}


ATTACKS: dict[str, Callable[[Any], dict[str, Any]]] = {
    "no-token": _no_token,
    "wrong-token": _wrong_token,
    "no-csrf-cookie": _no_csrf_cookie,
    "no-origin-no-referer": _no_origin,
    "origin-null": _origin("null"),
    "origin-evil": _origin("https://evil.example"),
    "origin-suffix": _origin("https://app.example.com.evil.net"),
    "origin-http-downgrade": _origin("http://app.example.com"),
    "origin-other-port": _origin("https://app.example.com:8443"),
    "origin-sibling": _origin("https://x.example.com"),
    "origin-trailing-slash": _origin("https://app.example.com/"),
    "origin-userinfo": _origin("https://app.example.com@evil.example"),
    "sec-fetch-cross-site": _cross_site,
    "planted-pair": _planted_pair_cross_origin,
}


@pytest.fixture(params=ENDPOINTS)
def endpoint_name(request: Any) -> str:
    return request.param  # type: ignore[no-any-return]


def test_positive_control(logged_in, endpoint_name):
    response = send(logged_in, endpoint_name)
    assert response.status_code in (200, 201), response.content


@pytest.mark.parametrize("attack", list(ATTACKS))
def test_forged_request(logged_in, endpoint_name, attack):
    before = state()
    response = send(logged_in, endpoint_name, **ATTACKS[attack](logged_in))
    if logged_in.is_cookie:
        assert_csrf_refused(response, before)
    else:
        # Bearer credentials are never ambient: no CSRF token, Origin or Fetch Metadata needed.
        assert response.status_code in (200, 201), response.content


@pytest.mark.parametrize("content_type, payload", [
    ("text/plain", None),
    ("application/x-www-form-urlencoded", "email=alice%40example.com&password=x"),
    ("multipart/form-data; boundary=BoUnDaRy",
     '--BoUnDaRy\r\nContent-Disposition: form-data; name="email"\r\n\r\nalice@example.com\r\n--BoUnDaRy--\r\n'),
    ("application/json-patch+json", None),
])
def test_simple_content_types_are_refused(logged_in, endpoint_name, content_type, payload):
    before = state()
    path, body = route(logged_in, endpoint_name)
    data = payload if payload is not None else json.dumps(body or {"x": 1})
    response = logged_in.client.post(path, data, content_type=content_type, **logged_in.headers())
    # Bearer: a project view picks its own parsers, and logout-all reads no body at all.
    if logged_in.is_cookie or endpoint_name not in ("whoami", "logout-all"):
        assert response.status_code == 415, response.content
        assert response.json()["code"] == "UNSUPPORTED_MEDIA_TYPE"
        assert state() == before


@pytest.mark.parametrize("site", ["same-origin", "same-site", "none"])
def test_other_fetch_sites_pass(logged_in, endpoint_name, site):
    response = send(logged_in, endpoint_name, HTTP_SEC_FETCH_SITE=site)
    assert response.status_code in (200, 201), response.content


# --- Origin / Referer details (cookie requests) -------------------------------------------

@pytest.fixture
def browser(client_factory: Any, user: Any) -> Any:
    b = client_factory("cookie")
    assert b.login().status_code == 200
    return b


@pytest.mark.parametrize("endpoint", ["refresh", "logout", "whoami", "login"])
def test_referer_is_the_fallback_when_origin_is_absent(browser, endpoint):
    response = send(browser, endpoint, drop=("HTTP_ORIGIN",), HTTP_REFERER=f"{ORIGIN}/dashboard?x=1")
    assert response.status_code == 200, response.content


@pytest.mark.parametrize("endpoint", ["refresh", "logout", "whoami", "login"])
@pytest.mark.parametrize("referer", ["https://evil.example/page", "https://app.example.com.evil.net/",
                                     "http://app.example.com/", "not a url", "null"])
def test_untrusted_or_unusable_referer_is_refused(browser, endpoint, referer):
    before = state()
    response = send(browser, endpoint, drop=("HTTP_ORIGIN",), HTTP_REFERER=referer)
    assert_csrf_refused(response, before)


def test_origin_wins_over_a_trusted_referer(browser):
    before = state()
    response = send(browser, "refresh", HTTP_ORIGIN="https://evil.example", HTTP_REFERER=f"{ORIGIN}/")
    assert_csrf_refused(response, before)


def test_own_origin_is_trusted(browser):
    assert send(browser, "refresh", HTTP_ORIGIN="http://testserver").status_code == 200
    assert send(browser, "refresh", HTTP_ORIGIN="https://testserver", secure=True).status_code == 200
    before = state()
    # Scheme must match the request's own scheme.
    assert_csrf_refused(send(browser, "refresh", HTTP_ORIGIN="https://testserver"), before)


def test_a_changed_trusted_origins_list_applies_to_the_next_request(browser, settings):
    """Django's CSRF check is built once per process and keeps the parsed list: a change must
    rebuild it, or a newly trusted origin is refused (and a removed one kept)."""
    assert send(browser, "refresh").status_code == 200  # the check is built with the old list
    settings.CSRF_TRUSTED_ORIGINS = [ORIGIN, "https://new.example.com"]
    assert send(browser, "refresh", HTTP_ORIGIN="https://new.example.com").status_code == 200
    settings.CSRF_TRUSTED_ORIGINS = ["https://new.example.com"]
    before = state()
    assert_csrf_refused(send(browser, "refresh"), before)


def test_origin_can_be_optional_but_the_token_cannot(browser, settings):
    settings.DUALAUTH_REQUIRE_ORIGIN = False
    assert send(browser, "refresh", drop=("HTTP_ORIGIN",)).status_code == 200
    before = state()
    assert_csrf_refused(send(browser, "refresh", drop=("HTTP_ORIGIN", "HTTP_X_CSRF_TOKEN")), before)
    assert_csrf_refused(send(browser, "refresh", HTTP_ORIGIN="https://evil.example"), before)


@pytest.mark.parametrize("keep", ["access", "refresh"])
def test_logout_by_a_single_cookie_is_still_checked(browser, keep):
    name = access_cookie_name() if keep == "access" else refresh_cookie_name()
    value = browser.cookie(name)
    header = {"HTTP_COOKIE": f"{name}={value}; {CSRF_COOKIE}={browser.csrf_token()}"}
    before = state()
    assert_csrf_refused(send(browser, "logout", drop=("HTTP_X_CSRF_TOKEN",), **header), before)
    response = send(browser, "logout", **header)
    assert response.status_code == 200, response.content
    assert AuthSession.objects.get().revoked_at is not None


def test_csrf_token_of_another_browser_is_refused(browser, client_factory):
    other = client_factory("cookie")
    before = state()
    response = send(browser, "refresh", HTTP_X_CSRF_TOKEN=other.csrf_token())
    assert_csrf_refused(response, before)


def test_safe_methods_are_not_csrf_checked(browser):
    response = browser.client.get("/api/whoami", HTTP_ORIGIN="https://evil.example",
                                  HTTP_SEC_FETCH_SITE="cross-site")
    assert response.status_code == 200, response.content


def test_empty_body_needs_no_json_content_type_but_still_the_token(browser):
    response = browser.client.post("/auth/refresh", content_type="text/plain", **browser.headers())
    assert response.status_code == 200, response.content
    before = state()
    response = browser.client.post("/auth/refresh", content_type="text/plain", HTTP_ORIGIN=ORIGIN)
    assert_csrf_refused(response, before)


# --- bearer requests and ambient cookies --------------------------------------------------

@pytest.fixture
def phone_and_browser(client_factory: Any, user_factory: Any, user: Any) -> tuple[Any, Any]:
    """A phone logged in as bob (bearer) and a browser logged in as alice (cookies)."""
    user_factory(email="bob@example.com")
    phone = client_factory("bearer")
    assert phone.login(email="bob@example.com").status_code == 200
    browser = client_factory("cookie")
    assert browser.login().status_code == 200
    return phone, browser


def test_bearer_header_wins_over_ambient_cookies(phone_and_browser):
    phone, browser = phone_and_browser
    auth = {"HTTP_AUTHORIZATION": f"Bearer {phone.access_token}"}
    bob = get_user_model().objects.get(email="bob@example.com")
    got = browser.client.get("/api/whoami", **auth)
    assert got.status_code == 200 and got.json()["id"] == str(bob.pk)
    # No CSRF token, hostile Origin: fine, the credential is not ambient.
    posted = browser.client.post("/api/whoami", {}, format="json", HTTP_ORIGIN="https://evil.example", **auth)
    assert posted.status_code == 200, posted.content
    assert posted.json()["id"] == str(bob.pk)
    assert browser.client.get("/auth/me", **auth).json()["email"] == "bob@example.com"


@pytest.mark.parametrize("header", ["Bearer not-a-jwt", "Bearer ", "Bearer a b"])
def test_invalid_bearer_header_never_falls_back_to_cookies(phone_and_browser, header):
    _, browser = phone_and_browser
    for path in ("/auth/me", "/api/whoami"):
        response = browser.client.get(path, HTTP_AUTHORIZATION=header)
        assert response.status_code == 401, response.content
        assert response.json()["code"] == "INVALID_ACCESS_TOKEN"


def test_other_authorization_scheme_does_not_borrow_cookies(phone_and_browser):
    _, browser = phone_and_browser
    response = browser.client.get("/auth/me", HTTP_AUTHORIZATION="Basic YWxpY2U6eA==")
    assert response.status_code == 401, response.content
    assert response.json()["code"] == "NOT_AUTHENTICATED"


@pytest.mark.parametrize("endpoint", ["whoami", "logout-all", "logout", "refresh"])
def test_asking_for_bearer_does_not_exempt_cookie_credentials(phone_and_browser, endpoint):
    _, browser = phone_and_browser
    before = state()
    path, _ = route(browser, endpoint)
    response = browser.client.post(path, {}, format="json", HTTP_X_AUTH_STRATEGY="bearer",
                                   HTTP_ORIGIN="https://evil.example")
    assert_csrf_refused(response, before)


def test_cookie_session_refreshed_with_bearer_header_stays_in_cookies(phone_and_browser):
    _, browser = phone_and_browser
    response = browser.refresh(HTTP_X_AUTH_STRATEGY="bearer")
    assert response.status_code == 200, response.content
    assert set(response.json()) == {"success", "expiresIn"}
    assert refresh_cookie_name() in response.cookies


def test_bearer_login_leaves_the_browser_cookie_session_alone(phone_and_browser):
    _, browser = phone_and_browser
    session = AuthSession.objects.get(user__email=EMAIL)
    response = browser.client.post("/auth/login", {"email": EMAIL, "password": PASSWORD}, format="json",
                                   HTTP_X_AUTH_STRATEGY="bearer")
    assert response.status_code == 200, response.content
    assert not response.cookies
    session.refresh_from_db()
    assert session.revoked_at is None


def test_bearer_refresh_body_with_ambient_refresh_cookie_is_a_conflict(phone_and_browser):
    phone, browser = phone_and_browser
    before = state()
    response = browser.client.post("/auth/refresh", {"refreshToken": phone.refresh_token}, format="json",
                                   HTTP_X_AUTH_STRATEGY="bearer")
    assert response.status_code == 400, response.content
    assert response.json()["code"] == "CREDENTIAL_CONFLICT"
    assert state() == before


def test_bearer_logout_revokes_only_the_bearer_session(phone_and_browser):
    phone, browser = phone_and_browser
    response = browser.client.post("/auth/logout", {}, format="json",
                                   HTTP_AUTHORIZATION=f"Bearer {phone.access_token}")
    assert response.status_code == 200, response.content
    assert AuthSession.objects.get(user__email="bob@example.com").revoked_at is not None
    assert AuthSession.objects.get(user__email=EMAIL).revoked_at is None


# --- DELIVERY_POLICY ----------------------------------------------------------------------

def test_cookie_policy_refuses_bearer_login(auth_client, user, settings):
    settings.DUALAUTH_DELIVERY_POLICY = "cookie"
    response = auth_client.login()
    if auth_client.is_cookie:
        assert response.status_code == 200, response.content
        assert refresh_cookie_name() in response.cookies
    else:
        assert response.status_code == 400, response.content
        assert response.json()["code"] == "DELIVERY_NOT_ALLOWED"
        assert AuthSession.objects.count() == 0


def test_cookie_policy_refuses_body_refresh_tokens(client_factory, user, settings):
    phone = client_factory("bearer")
    phone.login()
    settings.DUALAUTH_DELIVERY_POLICY = "cookie"
    before = state()
    response = phone.client.post("/auth/refresh", {"refreshToken": phone.refresh_token}, format="json")
    assert response.status_code == 400, response.content
    assert response.json()["code"] == "DELIVERY_NOT_ALLOWED"
    assert state() == before


def test_bearer_policy_never_sets_cookies(auth_client, user, settings):
    settings.DUALAUTH_DELIVERY_POLICY = "bearer"
    response = auth_client.login()
    assert response.status_code == 200, response.content
    assert not response.cookies
    body = response.json()
    assert body["accessToken"] and body["refreshToken"]
    assert AuthSession.objects.get().delivery == "bearer"


def test_bearer_policy_never_reads_cookies(client_factory, user, settings):
    browser = client_factory("cookie")
    browser.login()
    settings.DUALAUTH_DELIVERY_POLICY = "bearer"
    before = state()
    me = browser.me()
    assert me.status_code == 401, me.content
    assert me.json()["code"] == "NOT_AUTHENTICATED"
    refresh = browser.refresh()
    assert refresh.status_code == 401, refresh.content
    assert refresh.json()["code"] == "NO_REFRESH_TOKEN"
    assert browser.client.post("/api/whoami", {}, format="json", **browser.headers()).status_code == 401
    assert state() == before
