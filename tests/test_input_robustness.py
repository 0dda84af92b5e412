"""Input robustness and hygiene, catalogue group I: IN-01 .. IN-08.

Also: wrong JSON types, missing fields, non-JSON content types (415 for cookie-credentialed
requests), garbage ``Authorization`` headers on the auth endpoints. Every bad request gets a
4xx JSON ``{"error", "code"}`` (never a 500) and leaves no half-written state: no session
created, rotated or revoked, no user created.
"""

from __future__ import annotations

import io
import json
import logging
import unicodedata
from typing import Any
from unittest import mock

import pytest
from django.contrib.auth import get_user_model

from django_dualauth.api import parsers
from django_dualauth.api.parsers import StrictJSONParser
from django_dualauth.delivery import Credential, access_cookie_name, refresh_cookie_name
from django_dualauth.exceptions import BadRequest, PayloadTooLarge
from django_dualauth.models import AuthSession, RotatedRefreshToken
from tests.conftest import EMAIL, PASSWORD, AuthClient

pytestmark = pytest.mark.django_db

BODY_ENDPOINTS = ["/auth/login", "/auth/register", "/auth/refresh", "/auth/logout"]
LEAKS = ("Traceback", 'File "', "SELECT ", "INSERT ", "sqlite", "SECRET_KEY", "tests-kkkk",
         "django_dualauth/", "Exception")


# --- helpers ---------------------------------------------------------------------------------

def raw_post(client: AuthClient, path: str, body: bytes | str,
             content_type: str = "application/json", **extra: Any) -> Any:
    """POST an exact body with this client's delivery headers (CSRF token and Origin, or
    ``X-Auth-Strategy`` and the Bearer token)."""
    return client.client.post(path, data=body, content_type=content_type,
                              **{**client.headers(), **extra})


def snapshot() -> tuple[Any, ...]:
    """Everything a half-finished request could have written."""
    sessions = tuple(AuthSession.objects.order_by("id").values_list(
        "id", "generation", "refresh_digest", "revoked_at", "last_used_at"))
    return (sessions, RotatedRefreshToken.objects.count(),
            tuple(get_user_model().objects.order_by("pk").values_list("pk", "email", "password")))


