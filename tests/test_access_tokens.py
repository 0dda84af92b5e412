"""Access JWT validation, catalogue group A: JWT-01 .. JWT-13.

Every forged token is presented to a protected endpoint (``/api/whoami`` under DRF's own
exception handler and ``/auth/me`` under ours) the way each delivery presents tokens: the
``cookie`` client replaces its access cookie, the ``bearer`` client sends ``Authorization:
Bearer``. Forgeries start from a token the server accepts (``test_forged_baseline_is_accepted``)
and change one thing, so each refusal is owed to the check under test.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import socket
import time
import uuid
from dataclasses import dataclass
from datetime import timedelta
from functools import cache
from typing import Any
from unittest import mock

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from django.core import checks
from freezegun import freeze_time
from jwt.algorithms import RSAAlgorithm
from jwt.utils import base64url_decode, base64url_encode

from django_dualauth.conf import dualauth_settings, snapshot
from django_dualauth.delivery import access_cookie_name, refresh_cookie_name
from django_dualauth.exceptions import AccessTokenInvalid
from django_dualauth.models import AuthSession
from django_dualauth.services import access_tokens
from django_dualauth.services.access_tokens import SigningKey, decode_access_token, signing_keys
from tests.conftest import AuthClient

pytestmark = pytest.mark.django_db

PROTECTED = ["/api/whoami", "/auth/me"]
INVALID = "INVALID_ACCESS_TOKEN"
REVOKED = "SESSION_REVOKED"
DROP = object()  # marks a claim or header parameter to remove
P256_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551


# --- keys ------------------------------------------------------------------------------------

@cache
def _rsa(bits: int = 2048) -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=bits)


@cache
def _ec() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


@cache
def _ed() -> ed25519.Ed25519PrivateKey:
    return ed25519.Ed25519PrivateKey.generate()


def _private_pem(key: Any) -> str:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode()


def _public_pem(key: Any) -> str:
    return key.public_key().public_bytes(serialization.Encoding.PEM,
                                         serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def _asymmetric_entry(kid: str, algorithm: str, key: Any) -> dict[str, str]:
    return {"kid": kid, "algorithm": algorithm, "private_key": _private_pem(key),
            "public_key": _public_pem(key)}


HS_SECRET = "h" * 16 + "s" * 16 + "0123456789abcdef"  # 48 bytes, configured HS256 key

DEPLOYMENTS: dict[str, Any] = {
    "derived-HS256": lambda: [],
    "HS256": lambda: [{"kid": "hs1", "algorithm": "HS256", "secret": HS_SECRET}],
    "RS256": lambda: [_asymmetric_entry("rs1", "RS256", _rsa())],
    "ES256": lambda: [_asymmetric_entry("es1", "ES256", _ec())],
    "EdDSA": lambda: [_asymmetric_entry("ed1", "EdDSA", _ed())],
}


# --- token forging -------------------------------------------------------------------------

def b64(data: bytes) -> str:
    return base64url_encode(data).decode()


def b64json(value: Any) -> str:
    return b64(json.dumps(value, separators=(",", ":")).encode())


def compact(header: Any, payload: Any, signature: bytes = b"") -> str:
    """A compact JWS from raw parts, for headers PyJWT refuses to write."""
    return f"{b64json(header)}.{b64json(payload)}.{b64(signature)}"


def hs256(header: Any, payload: Any, secret: bytes) -> str:
    """An HS256 token MAC'd by hand with ``secret`` (any bytes, PEM and DER included)."""
    signing_input = f"{b64json(header)}.{b64json(payload)}"
    mac = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64(mac)}"


def _merge(base: dict[str, Any], changes: dict[str, Any] | None) -> dict[str, Any]:
    merged = {**base, **(changes or {})}
    return {k: v for k, v in merged.items() if v is not DROP}


@dataclass
class LoggedIn:
    client: AuthClient
    user: Any
    token: str

    @property
    def claims(self) -> dict[str, Any]:
        return jwt.decode(self.token, options={"verify_signature": False})

    @property
    def header(self) -> dict[str, Any]:
        return jwt.get_unverified_header(self.token)

    @property
    def key(self) -> SigningKey:
        return next(k for k in signing_keys() if k.signing_key is not None)

    def forge(self, claims: dict[str, Any] | None = None, header: dict[str, Any] | None = None,
              *, key: Any = None, algorithm: str | None = None) -> str:
        """This session's token with ``claims``/``header`` changed, signed with the server's key."""
        payload = _merge(self.claims, claims)
        headers = _merge({"kid": self.key.kid, "typ": "at+jwt"}, header)
        headers.setdefault("typ", None)  # a dropped typ must not come back as PyJWT's "JWT"
        return jwt.encode(payload, self.key.signing_key if key is None else key,
                          algorithm=algorithm or self.key.algorithm, headers=headers)

    def forge_raw(self, header: dict[str, Any], claims: dict[str, Any] | None = None) -> str:
        """HS256 with the server's own HMAC key and a header PyJWT would not write."""
        assert self.key.algorithm == "HS256"
        return hs256(_merge({"alg": "HS256", "kid": self.key.kid, "typ": "at+jwt"}, header),
                     _merge(self.claims, claims), self.key.signing_key)

    def get(self, path: str, token: str) -> Any:
        return present(self.client, path, token)


