"""A stand-in for Sign in with Apple's REST endpoints on loopback (in-process, threaded).

    apple = AppleStandIn()                      # its id_tokens carry iss https://appleid.apple.com
    team = apple.register_team("TEAM123456")    # a team key pair: team.private_pem for the settings
    apple.register_client("com.example.app", team)                       # native (bundle id)
    apple.register_client("com.example.web", team, redirect_uris=(CALLBACK,))  # web (Services ID)
    code = apple.issue_code("com.example.app", AppleUser("001.abc", "alice@example.com"))  # as the SDK would

Endpoints, after Apple's documentation ("Generate and validate tokens", "Revoke tokens",
"Incorporating Sign in with Apple into other platforms"):

- ``GET /auth/keys``: the JWK set of the key that signs id_tokens (the :class:`StandinIssuer`'s).
- ``GET /auth/authorize``: ``response_type=code``, ``client_id``, ``redirect_uri`` (exactly one
  registered for the client), ``state``, ``nonce``, ``scope``, ``response_mode=form_post`` (required
  when ``scope`` names ``name`` or ``email``, as Apple requires). The user is taken as signed in
  (:attr:`next_user`) and agreeing: the answer is an HTML page whose form auto-submits (POST) to
  ``redirect_uri`` with ``code``, ``state``, ``id_token`` and, at the first authorization of this
  user for this client only, ``user`` (JSON ``{"name": {"firstName", "lastName"}, "email"}``).
  ``deny = True`` posts ``error=user_cancelled_authorize`` instead.
- ``POST /auth/token``: ``grant_type=authorization_code``, ``code``, ``client_id``,
  ``client_secret`` (a JWT: ES256, header ``kid`` of the team's key, ``iss`` the team id,
  ``sub`` the client id, ``aud`` ``https://appleid.apple.com``, ``exp`` in the future and at most
  six months after ``iat``: checked with the team's public key), ``redirect_uri`` when the code
  came from the web flow. A code is single use, five minutes, bound to its client. Errors are
  400 ``invalid_client`` / ``invalid_grant`` as Apple answers. The answer: ``access_token``,
  ``token_type``, ``expires_in``, ``refresh_token``, ``id_token`` (``aud`` the client, ``sub``,
  ``email``, ``email_verified: "true"``, the authorization's ``nonce``).
- ``POST /auth/revoke``: ``client_id``, ``client_secret``, ``token``, ``token_type_hint``; 200 and
  recorded in :attr:`revoked` (as Apple, 200 also for a token it does not know); 400
  ``invalid_client`` for a bad secret.

``down = True`` answers 503 on the token and revoke endpoints (Apple unreachable). Differences
from Apple: no consent page, no private relay, no ``real_user_status``; codes are not bound to a
nonce for the native case; refresh tokens never expire.
"""

from __future__ import annotations

import html
import json
import secrets
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from html.parser import HTMLParser
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from .standin_issuers import StandinIssuer

__all__ = ["AppleStandIn", "AppleTeam", "AppleUser", "read_form_post"]

APPLE_ISSUER = "https://appleid.apple.com"
CODE_LIFETIME = 300
MAX_SECRET_LIFETIME = 15777000  # six months, as Apple documents


@dataclass
class AppleTeam:
    team_id: str
    key_id: str
    private_key: ec.EllipticCurvePrivateKey

    @property
    def private_pem(self) -> str:
        return self.private_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                              serialization.NoEncryption()).decode()


@dataclass(frozen=True)
class AppleUser:
    sub: str
    email: str
    first_name: str = "Alice"
    last_name: str = "Liddell"


@dataclass
class _Client:
    client_id: str
    team: AppleTeam
    redirect_uris: tuple[str, ...] = ()


@dataclass
class _Code:
    client_id: str
    user: AppleUser
    nonce: str | None
    redirect_uri: str
    expires: float
    used: bool = False


@dataclass
class Revocation:
    client_id: str
    token: str
    token_type_hint: str


