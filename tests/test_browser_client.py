"""The shipped browser client (django_dualauth/static/dualauth/dualauth.js) in headless Chromium,
against the example project served by gunicorn with DEBUG off (tests/live_server.py) under
tests/webclient_site/settings.py: a harness page on the API's own origin imports the client
from /static/ as a deployment serves it, and the server writes down every request it answered
(``GET /harness/log``), so counts (one refresh, one retry) are the server's, not the page's.

Pages on other origins (a trusted single-page app on another port, an attacker's page on
another site or port) are served by :class:`Site`, a small HTTP server on 127.0.0.1.
"""

from __future__ import annotations

import base64
import json
import re
import threading
import urllib.request
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.browser import wait_until
from tests.live_server import DEMO_EMAIL, DEMO_PASSWORD, Client, live_server
from tests.webclient_site.views import page

pytestmark = pytest.mark.browser

CLIENT_JS = Path(__file__).resolve().parents[1] / "django_dualauth" / "static" / "dualauth" / "dualauth.js"
SETTINGS = "tests.webclient_site.settings"
ACCESS_SECONDS = 5  # the short-lived server's access-token lifetime
HOLD_SECONDS = 2  # how long it holds a refresh for a second one to overlap
TOKEN_COOKIES = ("__Host-accessToken", "__Host-refreshToken")  # DEBUG off: __Host- names


class Site:
    """Static pages on a free port of 127.0.0.1 (``path -> (content type, body)``). Under
    ``/api/`` it plays a third party's API for any origin (CORS with credentials): every request
    is written down in ``received`` (method, path, header names) and answered
    ``401 NOT_AUTHENTICATED``."""

    def __init__(self) -> None:
        self.pages: dict[str, tuple[str, bytes]] = {}
        self.received: list[tuple[str, str, set[str]]] = []
        pages, received = self.pages, self.received

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                if self.path.startswith("/api/"):
                    return self.third_party()
                found = pages.get(self.path.split("?")[0])
                self.send_response(200 if found else 404)
                self.send_header("Content-Type", found[0] if found else "text/plain")
                self.end_headers()
                self.wfile.write(found[1] if found else b"not found")

            def do_POST(self) -> None:  # noqa: N802
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                self.third_party()

            def do_OPTIONS(self) -> None:  # noqa: N802
                self.third_party(preflight=True)

            def third_party(self, preflight: bool = False) -> None:
                received.append((self.command, self.path, {name.lower() for name in self.headers}))
                self.send_response(204 if preflight else 401)
                self.send_header("Access-Control-Allow-Origin", self.headers.get("Origin", "*"))
                self.send_header("Access-Control-Allow-Credentials", "true")
                self.send_header("Access-Control-Allow-Headers", "content-type, x-csrf-token")
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                if not preflight:
                    self.wfile.write(b'{"error": "Authentication required", "code": "NOT_AUTHENTICATED"}')

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Site:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def url(self, host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}"


@pytest.fixture(scope="module")
def spa() -> Iterator[Site]:
    """A single-page app on another port of 127.0.0.1: same site, other origin, trusted."""
    with Site() as site:
        yield site


@pytest.fixture(scope="module")
def attacker() -> Iterator[Site]:
    """An untrusted page: as ``localhost`` another site, as ``127.0.0.1`` the same site."""
    with Site() as site:
        yield site


SERVER_LOGS: dict[str, Path] = {}  # base URL -> the server's output (its console mails)


def _serve(tmp_path_factory: Any, spa: Site, **env: str) -> Iterator[str]:
    env = {"DJANGO_SETTINGS_MODULE": SETTINGS, "WEBCLIENT_CORS_ORIGIN": spa.url(),
           "DJANGO_CSRF_TRUSTED_ORIGINS": spa.url(), **env}
    tmp = tmp_path_factory.mktemp("webclient")
    with live_server(tmp, env=env) as base:
        SERVER_LOGS[base] = tmp / "server.log"
        yield base