def present(client: AuthClient, path: str, token: str) -> Any:
    """GET ``path`` with ``token`` in the channel this client's delivery uses."""
    if client.is_cookie:
        client.client.cookies[access_cookie_name()] = token
        return client.client.get(path)
    return client.client.get(path, HTTP_AUTHORIZATION=f"Bearer {token}")


def assert_refused(response: Any, code: str = INVALID) -> None:
    assert response.status_code == 401, (response.status_code, response.content[:300])
    assert response["WWW-Authenticate"].startswith("Bearer"), response.get("WWW-Authenticate")
    body = response.json()
    assert set(body) == {"error", "code"}, body
    assert body["code"] == code, body
    if code == INVALID:
        assert 'error="invalid_token"' in response["WWW-Authenticate"]


def assert_ok(response: Any, user: Any) -> None:
    assert response.status_code == 200, response.content[:300]
    body = response.json()
    assert body.get("id", body.get("sub")) == str(user.pk), body


# --- fixtures --------------------------------------------------------------------------------

@pytest.fixture
def deployment(settings: Any) -> str:
    """The key configuration; classes override it. Default: the key derived from SECRET_KEY."""
    return "derived-HS256"


@pytest.fixture(params=PROTECTED)
def path(request: Any) -> str:
    return request.param  # type: ignore[no-any-return]


@pytest.fixture
def logged_in(auth_client: AuthClient, user: Any, deployment: str) -> LoggedIn:
    response = auth_client.login()
    assert response.status_code == 200, response.content
    assert auth_client.access_token
    return LoggedIn(auth_client, user, auth_client.access_token)


@pytest.fixture
def other_user(user_factory: Any) -> Any:
    return user_factory(email="mallory@example.com")


def test_forged_baseline_is_accepted(logged_in: LoggedIn, path: str) -> None:
    """The forging helpers produce tokens the server accepts: every refusal below is owed to
    the one change each test makes."""
    assert_ok(logged_in.get(path, logged_in.token), logged_in.user)
    assert_ok(logged_in.get(path, logged_in.forge()), logged_in.user)
    assert_ok(logged_in.get(path, logged_in.forge({"jti": uuid.uuid4().hex})), logged_in.user)
    assert_ok(logged_in.get(path, logged_in.forge_raw({})), logged_in.user)


def test_no_credential_is_401_bearer_not_403(auth_client: AuthClient, path: str) -> None:
    response = auth_client.client.get(path)
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")


# --- JWT-01 alg none -------------------------------------------------------------------------

@pytest.mark.parametrize("alg", ["none", "None", "NONE", "nOnE"])
@pytest.mark.parametrize("signature", [b"", b"\x01" * 32], ids=["empty-sig", "random-sig"])
def test_jwt01_alg_none_is_refused_without_any_query(logged_in: LoggedIn, path: str, alg: str,
                                                     signature: bytes,
                                                     django_assert_num_queries: Any) -> None:
    token = compact({"alg": alg, "typ": "at+jwt", "kid": logged_in.key.kid}, logged_in.claims, signature)
    with django_assert_num_queries(0):
        response = logged_in.get(path, token)
    assert_refused(response)


def test_jwt01_alg_none_written_by_pyjwt_is_refused(logged_in: LoggedIn, path: str) -> None:
    token = jwt.encode(logged_in.claims, None, algorithm="none",
                       headers={"kid": logged_in.key.kid, "typ": "at+jwt"})
    assert_refused(logged_in.get(path, token))


def test_jwt01_decode_passes_one_fixed_algorithm(logged_in: LoggedIn) -> None:
    with mock.patch.object(access_tokens._DECODER, "decode", wraps=access_tokens._DECODER.decode) as spy:
        decode_access_token(logged_in.token)
    assert spy.call_args.kwargs["algorithms"] == ["HS256"]


@pytest.mark.parametrize("alg", ["none", "HS512", "RS256", "hs256"])
def test_jwt01_alg_other_than_the_keys_is_refused_before_verification(logged_in: LoggedIn, alg: str) -> None:
    token = compact({"alg": alg, "typ": "at+jwt", "kid": logged_in.key.kid}, logged_in.claims, b"\x01" * 32)
    with mock.patch.object(access_tokens._DECODER, "decode") as spy, pytest.raises(AccessTokenInvalid):
        decode_access_token(token)
    spy.assert_not_called()


