"""``AuthHttpClient`` (``lib/src/http/auth_http_client.dart`` at 5fc2175a), ported.

The rules the server has to live with:

- headers on every request: ``Content-Type`` and ``Accept: application/json``; on the web the
  ``X-CSRF-Token`` read from the cookie (same origin only); native ``X-Auth-Strategy: bearer``
  and, when storage holds one, ``Authorization: Bearer`` (login and refresh included);
- after every answer a string ``accessToken`` goes to storage and a string ``refreshToken`` to
  this client's memory (native only; a non-string in either drops both);
- a 401 or 403 on any path but the excluded ones: ``SESSION_REVOKED`` ends the session at once
  (logout handler, ``revoked=True``); otherwise one refresh (shared by concurrent callers) and,
  if it worked, one retry whose answer is returned without capturing its tokens; a failed
  refresh calls the logout handler (``revoked=False``) and returns the first answer.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Mapping
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import urlencode, urlsplit, urlunsplit

from .models import as_string_or_null
from .transport import Response, Transport

__all__ = ["AuthHttpClient", "LogoutCallback", "Request", "SESSION_REVOKED"]

SESSION_REVOKED = "SESSION_REVOKED"

# The last path segments that never trigger a refresh and retry, and the one two-segment path.
NO_RETRY_ENDPOINTS = frozenset({"login", "logout", "refresh", "register", "forgot-password", "reset-password",
                                "verify-email"})
NO_RETRY_TWO_SEGMENTS = "2fa/verify"

CsrfTokenProvider = Callable[[str], str | None]
BearerTokenProvider = Callable[[], str | None]
BearerTokenSetter = Callable[[str], None]


class LogoutCallback(Protocol):
    def __call__(self, *, revoked: bool = False) -> None: ...


@dataclass
class Request:
    """An ``http.Request`` for the generic client (:meth:`AuthHttpClient.send`): the app's own calls."""

    method: str
    url: str
    body: str | None = None
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def json(cls, method: str, url: str, body: Any) -> Request:
        return cls(method, url, json.dumps(body, separators=(",", ":")), {"Content-Type": "application/json"})


def _encode(body: Any) -> str | None:
    # `body is String ? body : jsonEncode(body)`; Dart's jsonEncode writes no spaces.
    if body is None or isinstance(body, str):
        return body
    return json.dumps(body, separators=(",", ":"))


def _json_object(response: Response) -> dict[str, Any] | None:
    try:
        decoded = json.loads(response.body)
    except ValueError:
        return None
    return decoded if isinstance(decoded, dict) else None


