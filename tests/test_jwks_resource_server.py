"""A resource server in another process verifies our access tokens through the published JWK set
(issue 18, JWKS): the example project under gunicorn with an RS256 key (``DUALAUTH_JWT_KEYS``
from its environment), and ``tests/jwks_resource_server.py``, which has no Django and no database
and knows the server only by its JWKS URL, through PyJWT's ``PyJWKClient``.

* a bearer login's token and a browser's access cookie (a same-site resource server receives it)
  verify; a tampered token, a token signed by a key that is not published, one whose ``kid`` is
  unknown and an ``alg`` confusion are refused;
* after a rotation (the server restarted with a new signing key, the old one verify-only) a new
  token's unknown ``kid`` makes the resource server fetch the set again, once, and verify it;
  the old tokens still verify.

Unmarked, so stage 1 (and 1b) of ``make test`` run it; nothing in it skips. Every process is
stopped by its pid.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.live_server import DEADLINE, Client, free_port, live_server, stop, wait_for_port

ROOT = Path(__file__).resolve().parents[1]
ISSUER, AUDIENCE = "https://example-project.local", "example-project-api"  # example_project/settings.py
ACCESS_COOKIE = "__Host-accessToken"  # DEBUG off: __Host- names
OLD_KID, NEW_KID = "rs-2026-01", "rs-2026-07"


def _rsa() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _private_pem(key: rsa.RSAPrivateKey) -> str:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode()


def _public_pem(key: rsa.RSAPrivateKey) -> str:
    return key.public_key().public_bytes(serialization.Encoding.PEM,
                                         serialization.PublicFormat.SubjectPublicKeyInfo).decode()


@contextmanager
def resource_server(jwks_url: str, tmp_path: Path) -> Iterator[str]:
    """``tests/jwks_resource_server.py`` on a free port, isolated (``python -I``: no project path,
    no PYTHON* variables) and without Django's settings or a database in its environment."""
    port = free_port()
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("DJANGO_", "DATABASE_", "DUALAUTH_", "REDIS_", "PYTHON"))}
    log = tmp_path / "resource-server.log"
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [sys.executable, "-I", str(ROOT / "tests" / "jwks_resource_server.py"), "--port", str(port),
             "--jwks", jwks_url, "--issuer", ISSUER, "--audience", AUDIENCE, "--cookie", ACCESS_COOKIE,
             # No wait between refetches on an unknown kid: the test restarts the server within PyJWKClient's
             # default 30 s cooldown (docs/jwks.md says what that means for a rotation).
             "--cooldown", "0"],
            env=env, cwd=tmp_path, stdout=out, stderr=subprocess.STDOUT)
    try:
        wait_for_port(port, proc, log)
        yield f"http://127.0.0.1:{port}"
    finally:
        stop(proc)


def call(url: str, headers: dict[str, str] | None = None, method: str = "GET") -> tuple[int, Any, Any]:
    """(status, JSON body or None, headers) of one request."""
    request = urllib.request.Request(url, headers=headers or {}, method=method)
    try:
        with urllib.request.urlopen(request, timeout=DEADLINE) as response:  # noqa: S310 - loopback
            raw, status, answer_headers = response.read(), response.status, response.headers
    except urllib.error.HTTPError as error:
        raw, status, answer_headers = error.read(), error.code, error.headers
    return status, json.loads(raw) if raw else None, answer_headers


def whoami(rs: str, token: str | None = None, *, cookie: str | None = None) -> tuple[int, Any]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    if cookie:
        headers["Cookie"] = cookie
    status, body, _ = call(rs + "/whoami", headers)
    return status, body


def fetches(rs: str) -> int:
    return int(call(rs + "/stats")[1]["fetches"])


def bearer_token(base: str) -> str:
    client = Client(base, "bearer")
    assert client.login().status == 200
    assert client.access is not None
    return client.access


def tampered(token: str) -> str:
    header, payload, signature = token.split(".")
    claims = json.loads(jwt.utils.base64url_decode(payload))
    claims["sub"] = "1" if claims["sub"] != "1" else "2"  # another user, the signature kept
    forged = jwt.utils.base64url_encode(json.dumps(claims, separators=(",", ":")).encode()).decode()
    return f"{header}.{forged}.{signature}"


def forged(token: str, key: Any, *, kid: str, algorithm: str = "RS256") -> str:
    """The token's claims, signed by ``key`` under ``kid``."""
    claims = jwt.decode(token, options={"verify_signature": False})
    return jwt.encode(claims, key, algorithm=algorithm, headers={"kid": kid, "typ": "at+jwt"})