@pytest.fixture(scope="module")
def api(tmp_path_factory: Any, spa: Site) -> Iterator[str]:
    """The API with the default 15-minute access tokens."""
    yield from _serve(tmp_path_factory, spa)


@pytest.fixture(scope="module")
def short_api(tmp_path_factory: Any, spa: Site) -> Iterator[str]:
    """The API with access tokens of ACCESS_SECONDS, strict rotation (no grace window: a refresh
    token presented twice revokes the session), and each refresh held until a second one is in
    flight or HOLD_SECONDS passed."""
    yield from _serve(tmp_path_factory, spa, WEBCLIENT_ACCESS_TOKEN_SECONDS=str(ACCESS_SECONDS),
                      WEBCLIENT_REFRESH_REUSE_GRACE="0", WEBCLIENT_REFRESH_HOLD_SECONDS=str(HOLD_SECONDS))


@pytest.fixture(scope="module")
def required_2fa_api(tmp_path_factory: Any, spa: Site) -> Iterator[str]:
    """The API with ``DUALAUTH_REQUIRE_2FA``: a user without 2FA must enrol to sign in."""
    yield from _serve(tmp_path_factory, spa, WEBCLIENT_REQUIRE_2FA="1")


# --- helpers ---------------------------------------------------------------------------------------------

def server_log(base: str) -> list[dict[str, Any]]:
    with urllib.request.urlopen(base + "/harness/log", timeout=60) as response:  # noqa: S310 - loopback
        return json.loads(response.read())  # type: ignore[no-any-return]


def since(base: str, mark: int) -> list[dict[str, Any]]:
    return server_log(base)[mark:]


def open_harness(browser: Any, url: str) -> None:
    browser.get(url)
    wait_until(browser, lambda d: d.execute_script("return window.harnessReady === true"),
               message=f"the harness at {url} did not load the client")


def run(browser: Any, body: str) -> Any:
    """Run ``body`` (an async function body) in the page; its value, or raise PageError."""
    browser.set_script_timeout(60)
    outcome = browser.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        f"(async () => {{ {body} }})().then((value) => done({{ ok: true, value }}),"
        " (e) => done({ ok: false, error: { name: e && e.name, status: e && e.status, code: e && e.code,"
        " message: String(e && e.message), isDualAuthError: e instanceof window.DualAuthError } }));")
    if not outcome["ok"]:
        raise PageError(outcome["error"])
    return outcome["value"]


class PageError(Exception):
    def __init__(self, error: dict[str, Any]) -> None:
        super().__init__(error)
        self.error = error


def rejection(browser: Any, body: str) -> dict[str, Any]:
    with pytest.raises(PageError) as caught:
        run(browser, body)
    return caught.value.error


def sign_in(browser: Any) -> dict[str, Any]:
    result = run(browser, f"return await client.login({json.dumps(DEMO_EMAIL)}, {json.dumps(DEMO_PASSWORD)});")
    assert result["status"] == "signed-in", result
    return result  # type: ignore[no-any-return]


def events(browser: Any, kind: str) -> list[dict[str, Any]]:
    return [e["detail"] for e in browser.execute_script("return window.events") if e["type"] == kind]


def token_cookies(browser: Any) -> set[str]:
    """The token cookies the browser holds (read through DevTools: page script cannot)."""
    return {c["name"] for c in browser.execute_cdp_cmd("Network.getAllCookies", {})["cookies"]
            if c["name"] in TOKEN_COOKIES}


def assert_no_token_in_document_cookie(browser: Any) -> None:
    visible = browser.execute_script("return document.cookie")
    for name in (*TOKEN_COOKIES, "accessToken", "refreshToken"):
        assert name not in visible, visible
    assert not re.search(r"eyJ[\w-]+\.[\w-]+\.", visible), visible  # no JWT under any name


def hits(entries: list[dict[str, Any]], path: str, method: str | None = None) -> list[dict[str, Any]]:
    return [e for e in entries if e["path"] == path and (method is None or e["method"] == method)]


