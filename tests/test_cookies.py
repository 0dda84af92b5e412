"""Token cookies: attributes, lifetimes, bodies, deletion, tossing (CK-01, CK-02, CK-03, CK-04, RT-08).

Every endpoint test runs under both deliveries: the cookie client checks the cookie, the bearer
client checks that no cookie is ever set.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from django_dualauth.delivery import access_cookie_name, refresh_cookie_name
from django_dualauth.models import AuthSession

pytestmark = pytest.mark.django_db

EPOCH = "Thu, 01 Jan 1970 00:00:00 GMT"


def token_cookies(response: Any) -> dict[str, Any]:
    names = (access_cookie_name(), refresh_cookie_name())
    return {name: response.cookies[name] for name in names if name in response.cookies}


def raw_cookie_header(browser: Any, *pairs: str) -> dict[str, str]:
    """Headers for a request whose Cookie header is exactly ``pairs`` plus the CSRF cookie."""
    csrf = browser.csrf_token()
    return {"HTTP_COOKIE": "; ".join([*pairs, f"csrf-token={csrf}"]), "HTTP_X_CSRF_TOKEN": csrf}


def assert_no_cookies(response: Any) -> None:
    assert not response.cookies, response.cookies.output()
    assert not response.has_header("Set-Cookie")


# --- CK-01: attributes --------------------------------------------------------------------

def test_login_cookie_attributes(auth_client, user):
    response = auth_client.login()
    assert response.status_code == 200, response.content
    if not auth_client.is_cookie:
        assert_no_cookies(response)
        return
    cookies = token_cookies(response)
    assert set(cookies) == {"__Host-accessToken", "__Host-refreshToken"}
    for name, morsel in cookies.items():
        assert morsel.value, name
        assert morsel["httponly"] is True, name
        assert morsel["secure"] is True, name
        assert morsel["path"] == "/", name
        assert morsel["domain"] == "", name
        assert morsel["samesite"] == "Lax", name
        assert len(name) + len(morsel.value) <= 4096, name


def test_refresh_cookie_attributes(auth_client, user):
    auth_client.login()
    response = auth_client.refresh()
    assert response.status_code == 200, response.content
    if not auth_client.is_cookie:
        assert_no_cookies(response)
        return
    cookies = token_cookies(response)
    assert set(cookies) == {"__Host-accessToken", "__Host-refreshToken"}
    for morsel in cookies.values():
        assert morsel["httponly"] is True
        assert morsel["secure"] is True
        assert (morsel["path"], morsel["domain"], morsel["samesite"]) == ("/", "", "Lax")


@pytest.mark.parametrize("csrf_age, renewed", [
    (365 * 24 * 3600, False),  # Django's default: the login's CSRF cookie outlives the session
    (24 * 3600, True),  # shorter than the 30-day absolute lifetime: each refresh renews it
])
def test_refresh_renews_the_csrf_cookie_only_if_it_could_expire_first(auth_client, user, settings,
                                                                       csrf_age, renewed):
    settings.CSRF_COOKIE_AGE = csrf_age
    assert auth_client.login().status_code == 200
    token = auth_client.csrf_token()
    response = auth_client.refresh()
    assert response.status_code == 200, response.content
    if not auth_client.is_cookie:
        assert "csrf-token" not in response.cookies
        return
    assert ("csrf-token" in response.cookies) is renewed
    if renewed:
        assert response.cookies["csrf-token"]["max-age"] == csrf_age
        assert response.cookies["csrf-token"].value == token  # the same secret, a new expiry
    assert auth_client.refresh().status_code == 200  # the kept token still passes the check


@pytest.mark.parametrize("overrides, lifetime", [
    ({"CSRF_COOKIE_AGE": 3600}, timedelta(hours=1)),
    ({"CSRF_COOKIE_AGE": None}, None),  # a browser-session cookie: renewing gives it no age
    ({"CSRF_COOKIE_AGE": 3600, "CSRF_USE_SESSIONS": True}, None),  # no CSRF cookie at all
])
def test_csrf_cookie_lifetime_setting(settings, overrides, lifetime):
    from django_dualauth.conf import dualauth_settings
    for name, value in overrides.items():
        setattr(settings, name, value)
    assert dualauth_settings.CSRF_COOKIE_LIFETIME == lifetime


@pytest.mark.parametrize("debug, secure", [(False, True), (True, False)])
def test_secure_defaults_to_not_debug(client_factory, user, settings, debug, secure):
    del settings.DUALAUTH_COOKIE_SECURE
    settings.DEBUG = debug
    response = client_factory("cookie").login()
    assert response.status_code == 200, response.content
    prefix = "__Host-" if secure else ""
    cookies = token_cookies(response)
    assert set(cookies) == {f"{prefix}accessToken", f"{prefix}refreshToken"}
    assert all(bool(m["secure"]) is secure for m in cookies.values())
    assert all(m["httponly"] is True for m in cookies.values())


def test_insecure_cookies_never_get_a_prefix(client_factory, user, settings):
    settings.DUALAUTH_COOKIE_SECURE = False
    response = client_factory("cookie").login()
    cookies = token_cookies(response)
    assert set(cookies) == {"accessToken", "refreshToken"}
    assert all(not m["secure"] and m["httponly"] is True for m in cookies.values())


def test_host_prefix_can_be_disabled_but_secure_stays(client_factory, user, settings):
    settings.DUALAUTH_COOKIE_HOST_PREFIX = False
    cookies = token_cookies(client_factory("cookie").login())
    assert set(cookies) == {"accessToken", "refreshToken"}
    assert all(m["secure"] is True for m in cookies.values())


def test_cookie_domain_switches_to_secure_prefix(client_factory, user, settings):
    # __Host- forbids Domain; with a Domain the strongest valid prefix is __Secure-.
    settings.DUALAUTH_COOKIE_DOMAIN = "example.com"
    cookies = token_cookies(client_factory("cookie").login())
    assert set(cookies) == {"__Secure-accessToken", "__Secure-refreshToken"}
    assert all(m["domain"] == "example.com" and m["secure"] is True for m in cookies.values())


def test_samesite_strict_setting(auth_client, user, settings):
    settings.DUALAUTH_COOKIE_SAMESITE = "Strict"
    response = auth_client.login()
    assert response.status_code == 200
    if not auth_client.is_cookie:
        assert_no_cookies(response)
        return
    assert {m["samesite"] for m in token_cookies(response).values()} == {"Strict"}
    cleared = auth_client.logout()
    assert {m["samesite"] for m in token_cookies(cleared).values()} == {"Strict"}


# --- CK-01: Max-Age never outlives the session --------------------------------------------

def test_max_age_matches_token_lifetimes(client_factory, user):
    cookies = token_cookies(client_factory("cookie").login())
    access = int(cookies["__Host-accessToken"]["max-age"])
    refresh = int(cookies["__Host-refreshToken"]["max-age"])
    assert 890 <= access <= 900  # 15 minutes
    assert 7 * 86400 - 10 <= refresh <= 7 * 86400  # the idle lifetime, below the absolute one
    assert refresh <= 400 * 86400


def test_max_age_capped_by_absolute_lifetime_at_login(auth_client, user, settings):
    settings.DUALAUTH_REFRESH_TOKEN_ABSOLUTE_LIFETIME = timedelta(minutes=10)
    response = auth_client.login()
    assert response.status_code == 200
    assert response.json()["expiresIn"] <= 600
    if auth_client.is_cookie:
        cookies = token_cookies(response)
        assert 0 < int(cookies["__Host-refreshToken"]["max-age"]) <= 600
        assert 0 < int(cookies["__Host-accessToken"]["max-age"]) <= 600


def test_max_age_capped_by_remaining_absolute_lifetime_on_refresh(auth_client, user):
    auth_client.login()
    soon = timezone.now() + timedelta(minutes=5)
    AuthSession.objects.update(absolute_expires_at=soon, expires_at=soon)
    response = auth_client.refresh()
    assert response.status_code == 200, response.content
    assert response.json()["expiresIn"] <= 300
    if auth_client.is_cookie:
        cookies = token_cookies(response)
        assert 0 < int(cookies["__Host-refreshToken"]["max-age"]) <= 300
        assert 0 < int(cookies["__Host-accessToken"]["max-age"]) <= 300
    else:
        assert_no_cookies(response)


# --- RT-08: what the body carries ---------------------------------------------------------

def test_cookie_mode_body_never_carries_tokens(auth_client, user):
    login = auth_client.login()
    refresh = auth_client.refresh()
    for response in (login, refresh):
        body = response.json()
        if auth_client.is_cookie:
            assert set(body) == {"success", "expiresIn"}
            refresh_value = token_cookies(response)["__Host-refreshToken"].value
            assert refresh_value.encode() not in response.content
        else:
            assert body["accessToken"] and body["refreshToken"]
            assert_no_cookies(response)


def test_access_token_in_body_keeps_refresh_in_cookie(auth_client, user, settings):
    settings.DUALAUTH_COOKIE_ACCESS_TOKEN_IN_BODY = True
    response = auth_client.login()
    assert response.status_code == 200
    body = response.json()
    assert body["accessToken"]
    if auth_client.is_cookie:
        assert "refreshToken" not in body
        assert set(token_cookies(response)) == {"__Host-refreshToken"}
        assert token_cookies(response)["__Host-refreshToken"].value.encode() not in response.content
        me = auth_client.me(HTTP_AUTHORIZATION=f"Bearer {body['accessToken']}")
        assert me.status_code == 200, me.content
        renewed = auth_client.refresh()
        assert renewed.status_code == 200, renewed.content
        assert set(renewed.json()) == {"success", "expiresIn", "accessToken"}
        assert set(token_cookies(renewed)) == {"__Host-refreshToken"}
    else:
        assert body["refreshToken"]
        assert_no_cookies(response)


# --- CK-02: deletion ----------------------------------------------------------------------

def assert_cleared(response: Any) -> None:
    cookies = token_cookies(response)
    assert set(cookies) == {"__Host-accessToken", "__Host-refreshToken"}
    for name, morsel in cookies.items():
        assert morsel.value == "", name
        assert int(morsel["max-age"]) == 0, name
        assert morsel["expires"] == EPOCH, name
        assert morsel["path"] == "/", name
        assert morsel["domain"] == "", name
        assert morsel["secure"] is True, name
        assert morsel["httponly"] is True, name
        assert morsel["samesite"] == "Lax", name


@pytest.mark.parametrize("endpoint", ["logout", "logout_all"])
def test_logout_clears_cookies_with_the_same_attributes(auth_client, user, endpoint):
    auth_client.login()
    response = getattr(auth_client, endpoint)()
    assert response.status_code == 200, response.content
    if auth_client.is_cookie:
        assert_cleared(response)
        assert auth_client.cookie("__Host-refreshToken") is None
    else:
        assert_no_cookies(response)


# --- no cookies for bearer, no caching for anyone -----------------------------------------

def test_bearer_responses_never_set_cookies(client_factory, user):
    phone = client_factory("bearer")
    for response in (phone.login(), phone.me(), phone.refresh(), phone.logout(),
                     phone.login(password="wrong password!"), phone.refresh()):
        assert_no_cookies(response)


def test_token_responses_are_not_cacheable(auth_client, user):
    responses = {
        "login": auth_client.login(),
        "me": auth_client.me(),
        "refresh": auth_client.refresh(),
        "logout-all": auth_client.logout_all(),
        "failed login": auth_client.login(password="wrong password!"),
        "failed refresh": auth_client.refresh(),
    }
    auth_client.login()
    responses["logout"] = auth_client.logout()
    for what, response in responses.items():
        assert response.status_code < 500, what
        assert "no-store" in response["Cache-Control"], what
        assert response["Pragma"] == "no-cache", what


# --- CK-03: tossing and look-alikes -------------------------------------------------------

@pytest.mark.parametrize("planted_first", [False, True])
def test_duplicated_refresh_cookie_is_refused_without_rotation(auth_client, user, planted_first):
    auth_client.login()
    real = auth_client.refresh_token
    name = refresh_cookie_name()
    pairs = [f"{name}=planted-value-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", f"{name}={real}"]
    if not planted_first:
        pairs.reverse()
    if auth_client.is_cookie:
        response = auth_client.client.post("/auth/refresh", {}, format="json", HTTP_ORIGIN="https://app.example.com",
                                           **raw_cookie_header(auth_client, *pairs))
    else:
        response = auth_client.post("/auth/refresh", {"refreshToken": real}, HTTP_COOKIE="; ".join(pairs))
    assert response.status_code == 401, response.content
    assert response.json()["code"] == "INVALID_REFRESH_TOKEN"
    assert AuthSession.objects.get().generation == 0


def test_same_refresh_cookie_twice_is_still_a_duplicate(client_factory, user):
    browser = client_factory("cookie")
    browser.login()
    name = refresh_cookie_name()
    pairs = (f"{name}={browser.refresh_token}", f"{name}={browser.refresh_token}")
    response = browser.client.post("/auth/refresh", {}, format="json", HTTP_ORIGIN="https://app.example.com",
                                   **raw_cookie_header(browser, *pairs))
    assert response.status_code == 401, response.content
    assert response.json()["code"] == "INVALID_REFRESH_TOKEN"
    assert AuthSession.objects.get().generation == 0


@pytest.mark.parametrize("path", ["/auth/me", "/api/whoami"])
def test_duplicated_access_cookie_is_refused(client_factory, user, path):
    browser = client_factory("cookie")
    browser.login()
    name = access_cookie_name()
    header = raw_cookie_header(browser, f"{name}={browser.access_token}", f"{name}={browser.access_token}")
    response = browser.client.get(path, **header)
    assert response.status_code == 401, response.content
    assert response.json()["code"] == "INVALID_ACCESS_TOKEN"


def test_duplicated_access_cookie_on_logout_all_revokes_nothing(client_factory, user):
    browser = client_factory("cookie")
    browser.login()
    name = access_cookie_name()
    header = raw_cookie_header(browser, f"{name}={browser.access_token}", f"{name}=x")
    response = browser.client.post("/auth/logout-all", {}, format="json", HTTP_ORIGIN="https://app.example.com",
                                   **header)
    assert response.status_code == 401, response.content
    assert AuthSession.objects.get().revoked_at is None


def test_duplicated_cookies_on_logout_are_not_a_500(client_factory, user):
    browser = client_factory("cookie")
    browser.login()
    a, r = access_cookie_name(), refresh_cookie_name()
    header = raw_cookie_header(browser, f"{a}=x", f"{a}=y", f"{r}=x", f"{r}=y")
    response = browser.client.post("/auth/logout", {}, format="json", HTTP_ORIGIN="https://app.example.com",
                                   **header)
    assert response.status_code == 200, response.content
    assert_cleared(response)


@pytest.mark.parametrize("lookalike", ["refreshToken", "__host-refreshToken", "__HOST-refreshToken",
                                       "__Secure-refreshToken", " __Host-refreshTokenX", "x__Host-refreshToken"])
def test_lookalike_refresh_cookie_is_ignored(client_factory, user, lookalike):
    browser = client_factory("cookie")
    browser.login()
    header = raw_cookie_header(browser, f"{lookalike}={browser.refresh_token}")
    response = browser.client.post("/auth/refresh", {}, format="json", HTTP_ORIGIN="https://app.example.com",
                                   **header)
    assert response.status_code == 401, response.content
    assert response.json()["code"] == "NO_REFRESH_TOKEN"
    assert AuthSession.objects.get().generation == 0


@pytest.mark.parametrize("lookalike", ["accessToken", "__host-accessToken", "__Secure-accessToken"])
def test_lookalike_access_cookie_is_ignored(client_factory, user, lookalike):
    browser = client_factory("cookie")
    browser.login()
    response = browser.client.get("/auth/me", **raw_cookie_header(browser, f"{lookalike}={browser.access_token}"))
    assert response.status_code == 401, response.content
    assert response.json()["code"] == "NOT_AUTHENTICATED"


def test_planted_lookalike_next_to_the_real_cookie_changes_nothing(client_factory, user_factory, user):
    mallory = client_factory("cookie")
    user_factory(email="mallory@example.com")
    mallory.login(email="mallory@example.com")
    victim = client_factory("cookie")
    victim.login()
    header = raw_cookie_header(victim, f"refreshToken={mallory.refresh_token}",
                               f"__host-refreshToken={mallory.refresh_token}",
                               f"{refresh_cookie_name()}={victim.refresh_token}")
    response = victim.client.post("/auth/refresh", {}, format="json", HTTP_ORIGIN="https://app.example.com",
                                  **header)
    assert response.status_code == 200, response.content
    assert AuthSession.objects.get(user=user).generation == 1
    assert AuthSession.objects.get(user__email="mallory@example.com").generation == 0


# --- CK-04: malformed cookie values -------------------------------------------------------

@pytest.mark.parametrize("value", ['"unterminated', "a,b", "caf\u00e9", "a b", '""', "=", "x" * 5000])
def test_malformed_cookie_values_are_4xx(client_factory, user, value):
    browser = client_factory("cookie")
    browser.login()
    refresh = browser.client.post("/auth/refresh", {}, format="json", HTTP_ORIGIN="https://app.example.com",
                                  **raw_cookie_header(browser, f"{refresh_cookie_name()}={value}"))
    assert refresh.status_code == 401, refresh.content
    assert refresh.json()["code"] in {"INVALID_REFRESH_TOKEN", "NO_REFRESH_TOKEN"}
    me = browser.client.get("/auth/me", **raw_cookie_header(browser, f"{access_cookie_name()}={value}"))
    assert me.status_code == 401, me.content
    assert AuthSession.objects.get().generation == 0


def test_unknown_strategy_header_falls_back_to_cookies_and_is_not_echoed(client_factory, user):
    browser = client_factory("cookie")
    response = browser.login(HTTP_X_AUTH_STRATEGY="Bearer\r\nSet-Cookie: evil=1")
    assert response.status_code == 200, response.content
    assert set(token_cookies(response)) == {"__Host-accessToken", "__Host-refreshToken"}
    assert "evil" not in response.cookies
    assert b"evil" not in response.serialize_headers()