def test_a_resource_server_in_another_process_verifies_our_tokens_through_the_jwk_set(tmp_path: Path) -> None:
    old, new, stranger = _rsa(), _rsa(), _rsa()
    port = free_port()  # one address across the restart: the resource server knows only the URL
    jwks_url = f"http://127.0.0.1:{port}/auth/.well-known/jwks.json"
    before = [{"kid": OLD_KID, "algorithm": "RS256", "private_key": _private_pem(old)}]
    after = [{"kid": NEW_KID, "algorithm": "RS256", "private_key": _private_pem(new)},
             {"kid": OLD_KID, "algorithm": "RS256", "public_key": _public_pem(old)}]

    with resource_server(jwks_url, tmp_path) as rs:
        with live_server(tmp_path, env={"DUALAUTH_JWT_KEYS": json.dumps(before)}, port=port) as base:
            status, jwks, headers = call(jwks_url)
            assert status == 200 and headers["Content-Type"] == "application/json"
            assert [k["kid"] for k in jwks["keys"]] == [OLD_KID] and "d" not in jwks["keys"][0]
            assert headers["Cache-Control"] == "public, max-age=300" and headers["ETag"]
            assert call(jwks_url, {"If-None-Match": headers["ETag"]})[0] == 304

            # A native app's bearer token.
            old_token = bearer_token(base)
            status, body = whoami(rs, old_token)
            assert (status, body["kid"]) == (200, OLD_KID)
            sub = body["sub"]
            assert fetches(rs) == 1

            # A browser's access cookie, which a same-site resource server receives with the request.
            browser = Client(base, "cookie")
            assert browser.login().status == 200 and browser.cookies.get(ACCESS_COOKIE)
            jar = "; ".join(f"{k}={v}" for k, v in browser.cookies.items())
            assert whoami(rs, cookie=jar) == (200, {"sub": sub, "kid": OLD_KID})

            # Refused: a changed claim, a key that is not published (under a published kid, and
            # under a kid of its own), the public key used as an HMAC secret, no token.
            assert whoami(rs, tampered(old_token))[0] == 401
            assert whoami(rs, forged(old_token, stranger, kid=OLD_KID)) == (401, {"error": "InvalidSignatureError"})
            assert whoami(rs, forged(old_token, stranger, kid="rs-stranger"))[0] == 401
            hmac = jwt.api_jws.PyJWS(algorithms=["HS256"])  # PyJWT itself refuses a PEM as an HMAC key
            confused = hmac.encode(jwt.utils.base64url_decode(old_token.split(".")[1]),
                                   b"x" * 32, algorithm="HS256", headers={"kid": OLD_KID, "typ": "at+jwt"})
            assert whoami(rs, confused)[0] == 401
            assert whoami(rs)[0] == 401
            assert whoami(rs, old_token)[0] == 200  # and the real one still passes

        # The rotation: the new key signs, the old one stays published (verify-only).
        with live_server(tmp_path, env={"DUALAUTH_JWT_KEYS": json.dumps(after)}, port=port) as base:
            assert [k["kid"] for k in call(jwks_url)[1]["keys"]] == [NEW_KID, OLD_KID]
            seen = fetches(rs)
            assert whoami(rs, old_token) == (200, {"sub": sub, "kid": OLD_KID})  # from the cached set
            assert fetches(rs) == seen
            new_token = bearer_token(base)
            assert jwt.get_unverified_header(new_token)["kid"] == NEW_KID
            # An unknown kid: PyJWKClient fetches the set again, once, and finds it.
            assert whoami(rs, new_token) == (200, {"sub": sub, "kid": NEW_KID})
            assert fetches(rs) == seen + 1
            assert whoami(rs, new_token)[0] == 200 and fetches(rs) == seen + 1
            assert whoami(rs, old_token)[0] == 200  # the old key is still published: its tokens verify
            assert whoami(rs, forged(old_token, stranger, kid=NEW_KID))[0] == 401

        # Without our server the resource server still verifies from its cached set: no database,
        # no call back to us per request.
        assert whoami(rs, new_token)[0] == 200
        modules = call(rs + "/stats")[1]["modules"]
        assert "jwt" in modules and "django" not in modules and "django_dualauth" not in modules


def test_the_resource_server_refuses_everything_while_no_key_is_published(tmp_path: Path) -> None:
    port = free_port()
    jwks_url = f"http://127.0.0.1:{port}/auth/.well-known/jwks.json"
    with resource_server(jwks_url, tmp_path) as rs, live_server(tmp_path, port=port) as base:
        # The example project's default: HS256 derived from SECRET_KEY, nothing to publish.
        status, body, _ = call(jwks_url)
        assert (status, body) == (404, {"error": "Not found", "code": "NOT_FOUND"})
        assert whoami(rs, bearer_token(base))[0] == 401