def wait_for_expiry(browser: Any) -> None:
    """Until the access token is no longer accepted (a plain fetch, not the client)."""
    def expired(driver: Any) -> bool:
        status = run(driver, "return (await fetch('/auth/me', {credentials: 'include'})).status;")
        return status == 401  # type: ignore[no-any-return]
    wait_until(browser, expired, timeout=ACCESS_SECONDS + 60, message="the access token never expired")


# --- tests -----------------------------------------------------------------------------------------------

def test_ten_parallel_calls_after_expiry_share_one_refresh_and_all_succeed(browser: Any, short_api: str) -> None:
    open_harness(browser, short_api + "/harness/")
    sign_in(browser)
    assert run(browser, "return (await client.me()).email;") == DEMO_EMAIL
    assert token_cookies(browser) == set(TOKEN_COOKIES)
    assert_no_token_in_document_cookie(browser)
    wait_for_expiry(browser)
    browser.execute_script("window.requests = []")

    mark = len(server_log(short_api))
    emails = run(browser, "return (await Promise.all(Array.from({length: 10},"
                          " () => client.call('GET', 'me')))).map((me) => me.email);")
    assert emails == [DEMO_EMAIL] * 10
    entries = since(short_api, mark)
    refreshes = hits(entries, "/auth/refresh")
    assert [(e["status"], e["refresh"]) for e in refreshes] == [(200, True)], entries
    me = hits(entries, "/auth/me")
    assert sorted(e["status"] for e in me) == [200] * 10 + [401] * 10, me
    assert all(e["code"] in ("INVALID_ACCESS_TOKEN", "NOT_AUTHENTICATED") for e in me if e["status"] == 401)
    page_refreshes = [r for r in browser.execute_script("return window.requests") if r["url"].endswith("/refresh")]
    assert len(page_refreshes) == 1
    assert events(browser, "signedout") == []
    assert token_cookies(browser) == set(TOKEN_COOKIES)  # the new pair, still out of reach of script
    assert_no_token_in_document_cookie(browser)


def test_two_tabs_that_need_a_refresh_at_once_take_turns(browser: Any, short_api: str) -> None:
    """Tabs share the cookies, so two refreshing at once would present one refresh token twice:
    on this server (no grace window) that revokes the session. The Web Lock makes the second tab
    wait, and then rotate the token the first tab got."""
    open_harness(browser, short_api + "/harness/")
    sign_in(browser)
    tabs = [browser.current_window_handle]
    browser.switch_to.new_window("tab")
    open_harness(browser, short_api + "/harness/")
    tabs.append(browser.current_window_handle)
    assert run(browser, "return isSecureContext && typeof navigator.locks.request === 'function';")
    wait_for_expiry(browser)

    mark = len(server_log(short_api))
    start = ("window.outcome = null; window.start = () => Promise.all([client.me(), client.me()]).then("
             "(all) => { window.outcome = all.map((me) => me.email); }, (e) => { window.outcome = e.code; });"
             "window.go = new BroadcastChannel('go'); window.go.onmessage = () => window.start();")
    for tab in tabs:
        browser.switch_to.window(tab)
        browser.execute_script(start)
    # Both tabs start at once: this one, and the other on the message (which its sender does not get).
    browser.execute_script("window.start(); window.go.postMessage('go');")
    for tab in tabs:
        browser.switch_to.window(tab)
        outcome = wait_until(browser, lambda d: d.execute_script("return window.outcome"),
                             timeout=HOLD_SECONDS * 2 + 60)
        assert outcome == [DEMO_EMAIL] * 2
        assert events(browser, "signedout") == []
    refreshes = hits(since(short_api, mark), "/auth/refresh")
    assert [(e["status"], e["overlap"]) for e in refreshes] == [(200, 1), (200, 1)], refreshes