# --- JWT-02 algorithm / key-type confusion -------------------------------------------------------

class TestAlgorithmConfusionAgainstRS256:
    @pytest.fixture
    def deployment(self, settings: Any) -> str:
        settings.DUALAUTH_JWT_KEYS = DEPLOYMENTS["RS256"]()
        return "RS256"

    @staticmethod
    def public_key_encodings() -> dict[str, bytes]:
        public = _rsa().public_key()
        return {
            "pem": public.public_bytes(serialization.Encoding.PEM,
                                       serialization.PublicFormat.SubjectPublicKeyInfo),
            "pkcs1-pem": public.public_bytes(serialization.Encoding.PEM,
                                             serialization.PublicFormat.PKCS1),
            "ssh": public.public_bytes(serialization.Encoding.OpenSSH,
                                       serialization.PublicFormat.OpenSSH),
            "der": public.public_bytes(serialization.Encoding.DER,
                                       serialization.PublicFormat.SubjectPublicKeyInfo),
            "jwk": RSAAlgorithm.to_jwk(public).encode(),
        }

    @pytest.mark.parametrize("encoding", ["pem", "pkcs1-pem", "ssh", "der", "jwk"])
    def test_jwt02_hs256_macd_with_the_public_key_is_refused(self, logged_in: LoggedIn, path: str,
                                                             encoding: str) -> None:
        assert logged_in.header["alg"] == "RS256"
        assert_ok(logged_in.get(path, logged_in.token), logged_in.user)
        secret = self.public_key_encodings()[encoding]
        token = hs256({"alg": "HS256", "typ": "at+jwt", "kid": "rs1"}, logged_in.claims, secret)
        assert_refused(logged_in.get(path, token))


def test_jwt02_rs256_token_against_hs256_deployment_is_refused(logged_in: LoggedIn, path: str) -> None:
    attacker = _rsa()
    token = logged_in.forge(key=attacker, algorithm="RS256")
    assert jwt.get_unverified_header(token)["kid"] == logged_in.key.kid
    assert_refused(logged_in.get(path, token))


@pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")
def test_jwt02_other_hmac_algorithm_with_the_right_key_is_refused(logged_in: LoggedIn, path: str) -> None:
    """One algorithm per key: the HS256 key does not verify an HS512 MAC made with it."""
    token = logged_in.forge(algorithm="HS512")
    assert_refused(logged_in.get(path, token))


# --- JWT-03 untrusted header parameters ----------------------------------------------------------

UNTRUSTED_HEADERS = {
    "jwk": {"jwk": json.loads(RSAAlgorithm.to_jwk(_rsa().public_key()))},
    "jku": {"jku": "https://attacker.example/jwks.json"},
    "x5u": {"x5u": "https://attacker.example/cert.pem"},
    "x5c": {"x5c": ["MIIBszCCAVmgAwIBAgIUW"]},
    "crit-unknown": {"crit": ["x"], "x": 1},
    "crit-empty": {"crit": []},
}


@pytest.fixture
def no_network() -> Any:
    with mock.patch.object(socket, "create_connection", side_effect=AssertionError("network")) as m:
        yield m


@pytest.mark.parametrize("name", list(UNTRUSTED_HEADERS))
def test_jwt03_untrusted_header_parameter_is_refused(logged_in: LoggedIn, path: str, name: str,
                                                     no_network: Any) -> None:
    # Signed with the server's real key: only the header parameter is wrong.
    token = logged_in.forge_raw(UNTRUSTED_HEADERS[name])
    assert_refused(logged_in.get(path, token))
    no_network.assert_not_called()


def test_jwt03_token_signed_with_its_own_embedded_jwk_is_refused(logged_in: LoggedIn, path: str,
                                                                 no_network: Any) -> None:
    attacker = _rsa()
    token = logged_in.forge(header=UNTRUSTED_HEADERS["jwk"], key=attacker, algorithm="RS256")
    assert_refused(logged_in.get(path, token))
    jku = logged_in.forge(header=UNTRUSTED_HEADERS["jku"], key=attacker, algorithm="RS256")
    assert_refused(logged_in.get(path, jku))
    no_network.assert_not_called()


# --- JWT-04 kid injection ------------------------------------------------------------------

KIDS = {
    "path-traversal": "../../../../dev/null",
    "sql": "' OR '1'='1",
    "huge": "k" * 10_000,
    "int": 1,
    "object": {"kid": "x"},
    "list": ["x"],
    "unknown": "dk-000000000000",
    "empty": "",
    "missing": DROP,
    "null": None,
}