class AuthHttpClient:
    """The package's HTTP layer over one :class:`Transport`; ``api_prefix`` as in ``AuthOptions``."""

    def __init__(self, inner: Transport, api_prefix: str, *, csrf_provider: CsrfTokenProvider | None = None,
                 bearer_provider: BearerTokenProvider | None = None,
                 bearer_setter: BearerTokenSetter | None = None) -> None:
        self.inner = inner
        self._api_prefix = api_prefix
        self._csrf_provider = csrf_provider
        self._bearer_provider = bearer_provider
        self._bearer_setter = bearer_setter
        self.refresh_token: str | None = None  # Dart's _refreshToken: memory only, never storage
        self._on_logout: LogoutCallback | None = None
        self._refresh_handler: Callable[[], bool] | None = None
        self._refresh_future: Future[bool] | None = None
        self._refresh_lock = threading.Lock()

    def set_logout_handler(self, handler: LogoutCallback) -> None:
        self._on_logout = handler

    def set_refresh_handler(self, handler: Callable[[], bool]) -> None:
        self._refresh_handler = handler

    # --- URLs, exclusions, headers ---------------------------------------------------------

    def build_uri(self, path: str) -> str:
        if path.startswith(("http://", "https://")):
            return path
        return f"{self._api_prefix}{path}"

    @staticmethod
    def is_excluded_endpoint(path: str) -> bool:
        segments = [s for s in path.split("/") if s]
        if not segments:
            return False
        if segments[-1] in NO_RETRY_ENDPOINTS:
            return True
        return len(segments) >= 2 and f"{segments[-2]}/{segments[-1]}" == NO_RETRY_TWO_SEGMENTS

    def build_headers(self, path: str, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        headers = {"Content-Type": "application/json", "Accept": "application/json", **(extra or {})}
        csrf = self._csrf_provider(self.build_uri(path)) if self._csrf_provider else None
        if csrf is not None:
            headers["X-CSRF-Token"] = csrf
        if self._bearer_provider is not None:
            headers["X-Auth-Strategy"] = "bearer"
            bearer = self._bearer_provider()
            if bearer is not None:
                headers["Authorization"] = f"Bearer {bearer}"
        return headers

    # --- the verbs BaseAuthClient uses -----------------------------------------------------

    def api_get(self, path: str, *, headers: Mapping[str, str] | None = None,
                query_parameters: Mapping[str, str] | None = None) -> Response:
        return self._send("GET", path, headers=headers, query_parameters=query_parameters)

    def api_post(self, path: str, *, headers: Mapping[str, str] | None = None, body: Any = None) -> Response:
        return self._send("POST", path, headers=headers, body=body)

    def api_patch(self, path: str, *, headers: Mapping[str, str] | None = None, body: Any = None) -> Response:
        return self._send("PATCH", path, headers=headers, body=body)

    def api_delete(self, path: str, *, headers: Mapping[str, str] | None = None) -> Response:
        return self._send("DELETE", path, headers=headers)

    def _send(self, method: str, path: str, *, headers: Mapping[str, str] | None = None, body: Any = None,
              query_parameters: Mapping[str, str] | None = None) -> Response:
        response = self._raw_send(method, path, self.build_headers(path, headers), body, query_parameters)
        self._capture_bearer_tokens(response)
        if response.status_code in (401, 403) and not self.is_excluded_endpoint(path):
            return self._handle_unauthorized(method, path, response, headers, body, query_parameters)
        return response

    def _capture_bearer_tokens(self, response: Response) -> None:
        if self._bearer_setter is None or not response.body:
            return
        decoded = _json_object(response)
        if decoded is None:
            return
        try:
            access = as_string_or_null(decoded.get("accessToken"))
            refresh = as_string_or_null(decoded.get("refreshToken"))
        except TypeError:
            return  # Dart: the cast throws inside a try that ignores it; neither token is kept
        if access is not None:
            self._bearer_setter(access)
        if refresh is not None:
            self.refresh_token = refresh

    def _raw_send(self, method: str, path: str, headers: Mapping[str, str], body: Any,
                  query_parameters: Mapping[str, str] | None) -> Response:
        uri = self.build_uri(path)
        if query_parameters:
            parts = urlsplit(uri)
            query = "&".join(q for q in (parts.query, urlencode(dict(query_parameters))) if q)
            uri = urlunsplit(parts._replace(query=query))
        if method not in ("GET", "DELETE", "POST", "PATCH"):
            raise ValueError(f"Unsupported HTTP method: {method}")
        encoded = _encode(body) if method in ("POST", "PATCH") else None
        return self.inner.send(method, uri, headers, encoded)

    # --- 401 / 403 ------------------------------------------------------------------------

    @staticmethod
    def is_session_revoked(response: Response) -> bool:
        decoded = _json_object(response)
        return decoded is not None and decoded.get("code") == SESSION_REVOKED

    def _handle_unauthorized(self, method: str, path: str, response: Response, headers: Mapping[str, str] | None,
                             body: Any, query_parameters: Mapping[str, str] | None) -> Response:
        if self.is_session_revoked(response):
            self._logout(revoked=True)
            return response
        if self._do_refresh():
            return self._raw_send(method, path, self.build_headers(path, headers), body, query_parameters)
        self._logout(revoked=False)
        return response

    def _logout(self, *, revoked: bool) -> None:
        if self._on_logout is not None:
            self._on_logout(revoked=revoked)

    def _do_refresh(self) -> bool:
        """One refresh at a time: a caller that arrives while one runs waits for its outcome."""
        with self._refresh_lock:
            running = self._refresh_future
            if running is None:
                self._refresh_future = mine = Future[bool]()
        if running is not None:
            return running.result()
        success = False
        try:
            success = self._refresh_handler() if self._refresh_handler is not None else False
        except Exception:
            success = False
        finally:
            with self._refresh_lock:
                self._refresh_future = None
            mine.set_result(success)
        return success

    def call_refresh_endpoint(self) -> bool:
        """``POST {prefix}/refresh`` with this client's headers; ``{refreshToken}`` when one was
        captured (native), else no body. A 2xx answer's tokens are captured."""
        try:
            body = {"refreshToken": self.refresh_token} if (
                self._bearer_provider is not None and self.refresh_token is not None) else None
            response = self._raw_send("POST", "/refresh", self.build_headers("/refresh"), body, None)
            if 200 <= response.status_code < 300:
                self._capture_bearer_tokens(response)
                return True
            return False
        except Exception:
            return False

    # --- the generic http.Client (the app's own calls) --------------------------------------

    def send(self, request: Request) -> Response:
        """``AuthHttpClient.send``: the auth headers override the request's own; the same
        capture, refresh and single retry (the retry carries only the auth headers)."""
        url = request.url  # a full URL (or, in-process, an absolute path): no prefix is added
        response = self.inner.send(request.method, url, {**request.headers, **self.build_headers(url)}, request.body)
        self._capture_bearer_tokens(response)
        if response.status_code in (401, 403) and not self.is_excluded_endpoint(urlsplit(url).path):
            if self.is_session_revoked(response):
                self._logout(revoked=True)
                return response
            if self._do_refresh():
                return self.inner.send(request.method, url, self.build_headers(url), request.body)
            self._logout(revoked=False)
        return response

    def close(self) -> None:
        self.inner.close()