def test_document_cookie_never_shows_a_token(browser: Any, api: str) -> None:
    open_harness(browser, api + "/harness/")
    assert_no_token_in_document_cookie(browser)
    sign_in(browser)
    assert token_cookies(browser) == set(TOKEN_COOKIES)  # they are there, HttpOnly
    assert_no_token_in_document_cookie(browser)
    assert "csrf-token=" in browser.execute_script("return document.cookie")  # script reads what it may
    assert run(browser, "return await client.refresh();") is True
    assert_no_token_in_document_cookie(browser)
    assert run(browser, "return (await client.me()).email;") == DEMO_EMAIL
    assert_no_token_in_document_cookie(browser)
    # The client keeps nothing in web storage either.
    assert browser.execute_script("return localStorage.length + sessionStorage.length") == 0


def test_a_logout_in_a_second_tab_signs_the_first_out_at_its_next_call(browser: Any, api: str) -> None:
    open_harness(browser, api + "/harness/")
    sign_in(browser)
    first = browser.current_window_handle
    browser.switch_to.new_window("tab")
    open_harness(browser, api + "/harness/")
    run(browser, "await client.logout();")
    assert events(browser, "signedout") == [{"reason": "logout"}]
    assert token_cookies(browser) == set()  # the tabs share the cookie jar: both are gone

    browser.switch_to.window(first)
    assert events(browser, "signedout") == []
    mark = len(server_log(api))
    error = rejection(browser, "return await client.me();")
    # What the server answers: no access cookie any more (NOT_AUTHENTICATED), and the refresh the
    # client then tries finds no refresh cookie: the refresh failed, the user is signed out.
    assert error["isDualAuthError"] and (error["status"], error["code"]) == (401, "NOT_AUTHENTICATED"), error
    assert events(browser, "signedout") == [{"reason": "refresh-failed", "code": "NO_REFRESH_TOKEN"}]
    entries = since(api, mark)
    assert [(e["path"], e["status"], e["code"]) for e in entries] == [
        ("/auth/me", 401, "NOT_AUTHENTICATED"), ("/auth/refresh", 401, "NO_REFRESH_TOKEN")]


def test_a_logout_everywhere_from_another_device_is_session_revoked_at_the_next_call(
        browser: Any, api: str) -> None:
    open_harness(browser, api + "/harness/")
    sign_in(browser)
    phone = Client(api, "bearer")
    assert phone.login().status == 200
    revoked = phone.call("POST", "/auth/logout-all")
    assert revoked.status == 200 and revoked.body["revokedSessions"] >= 2, revoked.body

    mark = len(server_log(api))
    error = rejection(browser, "return await client.call('GET', 'sessions');")
    assert (error["status"], error["code"]) == (401, "SESSION_REVOKED"), error
    assert events(browser, "signedout") == [{"reason": "session-revoked", "code": "SESSION_REVOKED"}]
    # A revoked session is not refreshed: the access cookie was still there and told the truth.
    entries = since(api, mark)
    assert [(e["path"], e["status"], e["access"]) for e in entries] == [("/auth/sessions", 401, True)], entries
    # Once per transition: the next call does not announce it again.
    rejection(browser, "return await client.me();")
    assert len(events(browser, "signedout")) == 1


def test_a_failed_refresh_signs_out_once_however_many_calls_meet_it(browser: Any, api: str) -> None:
    open_harness(browser, api + "/harness/")
    sign_in(browser)
    # Both cookies gone (as when the session's lifetime ends): every call's refresh must fail.
    browser.execute_cdp_cmd("Network.deleteCookies", {"name": TOKEN_COOKIES[0], "url": api + "/"})
    browser.execute_cdp_cmd("Network.deleteCookies", {"name": TOKEN_COOKIES[1], "url": api + "/"})
    mark = len(server_log(api))
    errors = run(browser, "return (await Promise.allSettled(Array.from({length: 10},"
                          " () => client.call('GET', 'me')))).map((r) => r.status === 'rejected' && r.reason.code);")
    assert errors == ["NOT_AUTHENTICATED"] * 10
    assert events(browser, "signedout") == [{"reason": "refresh-failed", "code": "NO_REFRESH_TOKEN"}]
    entries = since(api, mark)
    assert [(e["status"], e["code"]) for e in hits(entries, "/auth/refresh")] == [(401, "NO_REFRESH_TOKEN")]
    # A later call tries once more (another tab may have signed in since) and stays quiet.
    assert rejection(browser, "return await client.me();")["code"] == "NOT_AUTHENTICATED"
    assert len(events(browser, "signedout")) == 1


