"""What stands in for the package's inner ``http.Client``: one request in, one buffered answer out.

Every transport records each exchange (:attr:`Transport.log`), so a test can count the refreshes
the package made or read the raw answer behind an ``AuthResult``.

- :class:`DjangoTransport` serves requests in the process through Django's test client. As a
  native app (the default) it keeps no cookies, as Dart's ``IOClient`` keeps none; as a browser
  (``browser_origin``) it keeps the cookie jar, shows the non-HttpOnly cookies as
  ``document.cookie``, and adds the headers a browser adds to a same-origin ``fetch``.
- :class:`UrllibTransport` sends real HTTP to a server (a native app: no cookie jar).
"""

from __future__ import annotations

import threading
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from django.test import Client

__all__ = ["DjangoTransport", "Exchange", "Response", "Transport", "UrllibTransport"]

TIMEOUT = 60.0  # seconds for one request: only a hung server reaches it


@dataclass(frozen=True)
class Response:
    """A buffered ``http.Response``: status, decoded body text, headers (lower-case names)."""

    status_code: int
    body: str
    headers: Mapping[str, str]


@dataclass(frozen=True)
class Exchange:
    """One request as it left the package, and the answer."""

    method: str
    url: str
    headers: Mapping[str, str]
    body: str | None
    response: Response

    @property
    def path(self) -> str:
        return urlsplit(self.url).path


def _package_http_headers(headers: Mapping[str, str], body: str | None) -> dict[str, str]:
    # package:http adds `charset=utf-8` to a Content-Type without one when a String body is set.
    sent = dict(headers)
    content_type = sent.get("Content-Type")
    if body is not None and content_type is not None and "charset" not in content_type:
        sent["Content-Type"] = f"{content_type}; charset=utf-8"
    return sent


class Transport:
    """Base of the transports: records every exchange; subclasses do the sending."""

    def __init__(self) -> None:
        self.log: list[Exchange] = []
        self._log_lock = threading.Lock()

    def send(self, method: str, url: str, headers: Mapping[str, str], body: str | None) -> Response:
        sent = _package_http_headers(headers, body)
        response = self._exchange(method, url, sent, body)
        with self._log_lock:
            self.log.append(Exchange(method, url, sent, body, response))
        return response

    def _exchange(self, method: str, url: str, headers: dict[str, str], body: str | None) -> Response:
        raise NotImplementedError

    def document_cookie(self) -> str:
        """``document.cookie``: a native app has none."""
        return ""

    def calls(self, method: str | None = None, path: str | None = None) -> list[Exchange]:
        """The exchanges so far, of one method and path (``"/auth/refresh"``) when given."""
        return [e for e in self.log if (method is None or e.method == method) and (path is None or e.path == path)]

    def close(self) -> None:
        """``http.Client.close()``: nothing to release here."""


class DjangoTransport(Transport):
    """Requests served in the process by Django's test client (CSRF checks enforced)."""

    def __init__(self, *, browser_origin: str | None = None) -> None:
        super().__init__()
        self.client = Client(enforce_csrf_checks=True)
        self.browser_origin = browser_origin

    @property
    def is_browser(self) -> bool:
        return self.browser_origin is not None

    def _exchange(self, method: str, url: str, headers: dict[str, str], body: str | None) -> Response:
        parts = urlsplit(url)
        target = f"{parts.path}?{parts.query}" if parts.query else parts.path
        wire = dict(headers)
        content_type = wire.pop("Content-Type", "")
        if self.browser_origin is not None:
            # What a browser adds to a same-origin fetch from a page at browser_origin.
            wire["Sec-Fetch-Site"] = "same-origin"
            if method not in ("GET", "HEAD"):
                wire["Origin"] = self.browser_origin
        else:
            self.client.cookies.clear()  # a native http.Client sends no cookies and keeps none
        # CONTENT_TYPE is passed as well as `content_type`: Django leaves it out of an empty body,
        # Dart sends it on every request.
        answer: Any = self.client.generic(method, target, data=(body or "").encode(), content_type=content_type,
                                          headers=wire, CONTENT_TYPE=content_type)
        return Response(answer.status_code, answer.content.decode("utf-8", "replace"),
                        {name.lower(): value for name, value in answer.headers.items()})

    def document_cookie(self) -> str:
        if self.browser_origin is None:
            return ""
        return "; ".join(f"{name}={morsel.value}" for name, morsel in self.client.cookies.items()
                         if morsel.value and not morsel["httponly"])

    def cookie(self, name: str) -> str | None:
        """A cookie of the browser's jar (HttpOnly ones included), for assertions."""
        morsel = self.client.cookies.get(name)
        return morsel.value if morsel is not None and morsel.value else None


class UrllibTransport(Transport):
    """Real HTTP, as a native app sends it (no cookie jar)."""

    def _exchange(self, method: str, url: str, headers: dict[str, str], body: str | None) -> Response:
        data = body.encode() if body is not None else None
        request = urllib.request.Request(url, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT) as answer:  # noqa: S310 - the test's own server
                return Response(answer.status, answer.read().decode("utf-8", "replace"),
                                {k.lower(): v for k, v in answer.headers.items()})
        except urllib.error.HTTPError as error:
            return Response(error.code, error.read().decode("utf-8", "replace"),
                            {k.lower(): v for k, v in error.headers.items()})