@dataclass
class _State:
    clients: dict[str, _Client] = field(default_factory=dict)
    codes: dict[str, _Code] = field(default_factory=dict)
    refresh_tokens: dict[str, str] = field(default_factory=dict)  # token -> client id
    authorized: set[tuple[str, str]] = field(default_factory=set)  # (client id, sub): `user` sent once


class AppleStandIn:
    """Apple's ``/auth/*`` on 127.0.0.1. :meth:`stop` it."""

    def __init__(self) -> None:
        self.issuer = StandinIssuer("apple", issuer=APPLE_ISSUER, key_index=1)
        self._state = _State()
        self._lock = threading.Lock()
        self.down = False
        self.deny = False
        #: Set: the token endpoint's id_token carries this nonce instead of the authorization's.
        self.nonce_override: str | None = None
        self.next_user = AppleUser("001234.apple-web", "web@example.com")
        self.revoked: list[Revocation] = []
        self.token_requests = 0
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.02},
                                        name="standin-apple-rest", daemon=True)
        self._thread.start()

    # --- registration -------------------------------------------------------------------------
    @staticmethod
    def register_team(team_id: str = "TEAM123456", key_id: str = "KEY1234567") -> AppleTeam:
        return AppleTeam(team_id, key_id, ec.generate_private_key(ec.SECP256R1()))

    def register_client(self, client_id: str, team: AppleTeam, *, redirect_uris: tuple[str, ...] = ()) -> None:
        with self._lock:
            self._state.clients[client_id] = _Client(client_id, team, redirect_uris)

    def issue_code(self, client_id: str, user: AppleUser, *, nonce: str | None = None, redirect_uri: str = "") -> str:
        """An authorization code as the native SDK hands the app (with the identity token), or
        Apple's JS on a web page (``redirect_uri``: the one it was initialised with)."""
        code = "c" + secrets.token_hex(24) + ".0.apple"
        with self._lock:
            self._state.codes[code] = _Code(client_id, user, nonce, redirect_uri, time.time() + CODE_LIFETIME)
        return code

    @property
    def provider_options(self) -> dict[str, str]:
        return {"jwks_uri": self.issuer.jwks_uri, "authorization_endpoint": f"{self.url}/auth/authorize",
                "token_endpoint": f"{self.url}/auth/token", "revoke_endpoint": f"{self.url}/auth/revoke"}

    def refresh_token_client(self, token: str) -> str | None:
        with self._lock:
            return self._state.refresh_tokens.get(token)

    # --- the endpoints --------------------------------------------------------------------------
    def _client_authenticated(self, form: dict[str, str]) -> _Client | None:
        client = self._state.clients.get(form.get("client_id", ""))
        secret = form.get("client_secret", "")
        if client is None or not secret:
            return None
        try:
            header = jwt.get_unverified_header(secret)
            if header.get("alg") != "ES256" or header.get("kid") != client.team.key_id:
                return None
            claims = jwt.decode(secret, client.team.private_key.public_key(), algorithms=["ES256"],
                                audience=APPLE_ISSUER, issuer=client.team.team_id,
                                options={"require": ["iss", "iat", "exp", "aud", "sub"]})
        except jwt.InvalidTokenError:
            return None
        if claims["sub"] != client.client_id or claims["exp"] - claims["iat"] > MAX_SECRET_LIFETIME:
            return None
        return client

    def _token(self, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        self.token_requests += 1
        if form.get("grant_type") != "authorization_code":
            return 400, {"error": "unsupported_grant_type"}
        with self._lock:
            client = self._client_authenticated(form)
            if client is None:
                return 400, {"error": "invalid_client"}
            code = self._state.codes.get(form.get("code", ""))
            if code is None or code.used or code.expires < time.time() or code.client_id != client.client_id \
                    or code.redirect_uri != form.get("redirect_uri", ""):
                return 400, {"error": "invalid_grant"}
            code.used = True
            refresh = "r" + secrets.token_hex(24) + ".0.apple"
            self._state.refresh_tokens[refresh] = client.client_id
        claims = self.issuer.claims(aud=client.client_id, nonce=self.nonce_override or code.nonce, sub=code.user.sub,
                                    email=code.user.email, email_verified="true")
        return 200, {"access_token": "a" + secrets.token_hex(16), "token_type": "Bearer", "expires_in": 3600,
                     "refresh_token": refresh, "id_token": self.issuer.mint(claims)}

    def _revoke(self, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        with self._lock:
            client = self._client_authenticated(form)
            if client is None:
                return 400, {"error": "invalid_client"}
            self.revoked.append(Revocation(client.client_id, form.get("token", ""), form.get("token_type_hint", "")))
            self._state.refresh_tokens.pop(form.get("token", ""), None)
        return 200, {}

    def _authorize(self, query: dict[str, str]) -> tuple[int, str]:
        client = self._state.clients.get(query.get("client_id", ""))
        redirect_uri = query.get("redirect_uri", "")
        if client is None or redirect_uri not in client.redirect_uris:
            return 400, "invalid_client or redirect_uri"
        scopes = set(query.get("scope", "").split())
        if scopes & {"name", "email"} and query.get("response_mode") != "form_post":
            return 400, "response_mode must be form_post when requesting name or email scope"
        if query.get("response_type") != "code":
            return 400, "unsupported response_type"
        fields: dict[str, str] = {"state": query.get("state", "")}
        if self.deny:
            fields["error"] = "user_cancelled_authorize"
        else:
            user = self.next_user
            code = "c" + secrets.token_hex(24) + ".0.apple"
            with self._lock:
                self._state.codes[code] = _Code(client.client_id, user, query.get("nonce"), redirect_uri,
                                                time.time() + CODE_LIFETIME)
                first = (client.client_id, user.sub) not in self._state.authorized
                self._state.authorized.add((client.client_id, user.sub))
            fields["code"] = code
            fields["id_token"] = self.issuer.mint(self.issuer.claims(
                aud=client.client_id, nonce=query.get("nonce"), sub=user.sub, email=user.email, email_verified="true"))
            if first:
                fields["user"] = json.dumps({"name": {"firstName": user.first_name, "lastName": user.last_name},
                                             "email": user.email})
        inputs = "".join(f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}">'
                         for k, v in fields.items())
        page = (f'<!doctype html><html><body onload="document.forms[0].submit()">'
                f'<form method="POST" action="{html.escape(redirect_uri)}">{inputs}'
                f'<noscript><button type="submit">Continue</button></noscript></form></body></html>')
        return 200, page

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        standin = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - the http.server name
                split = urllib.parse.urlsplit(self.path)
                if split.path == "/auth/keys":
                    self._json(200, standin.issuer.jwks())
                elif split.path == "/auth/authorize":
                    status, page = standin._authorize(dict(urllib.parse.parse_qsl(split.query)))
                    body = page.encode()
                    self.send_response(status)
                    self.send_header("Content-Type", "text/html; charset=utf-8")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                else:
                    self._json(404, {})

            def do_POST(self) -> None:  # noqa: N802
                length = int(self.headers.get("Content-Length") or 0)
                form = dict(urllib.parse.parse_qsl(self.rfile.read(length).decode()))
                if standin.down:
                    self._json(503, {"error": "unavailable"})
                elif self.path == "/auth/token":
                    self._json(*standin._token(form))
                elif self.path == "/auth/revoke":
                    self._json(*standin._revoke(form))
                else:
                    self._json(404, {})

            def _json(self, status: int, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                pass

        return Handler

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
        self.issuer.stop()


class _FormReader(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.action = ""
        self.fields: dict[str, str] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k: v or "" for k, v in attrs}
        if tag == "form":
            self.action = values.get("action", "")
        elif tag == "input" and values.get("name"):
            self.fields[values["name"]] = values.get("value", "")


def read_form_post(url: str) -> tuple[str, dict[str, str]]:
    """Play the browser at Apple's authorize URL: fetch the page, return its form's action and fields
    (what the auto-submit would POST)."""
    import urllib.request

    with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 - loopback only
        page = response.read().decode()
    reader = _FormReader()
    reader.feed(page)
    return reader.action, reader.fields