def test_a_401_after_a_successful_refresh_is_not_retried_again(browser: Any, api: str) -> None:
    open_harness(browser, api + "/harness/")
    sign_in(browser)
    mark = len(server_log(api))
    # Bounded in the page, so a client that loops fails here instead of hanging the run.
    error = rejection(browser, "return await Promise.race([client.call('GET', '/harness/always-401'),"
                               " new Promise((_, no) => setTimeout(() => no(new Error('looping')), 20000))]);")
    assert (error["status"], error["code"]) == (401, "INVALID_ACCESS_TOKEN"), error
    entries = since(api, mark)
    assert [(e["path"], e["status"]) for e in entries] == [
        ("/harness/always-401", 401), ("/auth/refresh", 200), ("/harness/always-401", 401)], entries
    assert events(browser, "signedout") == []  # the session is fine; that API is not
    assert run(browser, "return (await client.me()).email;") == DEMO_EMAIL


def test_a_stale_csrf_token_is_fetched_again_once(browser: Any, api: str) -> None:
    open_harness(browser, api + "/harness/")
    sign_in(browser)
    first = browser.current_window_handle
    browser.switch_to.new_window("tab")
    open_harness(browser, api + "/harness/")
    sign_in(browser)  # a new login in this browser rotates the CSRF cookie the tabs share
    browser.switch_to.window(first)

    mark = len(server_log(api))
    answer = run(browser, "return await client.call('PATCH', 'profile', {firstName: 'Ada'});")
    assert answer == {"success": True}
    entries = since(api, mark)
    assert [(e["method"], e["path"], e["status"], e["code"]) for e in entries] == [
        ("PATCH", "/auth/profile", 403, "CSRF_INVALID"), ("GET", "/auth/csrf", 200, None),
        ("PATCH", "/auth/profile", 200, None)], entries
    assert run(browser, "return (await client.me()).firstName;") == "Ada"


@pytest.mark.parametrize("host", ["localhost", "127.0.0.1"], ids=["cross-site", "same-site-other-origin"])
def test_a_forged_post_from_another_page_is_refused_and_the_session_survives(
        browser: Any, api: str, attacker: Site, host: str) -> None:
    target = api + "/auth/logout-all"
    attacker.pages["/forge.html"] = ("text/html", f"""<!doctype html><html><body>
<form id="f" method="post" action="{target}"><input name="x" value="1"></form>
<script>
(async () => {{
  const send = (init) => fetch({json.dumps(target)}, {{method: "POST", credentials: "include", mode: "no-cors",
                                                    ...init}}).then(() => "sent", (e) => String(e));
  window.results = [await send({{}}), await send({{headers: {{"Content-Type": "text/plain"}}, body: "{{}}"}})];
  window.forged = true;
}})();
</script></body></html>""".encode())
    open_harness(browser, api + "/harness/")
    sign_in(browser)
    mark = len(server_log(api))
    browser.get(attacker.url(host) + "/forge.html")
    wait_until(browser, lambda d: d.execute_script("return window.forged === true"))
    browser.execute_script("document.getElementById('f').submit()")  # a top-level form POST too
    wait_until(browser, lambda d: len(hits(since(api, mark), "/auth/logout-all")) == 3,
               message="the forged requests did not all reach the server")
    forged = hits(since(api, mark), "/auth/logout-all")
    if host == "localhost":  # another site: SameSite=Lax keeps the cookies home
        assert [(e["access"], e["status"], e["code"]) for e in forged] == [(False, 401, "NOT_AUTHENTICATED")] * 3
    else:  # the same site: the cookies go, and the server's CSRF layers refuse
        assert all(e["access"] and e["site"] == "same-site" for e in forged), forged
        assert sorted((e["status"], e["code"]) for e in forged) == [
            (403, "CSRF_INVALID"), (415, "UNSUPPORTED_MEDIA_TYPE"), (415, "UNSUPPORTED_MEDIA_TYPE")], forged
    open_harness(browser, api + "/harness/")
    assert run(browser, "return (await client.me()).email;") == DEMO_EMAIL  # still signed in
    assert events(browser, "signedout") == []