@pytest.mark.parametrize("name", list(KIDS))
def test_jwt04_kid_injection_is_refused(logged_in: LoggedIn, path: str, name: str) -> None:
    token = logged_in.forge_raw({"kid": KIDS[name]})  # correctly MAC'd with the real key
    assert_refused(logged_in.get(path, token))


@pytest.mark.parametrize("name", list(KIDS))
def test_jwt04_key_lookup_runs_no_query_and_no_file_access(logged_in: LoggedIn, name: str,
                                                           django_assert_num_queries: Any) -> None:
    token = logged_in.forge_raw({"kid": KIDS[name]})
    with django_assert_num_queries(0), mock.patch("builtins.open", side_effect=AssertionError("open")):
        with pytest.raises(AccessTokenInvalid):
            decode_access_token(token)


# --- JWT-05 audience / issuer --------------------------------------------------------------

class TestAudienceAndIssuer:
    ISSUER = "https://auth.example.com"
    AUDIENCE = "https://api.example.com"

    @pytest.fixture
    def deployment(self, settings: Any) -> str:
        settings.DUALAUTH_JWT_ISSUER = self.ISSUER
        settings.DUALAUTH_JWT_AUDIENCE = self.AUDIENCE
        return "derived-HS256"

    @pytest.mark.parametrize("claims", [
        {"aud": DROP},
        {"aud": "https://other-service.example.com"},
        {"aud": ["https://other-service.example.com", "https://third.example.com"]},
        {"aud": ""},
        {"aud": "https://api.example"},
        {"iss": DROP},
        {"iss": "https://evil.example.com"},
        {"iss": "https://auth.example"},  # a substring of ours
        {"iss": "https://auth.example.com.evil.example"},  # ours is a substring of it
        {"iss": ""},
    ], ids=["no-aud", "foreign-aud", "aud-list-without-ours", "empty-aud", "aud-prefix",
            "no-iss", "foreign-iss", "iss-substring", "iss-superstring", "empty-iss"])
    def test_jwt05_wrong_audience_or_issuer_is_refused(self, logged_in: LoggedIn, path: str,
                                                       claims: dict[str, Any]) -> None:
        assert logged_in.claims["iss"] == self.ISSUER and logged_in.claims["aud"] == self.AUDIENCE
        assert_ok(logged_in.get(path, logged_in.forge()), logged_in.user)
        assert_refused(logged_in.get(path, logged_in.forge(claims)))


# --- JWT-06 token-type confusion -------------------------------------------------------------

@pytest.mark.parametrize(("header", "claims"), [
    ({"typ": "JWT"}, {}),
    ({"typ": None}, {}),
    ({"typ": "2fa+jwt"}, {}),
    ({}, {"token_use": DROP}),
    ({}, {"token_use": "2fa"}),
    ({}, {"token_use": "refresh"}),
    ({}, {"token_use": "magic_link"}),
    ({"typ": "JWT"}, {"token_use": "2fa"}),  # the shape of any other JWT signed by this key
], ids=["typ-JWT", "no-typ", "typ-2fa", "no-token_use", "use-2fa", "use-refresh", "use-magic",
        "temp-token-shape"])
def test_jwt06_other_token_types_are_not_access_tokens(logged_in: LoggedIn, path: str,
                                                       header: dict[str, Any], claims: dict[str, Any]) -> None:
    assert_refused(logged_in.get(path, logged_in.forge(claims, header)))


def test_jwt06_access_token_is_not_a_refresh_token(logged_in: LoggedIn) -> None:
    client = logged_in.client
    before = AuthSession.objects.get()
    if client.is_cookie:
        client.client.cookies[refresh_cookie_name()] = logged_in.token
        response = client.post("/auth/refresh")
    else:
        response = client.post("/auth/refresh", {"refreshToken": logged_in.token})
    assert response.status_code == 401, response.content
    assert response.json()["code"] == "INVALID_REFRESH_TOKEN"
    after = AuthSession.objects.get()
    assert (after.generation, after.refresh_digest) == (before.generation, before.refresh_digest)


# --- JWT-07 expiry ---------------------------------------------------------------------------

def test_jwt07_expired_token_is_refused(logged_in: LoggedIn, path: str) -> None:
    now = int(time.time())
    assert_refused(logged_in.get(path, logged_in.forge({"exp": now - 1})))
    assert_refused(logged_in.get(path, logged_in.forge({"exp": now})))


def test_jwt07_leeway_is_honoured_and_bounded(logged_in: LoggedIn, path: str, settings: Any) -> None:
    settings.DUALAUTH_JWT_LEEWAY = timedelta(seconds=30)
    now = int(time.time())
    assert_refused(logged_in.get(path, logged_in.forge({"exp": now - 31})))
    assert_ok(logged_in.get(path, logged_in.forge({"exp": now - 20})), logged_in.user)


