"""A test client that plays the system browser a native app opens for sign-in
(ASWebAuthenticationSession, Android Custom Tabs, ``flutter_web_auth_2``): it keeps cookies,
follows redirects one hop at a time, and submits HTML forms with their hidden fields (the CSRF
token) and an ``Origin`` header, as a browser does. It stops before a URL that ``stop_at``
matches, or any non-HTTP URL (an app's custom scheme), and hands that URL back unfetched: that
is where the system browser returns control to the app.

    browser = SystemBrowser()
    page = browser.follow(authorize_url)                    # ends on the provider's login page
    page = browser.submit(page, {"username": "alice", "password": "..."}, form_id="login-form",
                          stop_at=redirect_uri)
    page.location                                           # redirect_uri?code=...&state=...

``browser.mount("http://testserver", django.test.Client())`` sends the requests for that origin
through Django's test client instead (in-process, the test's own database and settings; the
client keeps that origin's cookies), so one flow can cross the app under test in-process and the
provider over loopback HTTP.
"""

from __future__ import annotations

import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from html.parser import HTMLParser
from http.cookiejar import CookieJar
from typing import Any

__all__ = ["Form", "Page", "SystemBrowser"]

MAX_HOPS = 20
TIMEOUT = 60


@dataclass
class Form:
    """A form of a page: its ``id``, method, absolute action and the fields it would send
    (inputs with a value, the submit buttons left out)."""

    id: str
    method: str
    action: str
    fields: dict[str, str]
    submits: list[tuple[str, str]] = field(default_factory=list)  # (name, value) of named submit buttons


@dataclass
class Page:
    """One answer. For a redirect, ``location`` is the absolute next URL."""

    url: str
    status: int
    headers: dict[str, str]
    text: str
    location: str | None = None

    @property
    def is_redirect(self) -> bool:
        return self.location is not None

    def query(self) -> dict[str, str]:
        """The query parameters of ``location`` (a redirect) or else of ``url``."""
        parsed = urllib.parse.urlsplit(self.location or self.url)
        return dict(urllib.parse.parse_qsl(parsed.query, keep_blank_values=True))

    def forms(self) -> list[Form]:
        parser = _FormParser(self.url)
        parser.feed(self.text)
        return parser.forms

    def form(self, form_id: str | None = None) -> Form:
        """The form with that ``id`` (or the first one); AssertionError if none."""
        forms = self.forms()
        for form in forms:
            if form_id is None or form.id == form_id:
                return form
        raise AssertionError(f"no form {form_id or ''} on {self.url} ({self.status}): {self.text[:500]}")


class _FormParser(HTMLParser):
    def __init__(self, base: str) -> None:
        super().__init__()
        self.base, self.forms = base, []
        self._form: Form | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            self._form = Form(a.get("id", ""), a.get("method", "get").upper(),
                              urllib.parse.urljoin(self.base, a.get("action", "") or self.base), {})
            self.forms.append(self._form)
        elif self._form is not None and tag in ("input", "button") and a.get("name"):
            kind = a.get("type", "submit" if tag == "button" else "text").lower()
            if kind == "submit":
                self._form.submits.append((a["name"], a.get("value", "")))
            elif kind not in ("checkbox", "radio") or "checked" in a:
                self._form.fields[a["name"]] = a.get("value", "")

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._form = None


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None  # the redirect comes back as an answer; SystemBrowser.follow decides


StopAt = str | Callable[[str], bool] | None


def _stops(url: str, stop_at: StopAt) -> bool:
    if urllib.parse.urlsplit(url).scheme not in ("http", "https"):
        return True
    if stop_at is None:
        return False
    return url.startswith(stop_at) if isinstance(stop_at, str) else stop_at(url)