def test_a_third_partys_api_gets_no_csrf_token_and_its_401_no_refresh(
        browser: Any, api: str, attacker: Site) -> None:
    open_harness(browser, api + "/harness/")
    sign_in(browser)
    mark, seen = len(server_log(api)), len(attacker.received)
    other = json.dumps(attacker.url() + "/api/things")
    error = rejection(browser, f"return await client.call('POST', {other}, {{name: 'x'}});")
    assert (error["status"], error["code"]) == (401, "NOT_AUTHENTICATED"), error
    assert rejection(browser, f"return await client.call('GET', {other});")["status"] == 401
    sent = attacker.received[seen:]
    assert [(method, path) for method, path, _ in sent] == [
        ("OPTIONS", "/api/things"), ("POST", "/api/things"), ("GET", "/api/things")], sent  # not retried
    assert all("x-csrf-token" not in headers for _, _, headers in sent)
    assert since(api, mark) == []  # no refresh, no CSRF token fetched for it
    assert events(browser, "signedout") == []


def _totp(secret: str, drift: int = 0) -> str:
    from django_otp.oath import totp

    key = base64.b32decode(secret + "=" * (-len(secret) % 8))
    return f"{totp(key, drift=drift):06d}"


def test_two_factor_enrolment_and_sign_in_through_the_client(browser: Any, api: str) -> None:
    email, password = f"ada-{uuid.uuid4().hex[:8]}@example.com", "a-long-enough-password-42"
    open_harness(browser, api + "/harness/")
    registered = run(browser, f"return await client.call('POST', 'register', "
                              f"{{email: {json.dumps(email)}, password: {json.dumps(password)}}});")
    assert registered["success"] is True, registered
    assert events(browser, "signedin") == []  # registering does not sign in
    signed_in = run(browser, f"return await client.login({json.dumps(email)}, {json.dumps(password)});")
    assert signed_in["status"] == "signed-in"
    assert [e["result"]["status"] for e in events(browser, "signedin")] == ["signed-in"]
    setup = run(browser, "return await client.call('POST', '2fa/setup');")
    confirmed = run(browser, f"return await client.call('POST', '2fa/verify-setup', "
                             f"{{token: {json.dumps(_totp(setup['secret']))}}});")
    assert confirmed["success"] is True and len(confirmed["recoveryCodes"]) >= 8
    run(browser, "await client.logout();")

    first = run(browser, f"return await client.login({json.dumps(email)}, {json.dumps(password)});")
    assert first["status"] == "two-factor" and "totp" in first["methods"], first
    assert token_cookies(browser) == set()  # no session before the second factor
    mark = len(server_log(api))
    # The next step's code: the current one was spent on the enrolment (replays are refused);
    # the device accepts one step of drift.
    result = run(browser, f"return await client.verifyTwoFactor({json.dumps(first['tempToken'])},"
                          f" {{totpCode: {json.dumps(_totp(setup['secret'], drift=1))}}});")
    assert result["status"] == "signed-in" and result["expiresIn"] > 0, result
    assert events(browser, "signedin")[-1]["result"]["status"] == "signed-in"
    me = run(browser, "return await client.me();")
    assert me["email"] == email and me["isTotpEnabled"] is True
    # The sign-in rotated the CSRF token and the client fetched the new one: no 403 on the next POST.
    assert run(browser, "return await client.logoutAll();") == 1
    entries = since(api, mark)
    assert [(e["method"], e["path"], e["status"]) for e in entries] == [
        ("POST", "/auth/2fa/verify", 200), ("GET", "/auth/csrf", 200), ("GET", "/auth/me", 200),
        ("POST", "/auth/logout-all", 200)], entries
    assert events(browser, "signedout")[-1] == {"reason": "logout-all"}


