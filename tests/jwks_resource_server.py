"""A resource server of another service: it verifies our access tokens through the published JWK
set alone (PyJWT's ``PyJWKClient``), with no Django, no database and nothing of django-dualauth.

    python -I tests/jwks_resource_server.py --port 8001 --jwks http://127.0.0.1:8000/auth/.well-known/jwks.json \\
        --issuer https://example-project.local --audience example-project-api --cookie __Host-accessToken

``GET /whoami`` takes the token from ``Authorization: Bearer`` or, for a same-site browser, from
the access cookie; it answers ``200 {"sub": ...}`` or ``401 {"error": ...}``. ``GET /stats``
answers how often the JWK set was fetched and which modules are loaded (the test checks that
neither Django nor the package is). Written as a user would write one: the key is the one the
token's ``kid`` names in the set, and the only algorithm accepted is that key's ``alg``.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
from http.cookies import SimpleCookie
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt


class CountingJWKClient(jwt.PyJWKClient):
    """``PyJWKClient`` that counts its fetches of the JWK set (one per cache miss or unknown kid)."""

    fetches = 0
    _lock = threading.Lock()

    def fetch_data(self) -> Any:
        with self._lock:
            CountingJWKClient.fetches += 1
        return super().fetch_data()


def verify(client: jwt.PyJWKClient, token: str, *, issuer: str, audience: str) -> dict[str, Any]:
    """The claims of a valid access token; raises ``jwt.PyJWTError`` otherwise."""
    if jwt.get_unverified_header(token).get("typ") != "at+jwt":  # RFC 9068 §4: an access token, nothing else
        raise jwt.InvalidTokenError("not an access token")
    key = client.get_signing_key_from_jwt(token)  # by kid; an unknown kid refetches the set once
    claims: dict[str, Any] = jwt.decode(token, key, algorithms=[key.algorithm_name], audience=audience,
                                        issuer=issuer, options={"require": ["exp", "iat", "sub"]})
    return claims


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--jwks", required=True)
    parser.add_argument("--issuer", required=True)
    parser.add_argument("--audience", required=True)
    parser.add_argument("--cookie", default="__Host-accessToken")
    parser.add_argument("--cooldown", type=float, default=30.0, help="PyJWKClient's refetch cooldown (seconds)")
    args = parser.parse_args()
    client = CountingJWKClient(args.jwks, cooldown_duration=args.cooldown, timeout=10)

    class Handler(BaseHTTPRequestHandler):
        def answer(self, status: int, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def token(self) -> str | None:
            scheme, _, credentials = (self.headers.get("Authorization") or "").partition(" ")
            if scheme.lower() == "bearer" and credentials:
                return credentials.strip()
            jar: SimpleCookie = SimpleCookie(self.headers.get("Cookie") or "")
            morsel = jar.get(args.cookie)
            return morsel.value if morsel else None

        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            if self.path == "/stats":
                loaded = sorted({m.partition(".")[0] for m in sys.modules})
                return self.answer(200, {"fetches": CountingJWKClient.fetches, "modules": loaded})
            if self.path != "/whoami":
                return self.answer(404, {"error": "not found"})
            token = self.token()
            if not token:
                return self.answer(401, {"error": "no token"})
            try:
                claims = verify(client, token, issuer=args.issuer, audience=args.audience)
            except (jwt.PyJWTError, jwt.PyJWKClientError) as error:
                return self.answer(401, {"error": type(error).__name__})
            return self.answer(200, {"sub": claims["sub"], "kid": jwt.get_unverified_header(token)["kid"]})

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - http.server's signature
            pass

    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    server.daemon_threads = True
    server.serve_forever()


if __name__ == "__main__":
    main()