def assert_clean_4xx(response: Any, status: int, code: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, (response.status_code, response.content[:300])
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert isinstance(body, dict) and {"error", "code"} <= set(body), body
    if code is not None:
        assert body["code"] == code, body
    text = response.content.decode("utf-8", "replace")
    for leak in LEAKS:
        assert leak not in text, (leak, text[:300])
    return body


@pytest.fixture
def logged_in(auth_client: AuthClient, user: Any) -> AuthClient:
    assert auth_client.login().status_code == 200
    return auth_client


@pytest.fixture(params=BODY_ENDPOINTS)
def endpoint(request: Any) -> str:
    return request.param  # type: ignore[no-any-return]


# --- IN-01 malformed JSON, wrong types, missing fields -------------------------------------------

MALFORMED = {
    "truncated": '{"email": "alice@example.com", "password": "corr',
    "trailing-comma": '{"email": "alice@example.com", "password": "x",}',
    "single-quotes": "{'email': 'alice@example.com'}",
    "unquoted-key": '{email: "alice@example.com"}',
    "array": "[]",
    "array-of-object": '[{"email": "alice@example.com", "password": "x"}]',
    "string": '"alice@example.com"',
    "number": "123",
    "null": "null",
    "true": "true",
    "nan": '{"email": "alice@example.com", "password": NaN}',
    "infinity": '{"email": "alice@example.com", "password": Infinity}',
    "minus-infinity": '{"email": "alice@example.com", "password": -Infinity}',
    "two-documents": '{"email": "a@b.c"} {"password": "x"}',
    "garbage": "\x00\x01\x02",
    "invalid-utf8": b'{"email": "\xff\xfe", "password": "x"}',
    "utf8-bom": b'\xef\xbb\xbf{"email": "alice@example.com", "password": "x"}',
    "utf16": '{"email": "alice@example.com", "password": "x"}'.encode("utf-16"),
}


@pytest.mark.parametrize("name", list(MALFORMED))
def test_in01_malformed_json_is_a_generic_400(logged_in: AuthClient, endpoint: str, name: str) -> None:
    before = snapshot()
    response = raw_post(logged_in, endpoint, MALFORMED[name])
    assert_clean_4xx(response, 400, "BAD_REQUEST")
    assert snapshot() == before


def test_in01_nan_is_refused_even_where_the_stdlib_would_accept_it(auth_client: AuthClient, user: Any) -> None:
    assert json.loads('{"password": NaN}')  # the stdlib would parse it
    response = raw_post(auth_client, "/auth/login", f'{{"email": "{EMAIL}", "password": NaN}}')
    assert_clean_4xx(response, 400, "BAD_REQUEST")
    assert not AuthSession.objects.exists()


WRONG_TYPES = {
    "password-int": {"email": EMAIL, "password": 123},
    "password-float": {"email": EMAIL, "password": 1.5},
    "password-true": {"email": EMAIL, "password": True},
    "password-null": {"email": EMAIL, "password": None},
    "password-list": {"email": EMAIL, "password": [PASSWORD]},
    "password-object": {"email": EMAIL, "password": {"value": PASSWORD}},
    "email-int": {"email": 123, "password": PASSWORD},
    "email-null": {"email": None, "password": PASSWORD},
    "email-list": {"email": [EMAIL], "password": PASSWORD},
    "email-object": {"email": {"$ne": ""}, "password": PASSWORD},
    "email-bool": {"email": False, "password": PASSWORD},
    "email-not-an-address": {"email": "alice", "password": PASSWORD},
    "email-too-long": {"email": "a" * 250 + "@example.com", "password": PASSWORD},
}


@pytest.mark.parametrize("path", ["/auth/login", "/auth/register"])
@pytest.mark.parametrize("name", list(WRONG_TYPES))
def test_in01_wrong_types_are_a_400_validation_error(auth_client: AuthClient, user: Any, path: str,
                                                    name: str) -> None:
    before = snapshot()
    data = WRONG_TYPES[name]
    response = auth_client.post(path, data)
    body = assert_clean_4xx(response, 400, "VALIDATION_ERROR")
    wrong = next(k for k, v in data.items() if k == "email" and v != EMAIL or k == "password" and v != PASSWORD)
    assert wrong in body["fields"], body
    assert snapshot() == before


@pytest.mark.parametrize("data", [{}, {"email": EMAIL}, {"password": PASSWORD}, {"Email": EMAIL, "Password": PASSWORD},
                                  {"username": EMAIL, "password": PASSWORD}],
                         ids=["empty", "no-password", "no-email", "wrong-case-keys", "username-key"])
@pytest.mark.parametrize("path", ["/auth/login", "/auth/register"])
def test_in01_missing_fields_are_named(auth_client: AuthClient, user: Any, path: str, data: dict[str, Any]) -> None:
    before = snapshot()
    body = assert_clean_4xx(auth_client.post(path, data), 400, "VALIDATION_ERROR")
    for field in ("email", "password"):
        if field not in data:
            assert field in body["fields"], body
    assert snapshot() == before


def test_in01_empty_json_body_is_a_validation_error(auth_client: AuthClient, user: Any) -> None:
    response = raw_post(auth_client, "/auth/login", b"")
    assert_clean_4xx(response, 400, "VALIDATION_ERROR")


@pytest.mark.parametrize("value", [123, True, [], {"token": "x"}, 1.5], ids=["int", "bool", "list", "object", "float"])
def test_in01_refresh_token_of_the_wrong_type(client_factory: Any, user: Any, value: Any) -> None:
    phone = client_factory("bearer")
    phone.login()
    before = snapshot()
    response = phone.post("/auth/refresh", {"refreshToken": value})
    body = assert_clean_4xx(response, 400, "VALIDATION_ERROR")
    assert "refreshToken" in body["fields"]
    assert snapshot() == before


def test_in01_refresh_token_in_the_body_is_refused_before_the_cookie_is_spent(client_factory: Any, user: Any) -> None:
    browser = client_factory("cookie")
    browser.login()
    before = snapshot()
    assert_clean_4xx(browser.post("/auth/refresh", {"refreshToken": 123}), 400)
    assert snapshot() == before
    assert browser.refresh().status_code == 200  # the cookie still works


# --- IN-02 deep nesting ------------------------------------------------------------------------

NESTED = {
    "arrays": "[" * 60_000,
    "closed-arrays": "[" * 30_000 + "]" * 30_000,
    "objects": '{"a":' * 10_000 + "1" + "}" * 10_000,
    "in-a-field": '{"email": "alice@example.com", "password": ' + "[" * 30_000 + "]" * 30_000 + "}",
}


@pytest.mark.parametrize("name", list(NESTED))
def test_in02_deeply_nested_json_is_a_400(logged_in: AuthClient, endpoint: str, name: str) -> None:
    body = NESTED[name]
    assert len(body) <= 64 * 1024  # within the size cap: only the depth is wrong
    before = snapshot()
    assert_clean_4xx(raw_post(logged_in, endpoint, body), 400, "BAD_REQUEST")
    assert snapshot() == before


def test_in02_catalogue_payload_is_a_4xx(auth_client: AuthClient) -> None:
    response = raw_post(auth_client, "/auth/login", "[" * 100_000)  # also over the size cap
    assert_clean_4xx(response, 413, "PAYLOAD_TOO_LARGE")


def test_in02_parser_turns_recursion_error_into_bad_request() -> None:
    with pytest.raises(BadRequest):
        StrictJSONParser().parse(io.BytesIO(b"[" * 50_000))


# --- IN-03 huge bodies -------------------------------------------------------------------------

def _huge_json(size: int) -> str:
    return json.dumps({"email": EMAIL, "password": PASSWORD, "refreshToken": "x", "pad": "x" * size})


@pytest.mark.parametrize("path", BODY_ENDPOINTS)
def test_in03_ten_mib_body_is_413_before_parsing(logged_in: AuthClient, path: str) -> None:
    before = snapshot()
    with mock.patch.object(parsers.json, "loads", side_effect=AssertionError("parsed")) as loads:
        response = raw_post(logged_in, path, _huge_json(10 * 1024 * 1024))
    assert_clean_4xx(response, 413, "PAYLOAD_TOO_LARGE")
    loads.assert_not_called()
    assert snapshot() == before


def test_in03_limit_is_the_setting(auth_client: AuthClient, user: Any, settings: Any) -> None:
    body = json.dumps({"email": EMAIL, "password": "wrong password"})
    settings.DUALAUTH_MAX_BODY_SIZE = len(body.encode())
    assert_clean_4xx(raw_post(auth_client, "/auth/login", body), 401, "INVALID_CREDENTIALS")
    settings.DUALAUTH_MAX_BODY_SIZE = len(body.encode()) - 1
    assert_clean_4xx(raw_post(auth_client, "/auth/login", body), 413, "PAYLOAD_TOO_LARGE")
    assert not AuthSession.objects.exists()


def test_in03_login_just_under_the_limit_still_works(auth_client: AuthClient, user: Any, settings: Any) -> None:
    body = json.dumps({"email": EMAIL, "password": PASSWORD})
    settings.DUALAUTH_MAX_BODY_SIZE = len(body.encode())
    assert raw_post(auth_client, "/auth/login", body).status_code == 200


def test_in03_parser_reads_at_most_limit_plus_one_bytes_without_content_length(settings: Any) -> None:
    settings.DUALAUTH_MAX_BODY_SIZE = 1024
    stream = io.BytesIO(b" " * (10 * 1024 * 1024))
    with pytest.raises(PayloadTooLarge):
        StrictJSONParser().parse(stream, parser_context={})
    assert stream.tell() == 1025


def test_in03_parser_refuses_a_declared_length_over_the_limit_without_reading(settings: Any) -> None:
    settings.DUALAUTH_MAX_BODY_SIZE = 1024
    request = mock.Mock(META={"CONTENT_LENGTH": str(10 * 1024 * 1024)})
    stream = io.BytesIO(b"{}")
    with pytest.raises(PayloadTooLarge):
        StrictJSONParser().parse(stream, parser_context={"request": request})
    assert stream.tell() == 0


def test_in03_parser_refuses_an_invalid_content_length() -> None:
    request = mock.Mock(META={"CONTENT_LENGTH": "12abc"})
    with pytest.raises(BadRequest):
        StrictJSONParser().parse(io.BytesIO(b"{}"), parser_context={"request": request})


# --- IN-04 long passwords ----------------------------------------------------------------------

@pytest.mark.parametrize("length", [64, 1024, 4096])
def test_in04_long_passwords_are_accepted(auth_client: AuthClient, user_factory: Any, length: int) -> None:
    password = ("Long pass phrase " * 300)[:length]
    user_factory(email="long@example.com", password=password)
    assert auth_client.login(email="long@example.com", password=password).status_code == 200
    assert auth_client.me().status_code == 200


@pytest.mark.parametrize("length", [64, 1024])
def test_in04_long_passwords_can_be_registered(auth_client: AuthClient, length: int) -> None:
    password = ("Long pass phrase " * 100)[:length]
    response = auth_client.post("/auth/register", {"email": "new@example.com", "password": password})
    assert response.status_code == 201, response.content
    assert auth_client.login(email="new@example.com", password=password).status_code == 200


@pytest.mark.parametrize("path", ["/auth/login", "/auth/register"])
def test_in04_password_over_the_maximum_is_400_before_hashing(auth_client: AuthClient, user: Any,
                                                             path: str) -> None:
    before = snapshot()
    with mock.patch("django.contrib.auth.hashers.MD5PasswordHasher.encode") as encode, \
            mock.patch("django.contrib.auth.hashers.MD5PasswordHasher.verify") as verify:
        response = auth_client.post(path, {"email": EMAIL, "password": "p" * 4097})
    body = assert_clean_4xx(response, 400, "VALIDATION_ERROR")
    assert "password" in body["fields"]
    encode.assert_not_called()
    verify.assert_not_called()
    assert snapshot() == before


def test_in04_password_maximum_is_the_setting(auth_client: AuthClient, user_factory: Any, settings: Any) -> None:
    password = "q" * 101
    user_factory(email="q@example.com", password=password)
    settings.DUALAUTH_PASSWORD_MAX_LENGTH = 100
    response = auth_client.post("/auth/login", {"email": "q@example.com", "password": password})
    assert_clean_4xx(response, 400, "VALIDATION_ERROR")
    settings.DUALAUTH_PASSWORD_MAX_LENGTH = 101
    assert auth_client.login(email="q@example.com", password=password).status_code == 200


def test_in04_one_mib_password_is_refused_quickly(auth_client: AuthClient, user: Any, settings: Any) -> None:
    # Within the default body cap it is a 413; with a larger cap the field limit answers 400.
    huge = {"email": EMAIL, "password": "p" * (1024 * 1024)}
    assert_clean_4xx(auth_client.post("/auth/login", huge), 413, "PAYLOAD_TOO_LARGE")
    settings.DUALAUTH_MAX_BODY_SIZE = 2 * 1024 * 1024
    with mock.patch("django_dualauth.services.proofs.auth.authenticate") as authenticate:
        response = auth_client.post("/auth/login", huge)
    assert_clean_4xx(response, 400, "VALIDATION_ERROR")
    authenticate.assert_not_called()
    assert not AuthSession.objects.exists()


# --- IN-05 passwords verified exactly as received ----------------------------------------------

EXACT = "  pässwörd  "


@pytest.mark.parametrize("variant", [
    EXACT.strip(), EXACT.lstrip(), EXACT.rstrip(), EXACT.upper(), " " + EXACT,
    unicodedata.normalize("NFD", EXACT), EXACT.replace(" ", "\u00a0"),
], ids=["trimmed", "lstrip", "rstrip", "upper", "extra-space", "nfd", "nbsp"])
def test_in05_only_the_exact_password_logs_in(auth_client: AuthClient, user_factory: Any, variant: str) -> None:
    assert variant != EXACT
    user_factory(email="exact@example.com", password=EXACT)
    response = auth_client.login(email="exact@example.com", password=variant)
    assert_clean_4xx(response, 401, "INVALID_CREDENTIALS")
    assert not AuthSession.objects.exists()
    assert auth_client.login(email="exact@example.com", password=EXACT).status_code == 200


def test_in05_registration_keeps_surrounding_whitespace(auth_client: AuthClient) -> None:
    response = auth_client.post("/auth/register", {"email": "exact@example.com", "password": EXACT})
    assert response.status_code == 201, response.content
    assert auth_client.login(email="exact@example.com", password=EXACT.strip()).status_code == 401
    assert auth_client.login(email="exact@example.com", password=EXACT).status_code == 200


# --- IN-06 NUL, surrogates, control characters ----------------------------------------------------

CONTROL = {
    "nul-in-email": {"email": "alice\u0000@example.com", "password": PASSWORD},
    "nul-after-email": {"email": EMAIL + "\u0000", "password": PASSWORD},
    "nul-in-password": {"email": EMAIL, "password": PASSWORD + "\u0000"},
    "crlf-in-email": {"email": EMAIL + "\r\nBcc: victim@example.org", "password": PASSWORD},
    "lf-in-email": {"email": "alice@example.com\nX-Injected: 1", "password": PASSWORD},
    "tab-in-email": {"email": "alice\t@example.com", "password": PASSWORD},
}
SURROGATES = {
    "lone-high-in-password": '{"email": "alice@example.com", "password": "abc\\ud800def"}',
    "lone-low-in-password": '{"email": "alice@example.com", "password": "\\udfff"}',
    "lone-high-in-email": '{"email": "alice\\ud800@example.com", "password": "x"}',
}


@pytest.mark.parametrize("path", ["/auth/login", "/auth/register"])
@pytest.mark.parametrize("name", list(CONTROL))
def test_in06_control_characters_are_a_400(auth_client: AuthClient, user: Any, path: str, name: str) -> None:
    before = snapshot()
    response = auth_client.post(path, CONTROL[name])
    assert_clean_4xx(response, 400, "VALIDATION_ERROR")
    for header, value in response.items():
        assert "Bcc" not in value and "X-Injected" not in header and "\n" not in value
    assert snapshot() == before


@pytest.mark.parametrize("path", ["/auth/login", "/auth/register"])
@pytest.mark.parametrize("name", list(SURROGATES))
def test_in06_lone_surrogates_are_a_400(auth_client: AuthClient, user: Any, path: str, name: str) -> None:
    before = snapshot()
    response = raw_post(auth_client, path, SURROGATES[name])
    assert_clean_4xx(response, 400, "VALIDATION_ERROR")
    assert snapshot() == before


@pytest.mark.parametrize("value", ["abc\u0000def" * 6, "\ud800" * 43, "\r\n" * 22])
def test_in06_control_characters_in_a_refresh_token_are_a_401(client_factory: Any, user: Any, value: str) -> None:
    phone = client_factory("bearer")
    phone.login()
    before = snapshot()
    body = json.dumps({"refreshToken": value})
    response = raw_post(phone, "/auth/refresh", body)
    assert_clean_4xx(response, 401, "INVALID_REFRESH_TOKEN")
    assert snapshot() == before


@pytest.mark.parametrize("value", ["a\x00b", "a\x01b.c.d", "\x7f.\x7f.\x7f"])
def test_in06_control_characters_in_the_access_cookie_are_a_401(client_factory: Any, user: Any, value: str) -> None:
    browser = client_factory("cookie")
    browser.login()
    response = browser.client.get("/auth/me", HTTP_COOKIE=f"{access_cookie_name()}={value}")
    assert_clean_4xx(response, 401, "INVALID_ACCESS_TOKEN")


# --- IN-07 identifier collisions --------------------------------------------------------------

@pytest.mark.parametrize("twin", ["ALICE@EXAMPLE.COM", "Alice@Example.com", " alice@example.com "])
def test_in07_case_folded_twin_cannot_register(auth_client: AuthClient, user: Any, twin: str) -> None:
    before = snapshot()
    response = auth_client.post("/auth/register", {"email": twin, "password": "another fine passphrase"})
    assert_clean_4xx(response, 409, "EMAIL_TAKEN")
    assert snapshot() == before


def test_in07_fullwidth_local_part_is_refused(auth_client: AuthClient, user: Any) -> None:
    twin = "ａｌｉｃｅ@example.com"  # NFKC-equal to alice@example.com
    before = snapshot()
    response = auth_client.post("/auth/register", {"email": twin, "password": "another fine passphrase"})
    assert_clean_4xx(response, 400, "VALIDATION_ERROR")
    assert snapshot() == before
    assert_clean_4xx(auth_client.login(email=twin), 400, "VALIDATION_ERROR")
    assert not AuthSession.objects.exists()


@pytest.mark.parametrize("twin", ["alıce@example.com", "ALİCE@example.com"], ids=["dotless-i", "dotted-capital-i"])
def test_in07_look_alike_never_reaches_the_stored_account(auth_client: AuthClient, user: Any, twin: str) -> None:
    """Whether the database folds ``ı``/``İ`` (PostgreSQL's UPPER does: 409) or not (SQLite: a
    distinct account), the existing account is untouched and the look-alike's own credentials
    never open it."""
    alice = (user.pk, user.email, user.password)
    response = auth_client.post("/auth/register", {"email": twin, "password": "another fine passphrase"})
    assert response.status_code in {201, 409}, response.content
    user.refresh_from_db()
    assert (user.pk, user.email, user.password) == alice
    if response.status_code == 201:
        created = get_user_model().objects.get(pk=response.json()["userId"])
        assert created.email == twin and created.pk != user.pk
        assert auth_client.login(email=twin, password="another fine passphrase").status_code == 200
        assert auth_client.me().json()["email"] == twin
        assert not AuthSession.objects.filter(user=user).exists()


def test_in07_login_lookup_is_case_insensitive_and_finds_the_stored_account(auth_client: AuthClient,
                                                                            user: Any) -> None:
    assert auth_client.login(email="ALICE@Example.COM").status_code == 200
    assert auth_client.me().json()["email"] == user.email
    assert AuthSession.objects.get().user_id == user.pk


def test_in07_rate_limit_key_is_shared_by_case_and_width_variants(auth_client: AuthClient, user: Any,
                                                                  settings: Any) -> None:
    settings.DUALAUTH_RATE_LIMITS = {"login_email": "3/5m"}
    for variant in ("alice@example.com", "ALICE@example.com", "Alice@Example.COM"):
        assert auth_client.login(email=variant, password="wrong password").status_code == 401
    response = auth_client.login(email="alice@EXAMPLE.com")
    assert_clean_4xx(response, 429, "RATE_LIMITED")
    assert not AuthSession.objects.exists()


# --- IN-08 secrets never reach logs or error bodies ----------------------------------------------

def test_in08_secrets_never_reach_logs_or_error_bodies(auth_client: AuthClient, user: Any,
                                                       caplog: Any) -> None:
    caplog.set_level(logging.DEBUG)
    secrets: list[str] = [PASSWORD, "wrong-password-sentinel"]
    bodies: list[bytes] = []

    def record(response: Any) -> Any:
        if response.status_code >= 400:
            bodies.append(response.content)
        return response

    record(auth_client.login(password="wrong-password-sentinel"))
    record(auth_client.login())
    secrets += [auth_client.access_token or "", auth_client.refresh_token or ""]
    first_refresh = auth_client.refresh_token
    record(auth_client.refresh())
    secrets += [auth_client.access_token or "", auth_client.refresh_token or ""]
    # replaying the spent refresh token (reuse detection revokes the family)
    if auth_client.is_cookie:
        auth_client.client.cookies[refresh_cookie_name()] = first_refresh or ""
        record(auth_client.post("/auth/refresh"))
    else:
        record(auth_client.post("/auth/refresh", {"refreshToken": first_refresh}))
    record(auth_client.client.get("/auth/me", HTTP_AUTHORIZATION="Bearer forged.token.value-sentinel"))
    secrets.append("forged.token.value-sentinel")
    with mock.patch("django_dualauth.services.revocation.caches") as broken:
        broken.__getitem__.side_effect = RuntimeError("cache down")
        record(auth_client.login())
        secrets += [auth_client.access_token or "", auth_client.refresh_token or ""]
        record(auth_client.logout())
    secrets = [s for s in secrets if s]
    assert len(secrets) >= 7

    logged = "\n".join(
        f"{r.getMessage()} {r.exc_text or ''} {getattr(r, 'request', '')!r}" for r in caplog.records)
    for secret in secrets:
        assert secret not in logged
        for body in bodies:
            assert secret.encode() not in body


def test_in08_reprs_do_not_print_secrets() -> None:
    credential = Credential("super-secret-token-value", "bearer")
    assert "super-secret-token-value" not in repr(credential)
    assert "super-secret-token-value" not in str(credential)


# --- content types ------------------------------------------------------------------------------

NON_JSON = {
    "text-plain": ("text/plain", '{"email": "alice@example.com", "password": "x"}'),
    "form": ("application/x-www-form-urlencoded", "email=alice%40example.com&password=x"),
    "multipart": ("multipart/form-data; boundary=XyZ",
                  '--XyZ\r\nContent-Disposition: form-data; name="email"\r\n\r\nalice@example.com\r\n--XyZ--\r\n'),
    "text-html": ("text/html", "<p>hi</p>"),
    "json-lookalike": ("application/jsonx", '{"email": "alice@example.com"}'),
    "json-suffix": ("application/vnd.api+json", '{"email": "alice@example.com"}'),
}
COOKIE_ENDPOINTS = [*BODY_ENDPOINTS, "/auth/logout-all"]


@pytest.mark.parametrize("path", COOKIE_ENDPOINTS)
@pytest.mark.parametrize("name", list(NON_JSON))
def test_non_json_content_type_in_cookie_mode_is_415(client_factory: Any, user: Any, path: str, name: str) -> None:
    browser = client_factory("cookie")
    assert browser.login().status_code == 200
    before = snapshot()
    content_type, body = NON_JSON[name]
    response = raw_post(browser, path, body, content_type=content_type)
    assert_clean_4xx(response, 415, "UNSUPPORTED_MEDIA_TYPE")
    assert snapshot() == before
    assert browser.me().status_code == 200  # nothing was revoked


@pytest.mark.parametrize("path", BODY_ENDPOINTS)
@pytest.mark.parametrize("name", list(NON_JSON))
def test_non_json_content_type_with_a_body_is_415_in_bearer_mode_too(client_factory: Any, user: Any, path: str,
                                                                    name: str) -> None:
    phone = client_factory("bearer")
    assert phone.login().status_code == 200
    before = snapshot()
    content_type, body = NON_JSON[name]
    response = raw_post(phone, path, body, content_type=content_type)
    assert_clean_4xx(response, 415, "UNSUPPORTED_MEDIA_TYPE")
    assert snapshot() == before


def test_json_with_charset_parameter_is_accepted(auth_client: AuthClient, user: Any) -> None:
    body = json.dumps({"email": EMAIL, "password": PASSWORD})
    response = raw_post(auth_client, "/auth/login", body, content_type="application/json; charset=utf-8")
    assert response.status_code == 200, response.content


# --- garbage Authorization headers on the auth endpoints -----------------------------------------

GARBAGE_AUTH = ["", "Bearer", "Bearer ", "Bearer a b", "Bearer a.b.c.d", "Bearer \xff\xfe", "Basic Og==",
                "Bearer " + "a" * 20_000, "Bearer a\x00.b.c"]


@pytest.mark.parametrize("value", GARBAGE_AUTH)
def test_garbage_authorization_on_protected_auth_endpoints_is_401(logged_in: AuthClient, value: str) -> None:
    before = snapshot()
    me = logged_in.client.get("/auth/me", HTTP_AUTHORIZATION=value)
    body = assert_clean_4xx(me, 401)
    assert body["code"] in {"INVALID_ACCESS_TOKEN", "NOT_AUTHENTICATED"}
    assert me["WWW-Authenticate"].startswith("Bearer")
    out = logged_in.client.post("/auth/logout-all", {}, format="json",
                                **{**logged_in.headers(), "HTTP_AUTHORIZATION": value})
    assert_clean_4xx(out, 401)
    assert snapshot() == before


@pytest.mark.parametrize("value", GARBAGE_AUTH)
def test_garbage_authorization_on_logout_is_not_an_error(logged_in: AuthClient, value: str) -> None:
    response = logged_in.post("/auth/logout", HTTP_AUTHORIZATION=value)
    assert response.status_code == 200, response.content


@pytest.mark.parametrize("value", GARBAGE_AUTH)
def test_garbage_authorization_is_ignored_by_login(auth_client: AuthClient, user: Any, value: str) -> None:
    response = auth_client.login(HTTP_AUTHORIZATION=value)
    assert response.status_code == 200, response.content
    assert AuthSession.objects.count() == 1