def test_enrolment_that_the_server_requires_signs_in_through_the_client(
        browser: Any, required_2fa_api: str) -> None:
    api = required_2fa_api
    email, password = f"di-{uuid.uuid4().hex[:8]}@example.com", "a-long-enough-password-42"
    created = Client(api, "bearer").call("POST", "/auth/register", {"email": email, "password": password})
    assert created.status == 201, created.body
    open_harness(browser, api + "/harness/")
    first = run(browser, f"return await client.login({json.dumps(email)}, {json.dumps(password)});")
    assert first["status"] == "two-factor-setup" and first["tempToken"], first  # a 403 on the wire, not an error
    assert first["body"]["code"] == "2FA_SETUP_REQUIRED"
    assert events(browser, "signedin") == [] and token_cookies(browser) == set()
    temp = json.dumps(first["tempToken"])
    setup = run(browser, f"return await client.call('POST', '2fa/setup', {{tempToken: {temp}}});")
    mark = len(server_log(api))
    done = run(browser, f"return await client.call('POST', '2fa/verify-setup', "
                        f"{{tempToken: {temp}, token: {json.dumps(_totp(setup['secret']))}}});")
    assert done["success"] is True and done["expiresIn"] > 0 and len(done["recoveryCodes"]) >= 8
    # call() saw a new session: the client announced it and fetched the rotated CSRF token.
    assert events(browser, "signedin") == [{"result": {"status": "signed-in", "expiresIn": done["expiresIn"],
                                                       "body": done}}]
    assert token_cookies(browser) == set(TOKEN_COOKIES)
    assert run(browser, "return (await client.me()).isTotpEnabled;") is True
    assert run(browser, "return await client.call('PATCH', 'profile', {firstName: 'Di'});") == {"success": True}
    entries = since(api, mark)
    assert [(e["method"], e["path"], e["status"]) for e in entries] == [
        ("POST", "/auth/2fa/verify-setup", 200), ("GET", "/auth/csrf", 200), ("GET", "/auth/me", 200),
        ("PATCH", "/auth/profile", 200)], entries


def test_a_wrong_code_and_a_cancelled_second_step(browser: Any, api: str) -> None:
    email, password = f"bo-{uuid.uuid4().hex[:8]}@example.com", "a-long-enough-password-42"
    open_harness(browser, api + "/harness/")
    run(browser, f"await client.call('POST', 'register', {{email: {json.dumps(email)}, "
                 f"password: {json.dumps(password)}}});")
    run(browser, f"await client.login({json.dumps(email)}, {json.dumps(password)});")
    setup = run(browser, "return await client.call('POST', '2fa/setup');")
    run(browser, f"await client.call('POST', '2fa/verify-setup', {{token: {json.dumps(_totp(setup['secret']))}}});")
    run(browser, "await client.logout();")
    first = run(browser, f"return await client.login({json.dumps(email)}, {json.dumps(password)});")
    temp = json.dumps(first["tempToken"])
    error = rejection(browser, f"return await client.verifyTwoFactor({temp}, {{totpCode: '000000'}});")
    assert (error["status"], error["code"]) == (401, "INVALID_2FA_CODE"), error
    run(browser, f"await client.cancelTwoFactor({temp});")
    code = json.dumps(_totp(setup["secret"], drift=1))
    error = rejection(browser, f"return await client.verifyTwoFactor({temp}, {{totpCode: {code}}});")
    assert (error["status"], error["code"]) == (401, "INVALID_TEMP_TOKEN"), error


