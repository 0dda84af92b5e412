"""A stand-in for GitHub's OAuth web flow and user API on loopback (in-process, threaded).

    with GitHubStandIn() as github:
        app = github.register_app(callback_url="http://127.0.0.1:8000/auth/oauth/github/callback",
                                  user=GitHubUser(login="octocat", id=583231),
                                  emails=[GitHubEmail("octocat@users.example", primary=True)])
        github.authorize_url   # GET: 302 back to the app with ?code=…&state=…
        github.token_url       # POST client_id, client_secret, code[, redirect_uri, code_verifier]
        github.api_url + "/user", github.api_url + "/user/emails"

Modelled on GitHub's documentation of OAuth apps ("Authorizing OAuth apps", "Troubleshooting
authorization request errors", "Troubleshooting OAuth app access token request errors", and the
REST pages of ``GET /user`` and ``GET /user/emails``):

- ``/login/oauth/authorize``: the user is taken as signed in and agreeing (no page), so it
  answers 302 to ``redirect_uri`` with ``code`` and ``state`` at once; ``app.deny = True`` gives
  ``error=access_denied`` instead. ``redirect_uri`` is optional (the callback URL is used) and
  must have the callback's host and port (any port for an ``http://127.0.0.1`` or ``[::1]``
  callback) and its path or a sub-path; otherwise GitHub redirects to the registered callback
  with ``error=redirect_uri_mismatch``, and so does this. PKCE as GitHub has it: optional, S256
  only; with a ``code_challenge`` the verifier is required at the token endpoint.
- ``/login/oauth/access_token``: a form POST (parameters in the query string also work, as on
  GitHub). Errors are **HTTP 200** with an ``error`` field (``incorrect_client_credentials``,
  ``redirect_uri_mismatch``, ``bad_verification_code``), as GitHub answers. The body is JSON if
  ``Accept`` contains ``application/json``, else form-encoded
  (``access_token=…&scope=…&token_type=bearer``). A code is single-use, bound to its app, and
  expires after 10 minutes.
- ``GET /user`` and ``GET /user/emails``: ``Authorization: Bearer <token>`` (or GitHub's older
  ``token <token>``); 401 ``Requires authentication`` / ``Bad credentials`` otherwise, with
  ``X-OAuth-Scopes``. ``/user/emails`` needs the ``user:email`` or ``user`` scope (404 without).

Differences from GitHub, on purpose or unknown: no XML answer (``Accept: application/xml``); no
login or consent page (use the OIDC provider for a browser that types a password); scopes are
granted as asked, without GitHub's accumulation across authorizations; the error for a wrong PKCE
verifier is ``bad_verification_code`` (GitHub's own is not documented); one host serves both the
web flow and the API (like GitHub Enterprise Server, without its ``/api/v3`` prefix); tokens never
expire; no rate-limit headers.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import threading
import time
import urllib.parse
from dataclasses import asdict, dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

__all__ = ["GitHubApp", "GitHubEmail", "GitHubStandIn", "GitHubUser"]

CODE_LIFETIME = 600  # seconds, as GitHub documents
DOCS = "https://docs.github.com/apps/managing-oauth-apps/troubleshooting-oauth-app-access-token-request-errors/"


@dataclass
class GitHubUser:
    """The fields of ``GET /user`` a sign-in reads. ``email`` is the *public* address (often
    ``None`` on GitHub): the verified ones come from ``/user/emails``."""

    login: str = "octocat"
    id: int = 583231
    name: str | None = "The Octocat"
    email: str | None = None
    avatar_url: str = "https://avatars.githubusercontent.example/u/583231"

    def as_json(self, base: str) -> dict[str, Any]:
        return {**asdict(self), "node_id": f"U_{self.id}", "type": "User", "site_admin": False,
                "html_url": f"{base}/{self.login}", "url": f"{base}/users/{self.login}"}


@dataclass
class GitHubEmail:
    email: str
    primary: bool = False
    verified: bool = True
    visibility: str | None = None  # "public", "private" or None, as GitHub lists them


@dataclass
class GitHubApp:
    """A registered OAuth app and the GitHub account that authorizes it (change ``user``,
    ``emails`` or ``deny`` at any time)."""

    client_id: str
    client_secret: str
    callback_url: str
    user: GitHubUser = field(default_factory=GitHubUser)
    emails: list[GitHubEmail] = field(default_factory=lambda: [GitHubEmail("octocat@github.example", primary=True)])
    deny: bool = False


@dataclass
class _Code:
    app: GitHubApp
    redirect_uri: str | None
    scope: str
    challenge: str | None
    expires: float


@dataclass
class _Token:
    app: GitHubApp
    scope: str


_Answer = tuple[int, dict[str, str], bytes]  # status, headers, body


def _redirect_allowed(uri: str, callback: str) -> bool:
    u, c = urllib.parse.urlsplit(uri), urllib.parse.urlsplit(callback)
    loopback = c.scheme == "http" and c.hostname in ("127.0.0.1", "::1")
    if u.scheme != c.scheme or u.hostname != c.hostname or (u.port != c.port and not loopback):
        return False
    base = c.path.rstrip("/")
    return u.path == c.path or u.path.startswith(base + "/")


class GitHubStandIn:
    """The server. ``requests`` records (method, path) of every request it answered."""

    def __init__(self, host: str = "localhost") -> None:
        self._codes: dict[str, _Code] = {}
        self._tokens: dict[str, _Token] = {}
        self._apps: dict[str, GitHubApp] = {}
        self._lock = threading.Lock()
        self.requests: list[tuple[str, str]] = []
        standin = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                standin._handle(self, "GET")

            def do_POST(self) -> None:  # noqa: N802
                standin._handle(self, "POST")

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.base_url = f"http://{host}:{self._server.server_port}"
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    # -- configuration -------------------------------------------------------------------------

    @property
    def authorize_url(self) -> str:
        return self.base_url + "/login/oauth/authorize"

    @property
    def token_url(self) -> str:
        return self.base_url + "/login/oauth/access_token"

    @property
    def api_url(self) -> str:
        return self.base_url

    def register_app(self, callback_url: str, *, user: GitHubUser | None = None,
                     emails: list[GitHubEmail] | None = None) -> GitHubApp:
        """A new OAuth app (random client id and secret) with its callback URL and account."""
        app = GitHubApp("Iv1." + secrets.token_hex(8), secrets.token_hex(20), callback_url)
        if user is not None:
            app.user = user
        if emails is not None:
            app.emails = emails
        with self._lock:
            self._apps[app.client_id] = app
        return app

    # -- HTTP ----------------------------------------------------------------------------------

    def _handle(self, handler: BaseHTTPRequestHandler, method: str) -> None:
        split = urllib.parse.urlsplit(handler.path)
        params = dict(urllib.parse.parse_qsl(split.query))
        if method == "POST":
            length = int(handler.headers.get("Content-Length") or 0)
            raw = handler.rfile.read(length).decode() if length else ""
            if handler.headers.get("Content-Type", "").startswith("application/json"):
                params.update({k: str(v) for k, v in (json.loads(raw or "{}")).items()})
            else:
                params.update(urllib.parse.parse_qsl(raw))
        with self._lock:
            self.requests.append((method, split.path))
        routes = {("GET", "/login/oauth/authorize"): self._authorize,
                  ("POST", "/login/oauth/access_token"): self._access_token,
                  ("GET", "/user"): self._user, ("GET", "/user/emails"): self._emails}
        route = routes.get((method, split.path))
        if route is None:
            status, headers, body = 404, {"Content-Type": "application/json"}, b'{"message": "Not Found"}'
        else:
            status, headers, body = route(handler, params)
        handler.send_response(status)
        for name, value in {**headers, "Content-Length": str(len(body))}.items():
            handler.send_header(name, value)
        handler.end_headers()
        handler.wfile.write(body)

    @staticmethod
    def _redirect(url: str, **params: str | None) -> _Answer:
        query = urllib.parse.urlencode({k: v for k, v in params.items() if v is not None})
        return 302, {"Location": url + ("&" if "?" in url else "?") + query}, b""

    def _authorize(self, handler: BaseHTTPRequestHandler, p: dict[str, str]) -> _Answer:
        app = self._apps.get(p.get("client_id", ""))
        if app is None:  # GitHub shows an error page: there is nowhere safe to redirect to
            return 404, {"Content-Type": "text/html"}, b"<h1>404: unknown client_id</h1>"
        state = p.get("state")
        redirect_uri = p.get("redirect_uri")
        if redirect_uri is not None and not _redirect_allowed(redirect_uri, app.callback_url):
            return self._redirect(app.callback_url, error="redirect_uri_mismatch", state=state,
                                  error_description="The redirect_uri MUST match the registered callback URL "
                                                    "for this application.")
        target = redirect_uri or app.callback_url
        method = p.get("code_challenge_method", "plain" if "code_challenge" in p else None)
        if method is not None and (method != "S256" or len(p.get("code_challenge", "")) != 43):
            return self._redirect(target, error="invalid_request", state=state,
                                  error_description="code_challenge_method must be S256 with a 43-character "
                                                    "code_challenge.")
        if app.deny:
            return self._redirect(target, error="access_denied", state=state,
                                  error_description="The user has denied your application access.")
        code = secrets.token_hex(10)
        with self._lock:
            self._codes[code] = _Code(app, redirect_uri, p.get("scope", ""), p.get("code_challenge"),
                                      time.monotonic() + CODE_LIFETIME)
        return self._redirect(target, code=code, state=state)

    def _access_token(self, handler: BaseHTTPRequestHandler, p: dict[str, str]) -> _Answer:
        def answer(**fields: str) -> _Answer:
            if "application/json" in handler.headers.get("Accept", ""):
                return 200, {"Content-Type": "application/json; charset=utf-8"}, json.dumps(fields).encode()
            return 200, {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}, \
                urllib.parse.urlencode(fields).encode()

        def error(code: str, description: str, anchor: str) -> _Answer:
            return answer(error=code, error_description=description, error_uri=DOCS + "#" + anchor)

        app = self._apps.get(p.get("client_id", ""))
        if app is None or not hmac.compare_digest(p.get("client_secret", ""), app.client_secret):
            return error("incorrect_client_credentials", "The client_id and/or client_secret passed are incorrect.",
                         "incorrect-client-credentials")
        with self._lock:
            grant = self._codes.pop(p.get("code", ""), None)  # single use, even when refused below
        bad_code = error("bad_verification_code", "The code passed is incorrect or expired.", "bad-verification-code")
        if grant is None or grant.app is not app or grant.expires < time.monotonic():
            return bad_code
        if "redirect_uri" in p and p["redirect_uri"] != (grant.redirect_uri or app.callback_url):
            return error("redirect_uri_mismatch", "The redirect_uri MUST match the registered callback URL for "
                         "this application.", "redirect-uri-mismatch2")
        if grant.challenge is not None:
            verifier = p.get("code_verifier", "")
            digest = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
            if not hmac.compare_digest(digest, grant.challenge):
                return bad_code
        token = "gho_" + secrets.token_urlsafe(27)
        scope = ",".join(s for s in grant.scope.replace(",", " ").split() if s)
        with self._lock:
            self._tokens[token] = _Token(app, scope)
        return answer(access_token=token, scope=scope, token_type="bearer")

    def _bearer(self, handler: BaseHTTPRequestHandler) -> _Token | _Answer:
        header = handler.headers.get("Authorization", "")
        scheme, _, value = header.partition(" ")
        docs = "https://docs.github.com/rest"
        if not header:
            body = {"message": "Requires authentication", "documentation_url": docs, "status": "401"}
            return 401, {"Content-Type": "application/json; charset=utf-8"}, json.dumps(body).encode()
        token = self._tokens.get(value.strip()) if scheme.lower() in ("bearer", "token") else None
        if token is None:
            body = {"message": "Bad credentials", "documentation_url": docs, "status": "401"}
            return 401, {"Content-Type": "application/json; charset=utf-8"}, json.dumps(body).encode()
        return token

    def _json(self, token: _Token, body: Any, accepted: str) -> _Answer:
        return 200, {"Content-Type": "application/json; charset=utf-8", "X-OAuth-Scopes": token.scope.replace(
            ",", ", "), "X-Accepted-OAuth-Scopes": accepted}, json.dumps(body).encode()

    def _user(self, handler: BaseHTTPRequestHandler, p: dict[str, str]) -> _Answer:
        token = self._bearer(handler)
        if not isinstance(token, _Token):
            return token
        return self._json(token, token.app.user.as_json(self.base_url), "")

    def _emails(self, handler: BaseHTTPRequestHandler, p: dict[str, str]) -> _Answer:
        token = self._bearer(handler)
        if not isinstance(token, _Token):
            return token
        if not {"user", "user:email"} & set(token.scope.split(",")):
            body = {"message": "Not Found", "documentation_url": "https://docs.github.com/rest", "status": "404"}
            return 404, {"Content-Type": "application/json; charset=utf-8"}, json.dumps(body).encode()
        return self._json(token, [asdict(e) for e in token.app.emails], "user, user:email")

    def __enter__(self) -> GitHubStandIn:
        self._thread.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._server.shutdown()
        self._server.server_close()
