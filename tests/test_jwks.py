"""``GET .well-known/jwks.json`` (issue 18, JWKS): the public keys of every asymmetric key, with
``kid``, ``alg`` and ``use`` and never a private member or an HMAC secret; off (404) without one;
cacheable, with an ``ETag``; no query, no cookie; the same answer under both deliveries; and
the rotation of docs/jwks.md stage by stage. The cross-process resource server is
``tests/test_jwks_resource_server.py``."""

from __future__ import annotations

from datetime import timedelta
from functools import cache
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from django.core.checks import Error, Warning

from django_dualauth import conf
from django_dualauth.checks import check_settings
from django_dualauth.jwt_keys import PRIVATE_JWK_MEMBERS
from django_dualauth.testing import AuthClient

pytestmark = pytest.mark.django_db

URL = "/auth/.well-known/jwks.json"
HS_SECRET = "h" * 16 + "s" * 16 + "0123456789abcdef"


@cache
def _key(kind: str) -> Any:
    if kind.startswith("rsa"):
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    if kind.startswith("ec"):
        return ec.generate_private_key(ec.SECP256R1())
    return ed25519.Ed25519PrivateKey.generate()


def private_pem(kind: str) -> str:
    return _key(kind).private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption()).decode()


def public_pem(kind: str) -> str:
    return _key(kind).public_key().public_bytes(serialization.Encoding.PEM,
                                                serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def signer(kid: str, alg: str, kind: str) -> dict[str, str]:
    return {"kid": kid, "algorithm": alg, "private_key": private_pem(kind)}


def verifier(kid: str, alg: str, kind: str) -> dict[str, str]:
    return {"kid": kid, "algorithm": alg, "public_key": public_pem(kind)}


HMAC = {"kid": "hs", "algorithm": "HS256", "secret": HS_SECRET}
MIXED = [signer("rs-new", "RS256", "rsa1"), verifier("es-old", "ES256", "ec1"), HMAC,
         verifier("ed-next", "EdDSA", "ed1")]


def published(response: Any) -> list[str]:
    return [key["kid"] for key in response.json()["keys"]]


@pytest.fixture
def anonymous() -> Any:
    from rest_framework.test import APIClient

    return APIClient(enforce_csrf_checks=True)


# --- off without an asymmetric key ---------------------------------------------------------------

@pytest.mark.parametrize("keys", [[], [HMAC]], ids=["derived-HS256", "configured-HS256"])
def test_without_an_asymmetric_key_the_endpoint_is_the_usual_json_404(auth_client: AuthClient, settings: Any,
                                                                       keys: list[Any]) -> None:
    settings.DUALAUTH_JWT_KEYS = keys
    response = auth_client.get(URL)
    assert response.status_code == 404
    assert response.json() == {"error": "Not found", "code": "NOT_FOUND"}
    assert HS_SECRET not in response.content.decode()


# --- what is published ---------------------------------------------------------------------------

def test_every_asymmetric_key_is_published_with_its_public_members_only(anonymous: Any, settings: Any) -> None:
    settings.DUALAUTH_JWT_KEYS = MIXED
    response = anonymous.get(URL)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    keys = {key["kid"]: key for key in response.json()["keys"]}
    assert published(response) == ["rs-new", "es-old", "ed-next"]  # the signing key, then the others in order
    assert "hs" not in keys and HS_SECRET not in response.content.decode()  # never an HMAC secret
    rsa_numbers = _key("rsa1").public_key().public_numbers()
    assert keys["rs-new"] == {"kid": "rs-new", "alg": "RS256", "use": "sig", "kty": "RSA",
                              "n": jwt.utils.to_base64url_uint(rsa_numbers.n).decode(),
                              "e": jwt.utils.to_base64url_uint(rsa_numbers.e).decode()}
    assert keys["es-old"].keys() == {"kid", "alg", "use", "kty", "crv", "x", "y"}
    assert (keys["es-old"]["kty"], keys["es-old"]["crv"]) == ("EC", "P-256")
    assert keys["ed-next"].keys() == {"kid", "alg", "use", "kty", "crv", "x"}
    assert (keys["ed-next"]["alg"], keys["ed-next"]["crv"]) == ("EdDSA", "Ed25519")
    for key in keys.values():
        assert not PRIVATE_JWK_MEMBERS & set(key), key
    # Every key parses as what it says it is (PyJWT's own reading of a JWK set).
    assert {k.key_id: k.algorithm_name for k in jwt.PyJWKSet.from_json(response.content.decode()).keys} == {
        "rs-new": "RS256", "es-old": "ES256", "ed-next": "EdDSA"}


@pytest.mark.parametrize("kind", ["rsa1", "ec1", "ed1"])
def test_a_private_pem_given_as_public_key_is_published_as_its_public_half(anonymous: Any, settings: Any,
                                                                           kind: str) -> None:
    alg = {"rsa1": "RS256", "ec1": "ES256", "ed1": "EdDSA"}[kind]
    settings.DUALAUTH_JWT_KEYS = [signer("s", "RS256", "rsa2"), {"kid": "v", "algorithm": alg,
                                                                  "public_key": private_pem(kind)}]
    body = anonymous.get(URL).json()
    assert [key["kid"] for key in body["keys"]] == ["s", "v"]
    assert all(not PRIVATE_JWK_MEMBERS & set(key) for key in body["keys"]), body


def test_the_first_entry_of_a_kid_is_the_one_published(anonymous: Any, settings: Any) -> None:
    settings.DUALAUTH_JWT_KEYS = [signer("k", "RS256", "rsa1"), verifier("k", "ES256", "ec1")]
    assert [(k["kid"], k["alg"]) for k in anonymous.get(URL).json()["keys"]] == [("k", "RS256")]


# --- the same for every caller: no cookie, no CSRF, no query --------------------------------------

def test_a_signed_in_caller_of_either_delivery_gets_the_same_answer_and_no_cookie(
        auth_client: AuthClient, anonymous: Any, user: Any, settings: Any) -> None:
    settings.DUALAUTH_JWT_KEYS = MIXED
    assert auth_client.login().status_code == 200
    signed_in = auth_client.get(URL)  # the cookie client sends its token cookies and CSRF cookie
    assert signed_in.status_code == 200
    first_visit = anonymous.get(URL)  # a browser without any cookie yet
    assert signed_in.content == first_visit.content
    # No token cookie, no CSRF cookie planted: a shared cache stores this answer for everyone.
    assert not signed_in.cookies and not first_visit.cookies
    assert auth_client.access_token and auth_client.access_token not in signed_in.content.decode()


def test_no_csrf_token_origin_or_authentication_is_asked_for(auth_client: AuthClient, settings: Any) -> None:
    settings.DUALAUTH_JWT_KEYS = MIXED
    # A bad access token would be a 401 on an authenticated view; here nothing authenticates.
    response = auth_client.client.get(URL, HTTP_AUTHORIZATION="Bearer not-a-jwt", HTTP_ORIGIN="https://evil.example")
    assert response.status_code == 200


def test_it_answers_without_a_query(anonymous: Any, settings: Any, django_assert_num_queries: Any) -> None:
    settings.DUALAUTH_JWT_KEYS = MIXED
    anonymous.get(URL)  # the snapshot is built on the first request
    with django_assert_num_queries(0):
        assert anonymous.get(URL).status_code == 200
        assert anonymous.head(URL).status_code == 200


def test_the_set_is_built_once_per_process(anonymous: Any, settings: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    settings.DUALAUTH_JWT_KEYS = MIXED
    calls = []
    real = conf.public_jwks
    monkeypatch.setattr(conf, "public_jwks", lambda keys: calls.append(1) or real(keys))
    bodies = {anonymous.get(URL).content for _ in range(3)}
    assert len(bodies) == 1 and len(calls) == 1
    settings.DUALAUTH_JWT_KEYS = MIXED[:1]  # a settings change builds it again
    assert published(anonymous.get(URL)) == ["rs-new"] and len(calls) == 2


def test_post_is_405(anonymous: Any, settings: Any) -> None:
    settings.DUALAUTH_JWT_KEYS = MIXED
    response = anonymous.post(URL, {}, format="json")
    assert response.status_code == 405 and response.json()["code"] == "METHOD_NOT_ALLOWED"


# --- caching -------------------------------------------------------------------------------------

def test_cache_control_is_public_for_the_configured_max_age(anonymous: Any, settings: Any) -> None:
    settings.DUALAUTH_JWT_KEYS = MIXED
    response = anonymous.get(URL)
    assert response["Cache-Control"] == "public, max-age=300" and "Pragma" not in response
    settings.DUALAUTH_JWKS_MAX_AGE = timedelta(minutes=1)
    assert anonymous.get(URL)["Cache-Control"] == "public, max-age=60"
    settings.DUALAUTH_JWKS_MAX_AGE = 0
    assert anonymous.get(URL)["Cache-Control"] == "public, max-age=0"


def test_the_404_of_the_feature_off_is_not_cacheable(anonymous: Any) -> None:
    assert anonymous.get(URL)["Cache-Control"] == "no-store"


def test_head_answers_the_headers_without_a_body(anonymous: Any, settings: Any) -> None:
    settings.DUALAUTH_JWT_KEYS = MIXED
    get, head = anonymous.get(URL), anonymous.head(URL)
    assert head.status_code == 200 and head.content == b""
    assert (head["ETag"], head["Cache-Control"]) == (get["ETag"], get["Cache-Control"])


def test_if_none_match_with_the_current_tag_is_a_304_that_keeps_the_cache_headers(anonymous: Any,
                                                                                 settings: Any) -> None:
    settings.DUALAUTH_JWT_KEYS = MIXED
    etag = anonymous.get(URL)["ETag"]
    assert etag.startswith('"') and etag.endswith('"')
    for sent in (etag, f'"other", {etag}', f"W/{etag}", "*"):
        again = anonymous.get(URL, HTTP_IF_NONE_MATCH=sent)
        assert again.status_code == 304, sent
        assert again.content == b""
        assert (again["ETag"], again["Cache-Control"]) == (etag, "public, max-age=300")
    assert anonymous.get(URL, HTTP_IF_NONE_MATCH='"stale"').status_code == 200


def test_the_tag_changes_with_the_keys(anonymous: Any, settings: Any) -> None:
    settings.DUALAUTH_JWT_KEYS = MIXED
    before = anonymous.get(URL)["ETag"]
    settings.DUALAUTH_JWT_KEYS = MIXED[:2]
    after = anonymous.get(URL, HTTP_IF_NONE_MATCH=before)
    assert after.status_code == 200 and after["ETag"] != before


# --- the tokens verify through the set --------------------------------------------------------------

def verify_with(jwks: str, token: str) -> dict[str, Any]:
    """What a resource server does: the key named by the token's kid, from the set; its alg only."""
    kid = jwt.get_unverified_header(token)["kid"]
    key = next(k for k in jwt.PyJWKSet.from_json(jwks).keys if k.key_id == kid)
    return jwt.decode(token, key, algorithms=[key.algorithm_name], audience="django-dualauth",
                      issuer="django-dualauth")


def test_an_issued_access_token_verifies_with_the_published_key(auth_client: AuthClient, anonymous: Any,
                                                                user: Any, settings: Any) -> None:
    settings.DUALAUTH_JWT_KEYS = MIXED
    assert auth_client.login().status_code == 200
    token = auth_client.access_token
    assert token is not None and jwt.get_unverified_header(token)["kid"] == "rs-new"
    assert verify_with(anonymous.get(URL).content.decode(), token)["sub"] == str(user.pk)


# --- the rotation of docs/jwks.md, stage by stage ------------------------------------------------

OLD, NEW = ("k-2026-01", "ES256", "ec-old"), ("k-2026-07", "ES256", "ec-new")
STAGES = [
    ("0 before", [signer(*OLD)], ["k-2026-01"]),
    ("1 publish the new key (verify-only)", [signer(*OLD), verifier(*NEW)], ["k-2026-01", "k-2026-07"]),
    ("2 the new key signs, the old one verifies", [signer(*NEW), verifier(*OLD)], ["k-2026-07", "k-2026-01"]),
    ("3 the old key removed", [signer(*NEW)], ["k-2026-07"]),
]


def test_each_stage_of_a_rotation_publishes_the_keys_it_should(anonymous: Any, settings: Any) -> None:
    for stage, keys, kids in STAGES:
        settings.DUALAUTH_JWT_KEYS = keys
        assert published(anonymous.get(URL)) == kids, stage


def test_a_token_of_the_old_key_verifies_while_the_old_key_is_published(auth_client: AuthClient, anonymous: Any,
                                                                       user: Any, settings: Any) -> None:
    issued: dict[str, str] = {}
    for stage, keys, _ in STAGES:
        settings.DUALAUTH_JWT_KEYS = keys
        assert auth_client.login().status_code == 200
        assert auth_client.access_token is not None
        issued[stage] = auth_client.access_token
        jwks = anonymous.get(URL).content.decode()
        # Every token issued so far verifies at the resource server exactly while its key is published.
        for when, token in issued.items():
            kid = jwt.get_unverified_header(token)["kid"]
            if kid in published(anonymous.get(URL)):
                assert verify_with(jwks, token)["sub"] == str(user.pk), (stage, when)
            else:
                assert stage.startswith("3") and kid == "k-2026-01"
                with pytest.raises(StopIteration):
                    verify_with(jwks, token)
    # The stage that signs with the new key published it one stage earlier: no token of a kid
    # the resource servers could not have fetched.
    assert jwt.get_unverified_header(issued[STAGES[2][0]])["kid"] in STAGES[1][2]


# --- system checks -------------------------------------------------------------------------------

def messages(id_: str) -> list[Any]:
    return [m for m in check_settings() if m.id == id_]


@pytest.mark.parametrize("value", [timedelta(seconds=-1), -5, "soon", None])
def test_e014_refuses_a_max_age_that_is_not_a_duration(settings: Any, value: Any) -> None:
    settings.DUALAUTH_JWKS_MAX_AGE = value
    assert [type(m) for m in messages("dualauth.E014")] == [Error]


@pytest.mark.parametrize("value", [timedelta(minutes=5), 0, 3600, "60"])
def test_e014_accepts_durations(settings: Any, value: Any) -> None:
    settings.DUALAUTH_JWKS_MAX_AGE = value
    assert not messages("dualauth.E014")


def test_w009_warns_when_an_hmac_key_signs_while_asymmetric_keys_are_published(settings: Any) -> None:
    settings.DUALAUTH_JWT_KEYS = [HMAC, verifier("rs", "RS256", "rsa1")]
    [warning] = messages("dualauth.W009")
    assert isinstance(warning, Warning) and "'hs'" in warning.msg


@pytest.mark.parametrize("keys", [[], [HMAC], MIXED, [signer("rs", "RS256", "rsa1"), HMAC]],
                         ids=["derived", "hmac-only", "asymmetric-signs", "asymmetric-signs-hmac-verifies"])
def test_w009_is_silent_when_the_published_set_verifies_the_tokens_or_nothing_is_published(
        settings: Any, keys: list[Any]) -> None:
    settings.DUALAUTH_JWT_KEYS = keys
    assert not messages("dualauth.W009")