def test_magic_link_sign_in_through_the_client(browser: Any, api: str) -> None:
    # A new account: a link is the first proof of the mailbox, which resets what was set up before
    # (the pre-account hijacking defence): the demo user's password would be gone for the others.
    email = f"cy-{uuid.uuid4().hex[:8]}@example.com"
    created = Client(api, "bearer").call("POST", "/auth/register", {"email": email, "password": "a-long-pass-4242"})
    assert created.status == 201, created.body
    log = SERVER_LOGS[api]
    before = log.read_text()
    open_harness(browser, api + "/harness/")
    run(browser, f"await client.sendMagicLink({json.dumps(email)});")

    def token(_: Any) -> str | None:
        found = re.findall(r"magic-link\?token=([\w-]+)", log.read_text()[len(before):])
        return found[-1] if found else None
    raw = wait_until(browser, token, message="no magic-link mail in the server's log")
    result = run(browser, f"return await client.verifyMagicLink({json.dumps(raw)});")
    assert result["status"] == "signed-in", result
    assert events(browser, "signedin") == [{"result": result}]
    assert run(browser, "return (await client.me()).email;") == email
    error = rejection(browser, f"return await client.verifyMagicLink({json.dumps(raw)});")
    assert error["code"] == "INVALID_MAGIC_LINK"  # single use


def test_cross_origin_single_page_app_with_an_absolute_base_url(browser: Any, api: str, spa: Site) -> None:
    spa.pages["/dualauth.js"] = ("text/javascript", CLIENT_JS.read_bytes())
    spa.pages["/app.html"] = ("text/html", page("/dualauth.js", {"baseUrl": api + "/auth"}).encode())
    open_harness(browser, spa.url() + "/app.html")
    mark = len(server_log(api))
    sign_in(browser)
    assert run(browser, "return (await client.me()).email;") == DEMO_EMAIL
    assert run(browser, "return await client.call('PATCH', 'profile', {lastName: 'Lovelace'});") == {"success": True}
    assert run(browser, "return await client.refresh();") is True
    run(browser, "await client.logout();")
    entries = since(api, mark)
    unsafe = [e for e in entries if e["method"] in ("POST", "PATCH")]
    assert [(e["path"], e["status"]) for e in unsafe] == [
        ("/auth/login", 200), ("/auth/profile", 200), ("/auth/refresh", 200), ("/auth/logout", 200)], entries
    assert all(e["origin"] == spa.url() and e["site"] == "same-site" and e["csrfHeader"] for e in unsafe)
    assert events(browser, "signedout") == [{"reason": "logout"}]
    assert token_cookies(browser) == set()


def test_a_redirect_to_another_origin_never_carries_the_csrf_token(browser: Any, api: str, attacker: Site) -> None:
    """[CSRF-06] An unsafe call to an own-origin URL that redirects (307: method, body and
    headers kept) to another origin: fetch would follow it with the CSRF header the client set,
    handing the token to that origin (an open redirect on the API's or the page's origin is all
    it takes). The client refuses redirects of the requests it gives its token to."""
    open_harness(browser, api + "/harness/")
    sign_in(browser)
    seen = len(attacker.received)
    target = json.dumps("/harness/redirect-307?to=" + attacker.url("localhost") + "/api/things")
    error = rejection(browser, f"return await client.call('POST', {target}, {{name: 'x'}});")
    assert (error["status"], error["code"]) == (0, "NETWORK_ERROR"), error
    sent = attacker.received[seen:]
    assert all("x-csrf-token" not in headers for _, _, headers in sent), sent
    assert sent == [], sent  # not followed at all
    # A safe request carries no token and follows redirects as fetch does.
    status = run(browser, f"return (await client.fetch({target})).status;")
    assert status == 401  # the third party's answer, reached through the redirect
    assert all("x-csrf-token" not in headers for _, _, headers in attacker.received[seen:])
    assert run(browser, "return (await client.me()).email;") == DEMO_EMAIL
    assert events(browser, "signedout") == []
    # Nothing of the session in web storage or in any URL the client fetched.
    assert run(browser, "return [localStorage.length, sessionStorage.length];") == [0, 0]
    fetched = run(browser, "return window.requests.map((r) => r.url);")
    assert not any(re.search(r"eyJ|token=|csrf", url, re.I) for url in fetched if "/csrf" not in url), fetched
