"""Unit tests of ``delivery/`` without a view (issue 16, item 7): which client IP, which delivery,
and which credential a bare request yields, for the cases the endpoint tests reach only sideways.

Each case is a request built by ``RequestFactory``; no URL, view or database is involved.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.test import RequestFactory

from django_dualauth.delivery.client import client_info, client_ip
from django_dualauth.delivery.cookies import DuplicateCookie, read_cookie
from django_dualauth.delivery.credentials import (
    OTHER_SCHEME,
    Credential,
    read_access_credential,
    read_logout_credentials,
    read_refresh_credential,
)
from django_dualauth.delivery.selection import requested_delivery
from django_dualauth.exceptions import (
    AccessTokenInvalid,
    CredentialConflict,
    DeliveryNotAllowed,
    RefreshTokenInvalid,
    RefreshTokenMissing,
    ValidationFailed,
)

ACCESS, REFRESH = "__Host-accessToken", "__Host-refreshToken"  # the defaults with COOKIE_SECURE


def request(**meta: Any) -> Any:
    return RequestFactory().post("/auth/refresh", **meta)


# --- client_ip: DUALAUTH_TRUSTED_PROXY_DEPTH -----------------------------------------------------

@pytest.mark.parametrize(("depth", "forwarded", "expected"), [
    (0, "198.51.100.7", "10.0.0.1"),                      # no trusted proxy: X-Forwarded-For is the client's word
    (1, "192.0.2.66, 198.51.100.7", "198.51.100.7"),      # the hop our proxy saw, not the spoofed left entry
    (2, "192.0.2.66, 198.51.100.7, 10.0.0.2", "198.51.100.7"),
    (2, "198.51.100.7", "10.0.0.1"),                      # fewer hops than proxies: the header is not trusted
    (1, "192.0.2.66, not-an-ip", "10.0.0.1"),             # garbage in the trusted hop: the socket's address
    (1, " , 198.51.100.7 , ", "198.51.100.7"),            # empty entries are not hops
    (1, "2001:DB8:0:0:0:0:0:1", "2001:db8::1"),           # normalised, so one client is one rate-limit key
])
def test_client_ip_trusts_exactly_the_configured_proxy_hops(settings, depth, forwarded, expected):
    settings.DUALAUTH_TRUSTED_PROXY_DEPTH = depth
    assert client_ip(request(REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR=forwarded)) == expected


def test_client_ip_is_none_for_an_unparsable_socket_address():
    assert client_ip(request(REMOTE_ADDR="unix-socket")) is None


def test_client_info_keeps_printable_user_agent_characters_only_and_at_most_512():
    info = client_info(request(HTTP_USER_AGENT="curl/8\x00\x1b[31m" + "x" * 600, REMOTE_ADDR="10.0.0.1"))
    assert info.user_agent.startswith("curl/8[31m")
    assert info.user_agent.isprintable() and len(info.user_agent) == 512
    assert info.ip_address == "10.0.0.1"


# --- requested_delivery: DUALAUTH_DELIVERY_POLICY x the bearer header -----------------------------

@pytest.mark.parametrize(("policy", "header", "expected"), [
    ("per-request", None, "cookie"),
    ("per-request", "bearer", "bearer"),
    ("per-request", "Bearer", "cookie"),    # exact values only
    ("per-request", "bearer ", "cookie"),
    ("bearer", None, "bearer"),
    ("cookie", None, "cookie"),
    ("cookie", "other", "cookie"),
])
def test_requested_delivery_follows_policy_and_exact_header_values(settings, policy, header, expected):
    settings.DUALAUTH_DELIVERY_POLICY = policy
    meta = {} if header is None else {"HTTP_X_AUTH_STRATEGY": header}
    assert requested_delivery(request(**meta)) == expected


def test_bearer_asked_for_under_a_cookie_only_policy_is_refused(settings):
    settings.DUALAUTH_DELIVERY_POLICY = "cookie"
    with pytest.raises(DeliveryNotAllowed):
        requested_delivery(request(HTTP_X_AUTH_STRATEGY="bearer"))


def test_configured_bearer_headers_replace_the_default(settings):
    settings.DUALAUTH_BEARER_HEADERS = {"X-Client": ["ios", "android"]}
    assert requested_delivery(request(HTTP_X_CLIENT="android")) == "bearer"
    assert requested_delivery(request(HTTP_X_AUTH_STRATEGY="bearer")) == "cookie"


# --- read_cookie: duplicates and look-alikes ------------------------------------------------------

def test_read_cookie_refuses_two_cookies_of_one_name():
    with pytest.raises(DuplicateCookie):
        read_cookie(request(HTTP_COOKIE=f"{REFRESH}=planted; other=1; {REFRESH}=real"), REFRESH)


@pytest.mark.parametrize("header", ["__host-refreshToken=x", "__Secure-refreshToken=x", "my__Host-refreshToken=x",
                                    f"{REFRESH}"])
def test_read_cookie_ignores_look_alike_names_and_valueless_chunks(header):
    assert read_cookie(request(HTTP_COOKIE=header), REFRESH) is None


def test_read_cookie_unquotes_and_strips_the_value():
    assert read_cookie(request(HTTP_COOKIE=f'a=1;  {REFRESH}= "abc" '), REFRESH) == "abc"


# --- read_access_credential ----------------------------------------------------------------------

@pytest.mark.parametrize("header", ["Bearer abc.def.ghi", "bearer abc.def.ghi", "BEARER   abc.def.ghi  "])
def test_access_credential_from_the_bearer_header_any_scheme_case(header):
    credential = read_access_credential(request(HTTP_AUTHORIZATION=header))
    assert credential == Credential("abc.def.ghi", "bearer")


@pytest.mark.parametrize("header", ["Bearer", "Bearer ", "Bearer a b", "Bearer  \t "])
def test_unusable_bearer_header_is_invalid_and_never_falls_back_to_the_cookie(header):
    with pytest.raises(AccessTokenInvalid):
        read_access_credential(request(HTTP_AUTHORIZATION=header, HTTP_COOKIE=f"{ACCESS}=from-cookie"))


def test_another_scheme_is_not_ours_and_does_not_fall_back_to_the_cookie():
    credential = read_access_credential(request(HTTP_AUTHORIZATION="Basic dTpw", HTTP_COOKIE=f"{ACCESS}=c"))
    assert credential is OTHER_SCHEME


def test_access_cookie_is_read_without_a_header_unless_the_policy_is_bearer(settings):
    assert read_access_credential(request(HTTP_COOKIE=f"{ACCESS}=c")) == Credential("c", "cookie")
    settings.DUALAUTH_DELIVERY_POLICY = "bearer"
    assert read_access_credential(request(HTTP_COOKIE=f"{ACCESS}=c")) is None


def test_duplicated_access_cookie_is_invalid():
    with pytest.raises(AccessTokenInvalid):
        read_access_credential(request(HTTP_COOKIE=f"{ACCESS}=a; {ACCESS}=b"))


def test_a_credential_never_prints_its_secret():
    assert "s3cret" not in repr(Credential("s3cret", "bearer"))
    assert "s3cret" not in str(Credential("s3cret", "bearer"))


# --- read_refresh_credential: body, cookie, policy ------------------------------------------------

def test_refresh_from_the_body_or_the_cookie():
    assert read_refresh_credential(request(), {"refreshToken": "b"}) == Credential("b", "bearer")
    assert read_refresh_credential(request(HTTP_COOKIE=f"{REFRESH}=c"), {}) == Credential("c", "cookie")


@pytest.mark.parametrize(("meta", "data", "error"), [
    ({}, {}, RefreshTokenMissing),
    ({}, [], RefreshTokenMissing),                          # a JSON array is no body at all
    ({}, {"refreshToken": 7}, ValidationFailed),
    ({}, {"refreshToken": None}, RefreshTokenMissing),
    ({"HTTP_COOKIE": f"{REFRESH}=c"}, {"refreshToken": "b"}, CredentialConflict),
    ({"HTTP_COOKIE": f"{REFRESH}=c; {REFRESH}=d"}, {}, RefreshTokenInvalid),
])
def test_refresh_credential_refusals(meta, data, error):
    with pytest.raises(error):
        read_refresh_credential(request(**meta), data)


def test_cookie_only_policy_refuses_a_refresh_token_in_the_body(settings):
    settings.DUALAUTH_DELIVERY_POLICY = "cookie"
    with pytest.raises(DeliveryNotAllowed):
        read_refresh_credential(request(), {"refreshToken": "b"})


def test_bearer_only_policy_never_reads_the_refresh_cookie(settings):
    settings.DUALAUTH_DELIVERY_POLICY = "bearer"
    with pytest.raises(RefreshTokenMissing):
        read_refresh_credential(request(HTTP_COOKIE=f"{REFRESH}=c"), {})
    # and a cookie beside the body is no conflict: it is not read at all
    assert read_refresh_credential(request(HTTP_COOKIE=f"{REFRESH}=c"), {"refreshToken": "b"}).via == "bearer"


# --- read_logout_credentials: never raises ---------------------------------------------------------

@pytest.mark.parametrize(("meta", "data"), [
    ({"HTTP_AUTHORIZATION": "Bearer a b"}, {"refreshToken": 7}),
    ({"HTTP_AUTHORIZATION": "Basic x", "HTTP_COOKIE": f"{REFRESH}=c"}, {"refreshToken": "b"}),
    ({"HTTP_COOKIE": f"{ACCESS}=a; {ACCESS}=b; {REFRESH}=c; {REFRESH}=d"}, {}),
])
def test_logout_treats_every_malformed_credential_as_absent(meta, data):
    assert read_logout_credentials(request(**meta), data) == (None, None)


def test_logout_reads_both_credentials_from_the_channel_used():
    access, refresh = read_logout_credentials(request(HTTP_AUTHORIZATION="Bearer t"), {"refreshToken": "r"})
    assert (access, refresh) == (Credential("t", "bearer"), Credential("r", "bearer"))