class SystemBrowser:
    """One browser profile: its own cookie jar. ``history`` lists every URL it fetched."""

    def __init__(self, user_agent: str = "Mozilla/5.0 (dualauth tests; system browser)") -> None:
        self.cookies = CookieJar()
        self.user_agent = user_agent
        self.history: list[str] = []
        self._opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.cookies), _NoRedirect)
        self._mounts: dict[str, Any] = {}

    def mount(self, origin: str, client: Any) -> None:
        """Serve ``origin`` (``scheme://host[:port]``) through ``client``, a ``django.test.Client``."""
        self._mounts[origin.rstrip("/")] = client

    def _through_client(self, client: Any, method: str, url: str, body: bytes | None,
                        headers: Mapping[str, str]) -> Page:
        split = urllib.parse.urlsplit(url)
        path = split.path + ("?" + split.query if split.query else "")
        kwargs: dict[str, Any] = {"headers": dict(headers), "secure": split.scheme == "https"}
        if body is not None:
            kwargs.update(data=body, content_type="application/x-www-form-urlencoded")
        answer = client.generic(method, path, **kwargs)
        location = answer.headers.get("Location")
        return Page(url, answer.status_code, dict(answer.headers.items()), answer.content.decode("utf-8", "replace"),
                    urllib.parse.urljoin(url, location) if location and 300 <= answer.status_code < 400 else None)

    def request(self, method: str, url: str, data: Mapping[str, str] | None = None,
                headers: Mapping[str, str] | None = None) -> Page:
        """One request, redirects not followed."""
        body = urllib.parse.urlencode(data).encode() if data is not None else None
        self.history.append(url)
        origin = "{0.scheme}://{0.netloc}".format(urllib.parse.urlsplit(url))
        if origin in self._mounts:
            return self._through_client(self._mounts[origin], method, url, body,
                                        {"User-Agent": self.user_agent, **(headers or {})})
        request = urllib.request.Request(url, data=body, method=method,
                                         headers={"User-Agent": self.user_agent, **(headers or {})})
        if body is not None:
            request.add_header("Content-Type", "application/x-www-form-urlencoded")
        try:
            answer = self._opener.open(request, timeout=TIMEOUT)
        except urllib.error.HTTPError as error:  # 3xx (not followed) and 4xx/5xx arrive here
            answer = error
        with answer:
            raw = answer.read()
            headers_ = dict(answer.headers.items())
            status = answer.status if hasattr(answer, "status") else answer.code
        location = headers_.get("Location")
        return Page(url, status, headers_, raw.decode("utf-8", "replace"),
                    urllib.parse.urljoin(url, location) if location and 300 <= status < 400 else None)

    def follow(self, url: str, *, stop_at: StopAt = None, page: Page | None = None) -> Page:
        """GET ``url`` (or start from ``page``) and follow redirects, returning the first answer
        that is not a redirect, or the redirect whose target ``stop_at`` matches (unfetched)."""
        page = page or self.request("GET", url)
        for _ in range(MAX_HOPS):
            if page.location is None or _stops(page.location, stop_at):
                return page
            page = self.request("GET", page.location)
        raise AssertionError(f"more than {MAX_HOPS} redirects from {url}: {self.history[-MAX_HOPS:]}")

    def submit(self, page: Page, values: Mapping[str, str] | None = None, *, form_id: str | None = None,
               button: str | None = None, stop_at: StopAt = None) -> Page:
        """Fill and send a form of ``page`` (hidden fields such as the CSRF token kept), pressing
        the submit button named ``button`` if given, then follow redirects as :meth:`follow`."""
        form = page.form(form_id)
        data = {**form.fields, **(values or {})}
        if button is not None:
            data.update({name: value for name, value in form.submits if name == button})
        origin = "{0.scheme}://{0.netloc}".format(urllib.parse.urlsplit(page.url))
        headers = {"Origin": origin, "Referer": page.url}
        if form.method == "POST":
            answer = self.request("POST", form.action, data, headers)
        else:
            answer = self.request("GET", form.action + "?" + urllib.parse.urlencode(data), headers=headers)
        return self.follow(form.action, stop_at=stop_at, page=answer)
