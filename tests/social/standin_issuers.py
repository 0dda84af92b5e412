"""Stand-in sign-in providers on 127.0.0.1 for the native id_token exchange: no traffic leaves
the machine.

:class:`StandinIssuer` is a small threaded HTTP server that serves a JWKS of keys generated here
(RSA or EC) at ``/jwks`` and, for the OpenID Connect kind, a discovery document at
``/.well-known/openid-configuration``; it counts every fetch (``fetches``), can rotate its keys
and can be made to fail (``down``). :meth:`StandinIssuer.mint` signs id_tokens with PyJWT,
with any claim or header replaced, so tests build every negative case from a valid token.
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

__all__ = ["SigningKey", "StandinIssuer"]

#: Generating an RSA key costs tens of milliseconds on this machine; keys are reused across
#: issuers of one test run (each issuer still has its own kids).
_RSA_POOL: list[rsa.RSAPrivateKey] = []
_POOL_LOCK = threading.Lock()


def _rsa_key(index: int) -> rsa.RSAPrivateKey:
    with _POOL_LOCK:
        while len(_RSA_POOL) <= index:
            _RSA_POOL.append(rsa.generate_private_key(public_exponent=65537, key_size=2048))
        return _RSA_POOL[index]


@dataclass
class SigningKey:
    kid: str
    alg: str
    private: Any

    @property
    def public_jwk(self) -> dict[str, Any]:
        algorithm = RSAAlgorithm if self.alg.startswith(("RS", "PS")) else ECAlgorithm
        jwk: dict[str, Any] = algorithm.to_jwk(self.private.public_key(), as_dict=True)
        jwk.update(kid=self.kid, alg=self.alg, use="sig")
        return jwk


class StandinIssuer:
    """One provider: ``issuer`` is what its tokens carry in ``iss`` (Google's and Apple's real
    issuer names work: only the key URL points here). Stop it with :meth:`stop`."""

    def __init__(self, name: str, *, issuer: str | None = None, alg: str = "RS256", key_index: int = 0) -> None:
        self.name = name
        self.fetches: Counter[str] = Counter()
        self.down = False
        self.delay = 0.0
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self.issuer = issuer or self.url
        self._next_index = key_index
        self.keys: list[SigningKey] = [self.new_key(alg)]
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.02},
                                        name=f"standin-{name}", daemon=True)
        self._thread.start()

    # --- keys ------------------------------------------------------------------------------------
    def new_key(self, alg: str = "RS256") -> SigningKey:
        """A key this issuer does not publish yet (append it to ``keys`` to publish it)."""
        index = self._next_index
        self._next_index += 1
        private: Any = ec.generate_private_key(ec.SECP256R1()) if alg == "ES256" else _rsa_key(index)
        return SigningKey(kid=f"{self.name}-{index}-{alg}", alg=alg, private=private)

    def rotate(self, alg: str = "RS256") -> SigningKey:
        """Publish a new key and sign with it from now on (the old one stays published)."""
        key = self.new_key(alg)
        self.keys.insert(0, key)
        return key

    @property
    def jwks_uri(self) -> str:
        return f"{self.url}/jwks"

    def jwks(self) -> dict[str, Any]:
        return {"keys": [k.public_jwk for k in self.keys]}

    # --- tokens ----------------------------------------------------------------------------------
    def claims(self, *, aud: str, nonce: str | None, sub: str = "1234567890", email: str = "alice@example.com",
               **extra: Any) -> dict[str, Any]:
        now = int(time.time())
        claims: dict[str, Any] = {"iss": self.issuer, "aud": aud, "sub": sub, "iat": now, "exp": now + 3600,
                                  "email": email, "email_verified": True}
        if nonce is not None:
            claims["nonce"] = nonce
        claims.update(extra)
        return {k: v for k, v in claims.items() if v is not None}

    def mint(self, claims: dict[str, Any], *, key: SigningKey | None = None, headers: dict[str, Any] | None = None,
             ) -> str:
        """``claims`` signed with ``key`` (by default the current one), its ``kid`` in the header."""
        key = key or self.keys[0]
        return jwt.encode(claims, key.private, algorithm=key.alg, headers={"kid": key.kid, **(headers or {})})

    # --- the server ------------------------------------------------------------------------------
    def discovery(self) -> dict[str, Any]:
        return {"issuer": self.issuer, "jwks_uri": self.jwks_uri, "authorization_endpoint": f"{self.url}/authorize",
                "token_endpoint": f"{self.url}/token", "id_token_signing_alg_values_supported": ["RS256"],
                "response_types_supported": ["code"], "subject_types_supported": ["public"]}

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        issuer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - the http.server name
                issuer.fetches[self.path] += 1
                if issuer.delay:
                    time.sleep(issuer.delay)
                if issuer.down:
                    self._answer(503, b'{"error": "down"}')
                elif self.path == "/jwks":
                    self._answer(200, json.dumps(issuer.jwks()).encode())
                elif self.path == "/.well-known/openid-configuration":
                    self._answer(200, json.dumps(issuer.discovery()).encode())
                else:
                    self._answer(404, b"{}")

            def _answer(self, status: int, body: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the http.server name
                pass

        return Handler

    @property
    def key_fetches(self) -> int:
        return self.fetches["/jwks"]

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