def test_jwt07_default_leeway_is_zero_and_small() -> None:
    assert dualauth_settings.JWT_LEEWAY == timedelta(0)


def test_jwt07_one_second_before_expiry_is_accepted(logged_in: LoggedIn, path: str) -> None:
    with freeze_time() as frozen:
        now = int(time.time())
        token = logged_in.forge({"exp": now + 1, "iat": now})
        assert_ok(logged_in.get(path, token), logged_in.user)
        frozen.tick(timedelta(seconds=1))
        assert_refused(logged_in.get(path, token))


@pytest.mark.parametrize("claims", [
    {"exp": DROP},
    {"exp": "abc"},
    {"exp": str(int(time.time()) + 3600)},  # a number in a string is not a NumericDate
    {"exp": None},
    {"exp": True},
    {"exp": [int(time.time()) + 3600]},
    {"iat": DROP},
    {"iat": str(int(time.time()))},
    {"jti": DROP},
    {"jti": 123},
    {"sub": DROP},
    {"sub": 1},
    {"sid": DROP},
    {"sid": "not-a-uuid"},
    {"sid": 1},
    {"nbf": "0"},
], ids=["no-exp", "exp-abc", "exp-numeric-string", "exp-null", "exp-true", "exp-list",
        "no-iat", "iat-string", "no-jti", "jti-int", "no-sub", "sub-int", "no-sid", "sid-not-uuid",
        "sid-int", "nbf-string"])
def test_jwt07_required_claims_must_be_present_and_well_typed(logged_in: LoggedIn, path: str,
                                                              claims: dict[str, Any]) -> None:
    assert_refused(logged_in.get(path, logged_in.forge(claims)))


# --- JWT-08 not before / issued in the future ---------------------------------------------------

@pytest.mark.parametrize("claim", ["nbf", "iat"])
def test_jwt08_token_from_the_future_is_refused(logged_in: LoggedIn, path: str, claim: str) -> None:
    now = int(time.time())
    assert_ok(logged_in.get(path, logged_in.forge({claim: now - 5})), logged_in.user)
    assert_refused(logged_in.get(path, logged_in.forge({claim: now + 60})))


# --- JWT-09 tampering ------------------------------------------------------------------------

def _with_payload(token: str, payload: dict[str, Any]) -> str:
    header, _, signature = token.split(".")
    return f"{header}.{b64json(payload)}.{signature}"


def test_jwt09_changed_claims_with_the_old_signature_are_refused(logged_in: LoggedIn, path: str,
                                                                 other_user: Any) -> None:
    claims = logged_in.claims
    for change in ({"sub": str(other_user.pk)}, {"role": "admin"}, {"is_staff": True},
                   {"exp": claims["exp"] + 3600}):
        assert_refused(logged_in.get(path, _with_payload(logged_in.token, {**claims, **change})))


def test_jwt09_spliced_payload_of_another_token_is_refused(logged_in: LoggedIn, path: str,
                                                           other_user: Any, client_factory: Any) -> None:
    mallory = client_factory("bearer")
    assert mallory.login(email=other_user.email).status_code == 200
    victim_payload = logged_in.token.split(".")[1]
    header, _, signature = mallory.access_token.split(".")
    spliced = f"{header}.{victim_payload}.{signature}"
    assert_refused(present(mallory, path, spliced))
    # and the other way round: Mallory's payload under the victim's signature
    header, _, signature = logged_in.token.split(".")
    assert_refused(logged_in.get(path, f"{header}.{mallory.access_token.split('.')[1]}.{signature}"))


