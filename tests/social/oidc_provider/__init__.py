"""A real OpenID Connect provider on loopback for the social tests: django-oauth-toolkit as an
OIDC provider in a second Django project (this package), run in a subprocess.

    with start_oidc_provider(tmp_path) as provider:
        provider.issuer                     # "http://localhost:<port>/o"
        provider.client.client_id, provider.client.client_secret
        provider.users["alice"].email       # verified; provider.users["unverified"] is not
        provider.register_client(OidcClient("web", "s3cret", ("http://127.0.0.1:8000/cb",)))

It signs RS256 id_tokens with an RSA key made at start, requires PKCE (S256 only), echoes the
nonce, serves discovery, JWKS and userinfo, shows Django's login page and the toolkit's consent
page, and keeps its data in ``tmp_path / "oidc-provider.sqlite3"``. Test-side code here imports
no Django module of the provider (the test process runs ``tests.settings``). The pytest fixture
``oidc_provider`` (one per session) lives in :mod:`tests.social.fixtures`.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import secrets
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.live_server import ROOT, free_port, stop, wait_for_port

__all__ = ["DEFAULT_USERS", "OidcClient", "OidcProvider", "OidcUser", "Pkce", "TokenAnswer", "start_oidc_provider"]

SCOPE = "openid email profile"


@dataclass(frozen=True)
class OidcUser:
    """An account of the provider. ``sub`` is filled in once the provider has created it."""

    username: str
    password: str
    email: str
    email_verified: bool = True
    name: str = ""
    sub: str = ""


@dataclass(frozen=True)
class OidcClient:
    """A registered application: redirect URIs match exactly (path and query; the toolkit, per
    RFC 8252 §7.3, ignores the port of an ``http://127.0.0.1`` URI)."""

    client_id: str
    client_secret: str
    redirect_uris: tuple[str, ...]
    skip_authorization: bool = False  # False: the consent page is shown on every authorization
    client_type: str = "confidential"  # or "public" (no secret; PKCE alone)


DEFAULT_USERS = (
    OidcUser("alice", "alice-password-1", "alice@idp.example", True, "Alice Liddell"),
    OidcUser("unverified", "unverified-password-1", "mallory@idp.example", False, "Mallory Unverified"),
)


@dataclass(frozen=True)
class Pkce:
    """A PKCE pair (RFC 7636): ``Pkce.new()``, then ``challenge`` (S256) in the authorization
    request and ``verifier`` at the token endpoint."""

    verifier: str

    @classmethod
    def new(cls) -> Pkce:
        return cls(secrets.token_urlsafe(48))

    @property
    def challenge(self) -> str:
        digest = hashlib.sha256(self.verifier.encode("ascii")).digest()
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


@dataclass(frozen=True)
class TokenAnswer:
    status: int
    body: dict[str, Any]


@dataclass
class OidcProvider:
    """A running provider; ``client`` is the first registered client."""

    base_url: str
    issuer: str
    clients: dict[str, OidcClient]
    users: dict[str, OidcUser]
    log: Path
    control_token: str = field(repr=False)
    startup_seconds: float = 0.0

    @property
    def client(self) -> OidcClient:
        return next(iter(self.clients.values()))

    @property
    def discovery_url(self) -> str:
        return self.issuer + "/.well-known/openid-configuration"

    def metadata(self) -> dict[str, Any]:
        """The discovery document, fetched."""
        with urllib.request.urlopen(self.discovery_url, timeout=30) as answer:  # noqa: S310 - loopback
            return json.loads(answer.read())  # type: ignore[no-any-return]

    def register_client(self, client: OidcClient) -> OidcClient:
        """Create or replace a client while the provider runs."""
        self._control("clients", asdict(client))
        self.clients[client.client_id] = client
        return client

    def register_user(self, user: OidcUser) -> OidcUser:
        """Create or update a user while the provider runs; the user with its ``sub``."""
        sub = self._control("users", asdict(user))
        self.users[user.username] = saved = replace(user, sub=sub)
        return saved

    def authorize_url(self, client: OidcClient, redirect_uri: str, *, state: str, nonce: str | None,
                      pkce: Pkce | None, scope: str = SCOPE, **extra: str) -> str:
        """The authorization request a relying party sends the browser to (``code`` flow,
        S256); ``None`` leaves ``nonce`` or PKCE out, to see the provider refuse."""
        params = {"response_type": "code", "client_id": client.client_id, "redirect_uri": redirect_uri,
                  "scope": scope, "state": state, **extra}
        if nonce is not None:
            params["nonce"] = nonce
        if pkce is not None:
            params.update(code_challenge=pkce.challenge, code_challenge_method="S256")
        return f"{self.issuer}/authorize/?{urllib.parse.urlencode(params)}"

    def exchange_code(self, client: OidcClient, code: str, redirect_uri: str, verifier: str | None) -> TokenAnswer:
        """POST the code to the token endpoint (``client_secret_post``); the answer, 4xx included."""
        data = {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri,
                "client_id": client.client_id}
        if client.client_secret:
            data["client_secret"] = client.client_secret
        if verifier is not None:
            data["code_verifier"] = verifier
        request = urllib.request.Request(f"{self.issuer}/token/", data=urllib.parse.urlencode(data).encode(),
                                         method="POST", headers={"Accept": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=30) as answer:  # noqa: S310 - loopback
                return TokenAnswer(answer.status, json.loads(answer.read()))
        except urllib.error.HTTPError as error:
            with error:
                return TokenAnswer(error.code, json.loads(error.read() or b"{}"))

    def sign_in(self, browser: Any, url: str, user: OidcUser, *, stop_at: str | Callable[[str], bool],
                consent: bool = True) -> Any:
        """Drive a :class:`tests.social.system_browser.SystemBrowser` from ``url`` (an
        authorization request, or an app URL that redirects to one) through this provider's login
        page and, unless the client skips it, its consent page; the redirect to ``stop_at``.
        ``consent=False`` presses Cancel instead."""
        page = browser.follow(url, stop_at=stop_at)
        if any(form.id == "login-form" for form in page.forms()):
            page = browser.submit(page, {"username": user.username, "password": user.password},
                                  form_id="login-form", stop_at=stop_at)
        if not page.is_redirect and any(form.id == "authorizationForm" for form in page.forms()):
            page = browser.submit(page, form_id="authorizationForm", button="allow" if consent else None,
                                  stop_at=stop_at)
        return page

    def _control(self, what: str, body: dict[str, Any]) -> Any:
        request = urllib.request.Request(
            f"{self.base_url}/_test/{what}", data=json.dumps(body).encode(), method="POST",
            headers={"Content-Type": "application/json", "Authorization": f"Bearer {self.control_token}"})
        with urllib.request.urlopen(request, timeout=30) as answer:  # noqa: S310 - loopback
            return json.loads(answer.read())["result"]


def _rsa_key_pem() -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode()


@contextmanager
def start_oidc_provider(
    tmp_path: Path,
    *,
    clients: Sequence[OidcClient] = (),
    users: Sequence[OidcUser] = DEFAULT_USERS,
    host: str = "localhost",
    authorization_response_iss: bool = True,
) -> Iterator[OidcProvider]:
    """Start the provider on a free port of 127.0.0.1; stop it (by pid) on exit.

    ``host`` is the name in the issuer and every URL the provider hands out. The default,
    ``localhost``, makes the provider another *site* than an app served on ``127.0.0.1``, so a
    browser treats the return from the provider as the cross-site navigation it is in
    production (SameSite cookies). ``authorization_response_iss=False`` gives a provider that
    omits RFC 9207's ``iss`` from the redirect back. With no ``clients``, one confidential
    client ``test-client`` is registered with no redirect URI that works: register your own.
    """
    started = time.monotonic()
    tmp_path.mkdir(parents=True, exist_ok=True)
    port = free_port()
    base_url = f"http://{host}:{port}"
    key_file = tmp_path / "oidc-provider-key.pem"
    key_file.write_text(_rsa_key_pem())
    key_file.chmod(0o600)
    clients = tuple(clients) or (OidcClient("test-client", secrets.token_urlsafe(24),
                                            ("http://127.0.0.1/unused-redirect",)),)
    control_token = secrets.token_urlsafe(32)
    config = {
        "port": port, "issuer": f"{base_url}/o", "database": str(tmp_path / "oidc-provider.sqlite3"),
        "rsa_key_file": str(key_file), "secret_key": secrets.token_urlsafe(50), "control_token": control_token,
        "authorization_response_iss": authorization_response_iss,
        "users": [asdict(u) for u in users], "clients": [asdict(c) for c in clients],
    }
    config_file = tmp_path / "oidc-provider.json"
    config_file.write_text(json.dumps(config))
    config_file.chmod(0o600)
    # Nothing of the suite's environment leaks in: not its settings module, database or secrets.
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("DUALAUTH_", "DJANGO_")) and key not in ("DATABASE_URL", "REDIS_URL")}
    env.update({"OIDC_PROVIDER_CONFIG": str(config_file), "PYTHONUNBUFFERED": "1",
                "DJANGO_SETTINGS_MODULE": "tests.social.oidc_provider.settings"})
    log = tmp_path / "oidc-provider.log"
    with log.open("ab") as out:
        proc = subprocess.Popen([sys.executable, "-m", "tests.social.oidc_provider.serve"], env=env, cwd=ROOT,
                                stdout=out, stderr=subprocess.STDOUT)
    try:
        wait_for_port(port, proc, log)
        provider = OidcProvider(base_url, f"{base_url}/o", {c.client_id: c for c in clients}, {}, log,
                                control_token)
        for user in users:  # learn each sub (the update is idempotent)
            provider.register_user(user)
        provider.startup_seconds = time.monotonic() - started
        yield provider
    finally:
        stop(proc)