def test_jwt09_flipped_signature_bit_is_refused(logged_in: LoggedIn, path: str) -> None:
    header, payload, signature = logged_in.token.split(".")
    raw = bytearray(base64url_decode(signature))
    for index in (0, len(raw) // 2, len(raw) - 1):
        flipped = bytearray(raw)
        flipped[index] ^= 0x01
        assert_refused(logged_in.get(path, f"{header}.{payload}.{b64(bytes(flipped))}"))


def test_jwt09_token_signed_with_another_secret_is_refused(logged_in: LoggedIn, path: str) -> None:
    assert_refused(logged_in.get(path, logged_in.forge(key=b"another-secret-of-32-bytes-length!")))


def test_jwt09_authentic_token_naming_another_user_is_refused(logged_in: LoggedIn, path: str,
                                                              other_user: Any, client_factory: Any) -> None:
    """A correctly signed token whose ``sub`` and ``sid`` disagree never authenticates anyone."""
    mallory = client_factory("bearer")
    mallory.login(email=other_user.email)
    mallory_sid = jwt.decode(mallory.access_token, options={"verify_signature": False})["sid"]
    assert_refused(logged_in.get(path, logged_in.forge({"sub": str(other_user.pk)})))
    assert_refused(logged_in.get(path, logged_in.forge({"sid": mallory_sid})))
    assert_refused(logged_in.get(path, logged_in.forge({"sid": str(uuid.uuid4())})))


# --- JWT-10 revocation vs malleability -------------------------------------------------------

def _ecdsa_twin(token: str) -> str:
    header, payload, signature = token.split(".")
    raw = base64url_decode(signature)
    r, s = raw[:32], int.from_bytes(raw[32:], "big")
    return f"{header}.{payload}.{b64(r + (P256_ORDER - s).to_bytes(32, 'big'))}"


def _non_canonical(token: str) -> str:
    header, payload, signature = token.split(".")
    last = signature[-1]
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    # An ES256 signature is 64 bytes: the last of its 86 characters has 4 unused low bits.
    variant = alphabet[alphabet.index(last) ^ 0x01]
    return f"{header}.{payload}.{signature[:-1]}{variant}"


class TestRevocationIsKeyedOnTheSession:
    @pytest.fixture(params=["database", "cache"])
    def deployment(self, request: Any, settings: Any) -> str:
        settings.DUALAUTH_JWT_KEYS = DEPLOYMENTS["ES256"]()
        settings.DUALAUTH_REVOCATION_CHECK = request.param
        return "ES256"

    def test_jwt10_revoked_session_refuses_the_token_and_its_malleable_twins(self, logged_in: LoggedIn,
                                                                              path: str) -> None:
        token = logged_in.token
        twin = _ecdsa_twin(token)
        assert twin != token
        assert_ok(logged_in.get(path, twin), logged_in.user)  # an authentic twin until revoked
        assert logged_in.client.logout().status_code == 200
        assert AuthSession.objects.get().revoked_at is not None
        assert_refused(logged_in.get(path, token), REVOKED)
        assert_refused(logged_in.get(path, twin), REVOKED)
        assert_refused(logged_in.get(path, logged_in.forge({"jti": uuid.uuid4().hex})), REVOKED)
        response = logged_in.get(path, _non_canonical(token))
        assert response.status_code == 401
        assert response.json()["code"] in {INVALID, REVOKED}


# --- JWT-11 oversized tokens ------------------------------------------------------------------

@pytest.mark.parametrize("size", [16 * 1024, 1024 * 1024], ids=["16KiB", "1MiB"])
def test_jwt11_oversized_token_is_refused_before_decoding(logged_in: LoggedIn, path: str, size: int) -> None:
    signed = logged_in.forge({"pad": "x" * size})  # authentic: only the size is wrong
    assert len(signed) > size
    garbage = "a" * size
    responses = []
    # No base64 and no JSON decoding at all, whichever helper the package uses for them.
    with mock.patch("binascii.a2b_base64", side_effect=AssertionError("base64")) as b64_spy, \
            mock.patch("json.loads", side_effect=AssertionError("json")) as json_spy, \
            mock.patch.object(access_tokens._DECODER, "decode") as decode_spy:
        for token in (signed, garbage):
            responses.append(logged_in.get(path, token))
    b64_spy.assert_not_called()
    json_spy.assert_not_called()
    decode_spy.assert_not_called()
    for response in responses:
        assert_refused(response)


def test_jwt11_length_cap_is_the_setting(logged_in: LoggedIn, path: str, settings: Any) -> None:
    token = logged_in.forge()
    settings.DUALAUTH_ACCESS_TOKEN_MAX_LENGTH = len(token)
    assert_ok(logged_in.get(path, token), logged_in.user)
    settings.DUALAUTH_ACCESS_TOKEN_MAX_LENGTH = len(token) - 1
    assert_refused(logged_in.get(path, token))


def test_jwt11_access_cookie_over_4096_bytes_is_refused(client_factory: Any, user: Any, path: str) -> None:
    browser = client_factory("cookie")
    assert browser.login().status_code == 200
    assert_refused(present(browser, path, browser.access_token + "A" * 4096))


# --- JWT-12 garbage Authorization headers -----------------------------------------------------

def _garbage_headers() -> dict[str, str]:
    header = b64json({"alg": "HS256", "typ": "at+jwt", "kid": "x"})
    sig = b64(b"\x00" * 32)
    return {
        "bearer-only": "Bearer",
        "bearer-space": "Bearer ",
        "bearer-spaces": "Bearer    ",
        "one-segment": "Bearer a",
        "two-segments": "Bearer a.b",
        "four-segments": "Bearer a.b.c.d",
        "two-tokens": "Bearer a b",
        "latin1-bytes": "Bearer \xff\xfe\xfd.\xe9.\xe8",
        "utf8-as-latin1": "Bearer " + "ключ.ключ.ключ".encode().decode("latin-1"),
        "nul": "Bearer a\x00b.c.d",
        "control": "Bearer a.b.c\r\nX-Injected: 1",
        "non-json-header": f"Bearer {b64(b'not json')}.{b64json({})}.{sig}",
        "array-header": f"Bearer {b64json([])}.{b64json({})}.{sig}",
        "string-header": f"Bearer {b64json('x')}.{b64json({})}.{sig}",
        "array-payload": f"Bearer {header}.{b64json([1, 2])}.{sig}",
        "number-payload": f"Bearer {header}.{b64json(123)}.{sig}",
        "non-json-payload": f"Bearer {header}.{b64(b'{no')}.{sig}",
        "bad-base64": "Bearer a!b.c$d.e%f",
        "padding": "Bearer YQ==.YQ==.YQ==",
    }


GARBAGE = _garbage_headers()


@pytest.mark.parametrize("name", list(GARBAGE))
def test_jwt12_garbage_bearer_header_is_401_and_never_falls_back_to_the_cookie(
        logged_in: LoggedIn, path: str, name: str) -> None:
    # The cookie client still holds a valid access cookie: a fallback would answer 200.
    response = logged_in.client.client.get(path, HTTP_AUTHORIZATION=GARBAGE[name])
    assert_refused(response)


def test_jwt12_authentic_token_with_string_exp_payload_is_refused(logged_in: LoggedIn, path: str) -> None:
    assert_refused(logged_in.get(path, logged_in.forge({"exp": "abc"})))


@pytest.mark.parametrize("value", ["", "Basic dXNlcjpwYXNz", "Token abc", "Bearer\tabc", "Digest x=1"],
                         ids=["empty", "basic", "token", "tab", "digest"])
def test_jwt12_other_scheme_is_401_with_bearer_challenge_and_no_cookie_fallback(
        logged_in: LoggedIn, path: str, value: str) -> None:
    response = logged_in.client.client.get(path, HTTP_AUTHORIZATION=value)
    assert response.status_code == 401, response.content
    assert response["WWW-Authenticate"].startswith("Bearer")
    if path == "/auth/me":
        assert response.json() == {"error": "Authentication required", "code": "NOT_AUTHENTICATED"}


def test_jwt12_lower_case_scheme_and_surrounding_space_are_accepted(logged_in: LoggedIn, path: str) -> None:
    for value in (f"bearer {logged_in.token}", f"BEARER {logged_in.token}", f"Bearer  {logged_in.token} "):
        assert_ok(logged_in.client.client.get(path, HTTP_AUTHORIZATION=value), logged_in.user)


def test_jwt12_valid_header_wins_over_a_garbage_cookie(logged_in: LoggedIn, path: str) -> None:
    logged_in.client.client.cookies[access_cookie_name()] = "garbage"
    response = logged_in.client.client.get(path, HTTP_AUTHORIZATION=f"Bearer {logged_in.token}")
    assert_ok(response, logged_in.user)


@pytest.mark.parametrize("cookie", ["", "a", "a.b", "a b c", "\"a.b.c\"", "a.b.c.d", "x" * 5000])
def test_jwt12_garbage_access_cookie_is_401(client_factory: Any, user: Any, path: str, cookie: str) -> None:
    browser = client_factory("cookie")
    browser.login()
    response = browser.client.get(path, HTTP_COOKIE=f"{access_cookie_name()}={cookie}")
    assert response.status_code == 401, response.content
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_jwt12_duplicated_access_cookie_is_refused(client_factory: Any, user: Any, path: str) -> None:
    browser = client_factory("cookie")
    browser.login()
    name = access_cookie_name()
    response = browser.client.get(path, HTTP_COOKIE=f"{name}={browser.access_token}; {name}=planted")
    assert_refused(response)


# --- JWT-13 key strength; verification is never optional ---------------------------------------

def _key_errors() -> list[str]:
    return [m.msg for m in checks.run_checks() if m.id == "dualauth.E004"]


@pytest.mark.parametrize("keys", [
    [{"kid": "k", "algorithm": "HS256", "secret": "short-secret"}],
    [{"kid": "k", "algorithm": "HS256", "secret": "x" * 31}],
    [{"kid": "k", "algorithm": "HS512", "secret": "x" * 63}],
    [{"kid": "k", "algorithm": "RS256", "public_key": _public_pem(_rsa())}],
    [{"kid": "k", "algorithm": "none", "secret": "x" * 64}],
    [{"kid": "", "algorithm": "HS256", "secret": "x" * 64}],
    [{"kid": "k", "algorithm": "RS256", "private_key": _private_pem(_rsa(1024))}],
    [{"kid": "k", "algorithm": "HS256", "secret": "x" * 64}, {"kid": "r", "algorithm": "RS256"}],
], ids=["hs-short", "hs256-31-bytes", "hs512-63-bytes", "verify-only", "alg-none", "no-kid",
        "rsa-1024", "no-key-material"])
def test_jwt13_weak_or_incomplete_key_configuration_is_a_system_check_error(settings: Any,
                                                                            keys: list[Any]) -> None:
    settings.DUALAUTH_JWT_KEYS = keys
    assert _key_errors()


def test_jwt13_secret_key_reused_as_the_jwt_secret_is_an_error(settings: Any) -> None:
    settings.DUALAUTH_JWT_KEYS = [{"kid": "k", "algorithm": "HS256", "secret": settings.SECRET_KEY}]
    assert _key_errors()


@pytest.mark.parametrize("secret", ["django-insecure-" + "a1b2c3d4" * 6, "short", "a" * 64])
def test_jwt13_weak_secret_key_for_derived_keys_is_an_error(settings: Any, secret: str) -> None:
    settings.SECRET_KEY = secret
    settings.DEBUG = False
    assert _key_errors()


@pytest.mark.parametrize("name", list(DEPLOYMENTS))
def test_jwt13_strong_configurations_pass_the_check(settings: Any, name: str) -> None:
    settings.DUALAUTH_JWT_KEYS = DEPLOYMENTS[name]()
    assert _key_errors() == []


class TestEveryDeploymentVerifiesSignatures:
    @pytest.fixture(params=list(DEPLOYMENTS))
    def deployment(self, request: Any, settings: Any) -> str:
        settings.DUALAUTH_JWT_KEYS = DEPLOYMENTS[request.param]()
        return request.param  # type: ignore[no-any-return]

    def test_jwt13_random_signature_is_refused(self, logged_in: LoggedIn, path: str, deployment: str) -> None:
        assert_ok(logged_in.get(path, logged_in.token), logged_in.user)
        header, payload, signature = logged_in.token.split(".")
        length = len(base64url_decode(signature))
        assert_refused(logged_in.get(path, f"{header}.{payload}.{b64(uuid.uuid4().bytes * (length // 16 + 1))}"))
        assert_refused(logged_in.get(path, f"{header}.{payload}."))


# --- remembered tokens (a token that verified is not re-parsed until it expires) ---------------

def test_a_remembered_token_still_expires_with_the_leeway(logged_in: LoggedIn, path: str, settings: Any) -> None:
    settings.DUALAUTH_JWT_LEEWAY = timedelta(seconds=30)
    with freeze_time() as frozen:
        now = int(time.time())
        token = logged_in.forge({"exp": now - 20, "iat": now - 60})
        assert_ok(logged_in.get(path, token), logged_in.user)
        assert_ok(logged_in.get(path, token), logged_in.user)  # remembered
        frozen.tick(timedelta(seconds=10))
        assert_refused(logged_in.get(path, token))


def test_a_remembered_token_is_verified_again_under_new_settings(logged_in: LoggedIn, path: str,
                                                                  settings: Any) -> None:
    assert_ok(logged_in.get(path, logged_in.token), logged_in.user)
    settings.DUALAUTH_JWT_AUDIENCE = "another-api"  # its audience claim no longer matches
    assert_refused(logged_in.get(path, logged_in.token))


def test_remembered_claims_are_a_copy_for_each_caller(logged_in: LoggedIn) -> None:
    decode_access_token(logged_in.token)
    first = decode_access_token(logged_in.token)  # from the memo
    first.claims["sub"] = "someone-else"
    first.claims["injected"] = True
    again = decode_access_token(logged_in.token)
    assert again.claims["sub"] == again.sub == str(logged_in.user.pk)
    assert "injected" not in again.claims
    assert again.claims is not first.claims


def test_remembered_tokens_are_bounded(logged_in: LoggedIn, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(access_tokens, "_VERIFIED_TOKENS_MAX", 2)
    memo = snapshot().token_verification.verified_tokens
    memo.clear()
    tokens = [logged_in.forge({"jti": str(uuid.uuid4())}) for _ in range(3)]
    for token in tokens:
        decode_access_token(token)
    assert len(memo) <= 2 and tokens[-1] in memo


def test_an_invalid_token_is_never_remembered(logged_in: LoggedIn) -> None:
    memo = snapshot().token_verification.verified_tokens
    forged = logged_in.forge({"exp": int(time.time()) - 5})
    with pytest.raises(AccessTokenInvalid):
        decode_access_token(forged)
    assert forged not in memo
    unexpired_only = decode_access_token(logged_in.token, verify_exp=False)
    assert unexpired_only.sub == str(logged_in.user.pk)
