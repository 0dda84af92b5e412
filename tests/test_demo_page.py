"""The example project's demo page (``/``) and the pages its mails link to, in headless Chromium
against the project served by gunicorn with DEBUG off (tests/live_server.py): static files,
the shipped browser client, sign-in with and without the second step, 2FA enrolment, the
sessions list, the password change, magic links, password reset, e-mail verification, the
keyboard, and the same page on another origin (docs/recipe-cross-origin.md).

The run saves the screenshots the docs show: into ``DUALAUTH_SCREENSHOTS`` when set (``make
screenshots`` sets ``docs/images``), else into the test's tmp directory."""

from __future__ import annotations

import base64
import json
import os
import re
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from example_project.demo.howto import howto
from tests.browser import wait_for_url, wait_until
from tests.live_server import DEMO_EMAIL, DEMO_PASSWORD, Client, free_port, live_server, manage

ROOT = Path(__file__).resolve().parents[1]
PASSWORD = "a-long-test-passphrase-41"
NEW_PASSWORD = "another-long-passphrase-42"
#: one account per test that changes its account, so that the tests do not depend on their order
USERS = ("twofa", "sessions", "password", "magic", "reset", "verify", "keyboard", "errors", "required",
         "change", "mail2fa")
PNG = b"\x89PNG\r\n\x1a\n"


def email(name: str) -> str:
    return f"{name}@example.com"


@dataclass
class Demo:
    base: str
    log: Path


def _create_users(tmp: Path) -> None:
    code = ("from django.contrib.auth import get_user_model\n"
            "U = get_user_model()\n"
            f"for name in {USERS!r}:\n"
            "    e = name + '@example.com'\n"
            "    u = U.objects.create_user(username=e, email=e)\n"
            f"    u.set_password({PASSWORD!r}); u.save()\n")
    code += ("from django_dualauth.models import AccountState\n"
             "AccountState.objects.create(user=U.objects.get(username='required@example.com'),"
             " two_factor_required=True)\n")
    code += ("from django_otp.plugins.otp_totp.models import TOTPDevice\n"
             "u = U.objects.get(username='mail2fa@example.com')\n"
             "TOTPDevice.objects.create(user=u, name='app', confirmed=True)\n"
             "AccountState.objects.create(user=u, two_factor_enabled=True)\n")
    manage(tmp, "shell", "-c", code)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: Any) -> Iterator[Demo]:
    tmp = tmp_path_factory.mktemp("demo-page")
    port = free_port()
    # DEMO_ORIGIN is what `make demo` sets: the mails link to the demo's own pages.
    with live_server(tmp, env={"DEMO_ORIGIN": f"http://127.0.0.1:{port}"}, port=port) as base:
        _create_users(tmp)
        yield Demo(base, tmp / "server.log")


@pytest.fixture
def browser(browser: Any) -> Any:
    """The suite's browser, its console log emptied: what :func:`page_errors` reads is this test's."""
    browser.get_log("browser")
    return browser


@pytest.fixture
def shots(screenshot_dir: Path) -> Path:
    """Where the docs' screenshots go: ``DUALAUTH_SCREENSHOTS`` (relative to the checkout) or tmp."""
    configured = os.environ.get("DUALAUTH_SCREENSHOTS")
    if not configured:
        return screenshot_dir
    path = Path(configured) if Path(configured).is_absolute() else ROOT / configured
    path.mkdir(parents=True, exist_ok=True)
    return path


# ---- helpers

def by_id(browser: Any, element_id: str) -> Any:
    from selenium.webdriver.common.by import By

    return browser.find_element(By.ID, element_id)


def shown(browser: Any, element_id: str) -> Any:
    """Wait until the element is displayed; the element."""
    return wait_until(browser, lambda d: (lambda e: e if e.is_displayed() else None)(by_id(d, element_id)),
                      message=f"#{element_id} never shown")


def text_of(browser: Any, element_id: str, contains: str) -> str:
    return wait_until(browser, lambda d: (lambda t: t if contains in t else None)(by_id(d, element_id).text),
                      message=f"#{element_id} never said {contains!r}")


def open_home(browser: Any, base: str) -> None:
    browser.get(base + "/")
    wait_until(browser, lambda d: by_id(d, "signed-out").is_displayed() or by_id(d, "signed-in").is_displayed(),
               message="the page never showed either view")


def fill(browser: Any, values: dict[str, str]) -> None:
    for element_id, value in values.items():
        field = by_id(browser, element_id)
        field.clear()
        field.send_keys(value)


def submit(browser: Any, form_id: str) -> None:
    from selenium.webdriver.common.by import By

    by_id(browser, form_id).find_element(By.CSS_SELECTOR, "button[type=submit]").click()


def sign_in(browser: Any, base: str, address: str, password: str) -> None:
    open_home(browser, base)
    fill(browser, {"login-email": address, "login-password": password})
    submit(browser, "login-form")


def signed_in_as(browser: Any, address: str, *, just_now: bool = True) -> None:
    """The page shows the account of ``address``. ``just_now``: after a sign-in step on this
    page, which ends by saying so and moving the focus to ``main``: typing before that could
    lose keys to the move."""
    shown(browser, "signed-in")
    text_of(browser, "me", address)
    if just_now:
        text_of(browser, "status", "Signed in.")


def page_errors(browser: Any) -> list[dict[str, Any]]:
    """The browser log's errors since the last call, less the API's expected refusals: Chromium
    logs every 4xx answer to fetch() as "Failed to load resource", and the page makes some on
    purpose (``me`` before signing in, a wrong password). A script error, a failed module or
    stylesheet, a CSP violation or a 5xx stays."""
    expected = re.compile(r"/auth/\S* - Failed to load resource: the server responded with a status of 4(00|01|03)\b")
    return [entry for entry in browser.get_log("browser")
            if entry["level"] == "SEVERE" and not (entry.get("source") == "network"
                                                   and expected.search(entry["message"]))]


def token_cookies(browser: Any) -> str:
    """What ``document.cookie`` shows that looks like a token: nothing, ever."""
    cookies = browser.execute_script("return document.cookie")
    return ";".join(c for c in cookies.split(";") if "accessToken" in c or "refreshToken" in c)


def save(browser: Any, directory: Path, name: str) -> Path:
    """A 1280 px wide screenshot of the whole page (up to 2000 px high)."""
    from selenium.webdriver.common.action_chains import ActionChains

    ActionChains(browser).move_to_element(by_id(browser, "title")).perform()  # no button drawn hovered
    height = browser.execute_script("return document.documentElement.scrollHeight")
    browser.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
        "width": 1280, "height": max(600, min(int(height), 2000)), "deviceScaleFactor": 1, "mobile": False})
    try:
        path = directory / name
        assert browser.save_screenshot(str(path))
    finally:
        browser.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
    assert path.read_bytes()[:8] == PNG
    return path


def mailed_link(browser: Any, demo: Demo, page: str, offset: int, suffix: str = "") -> str:
    """The link to ``page`` in the newest mail printed on the server's console after ``offset``
    (``suffix``: what follows its token)."""
    pattern = re.compile(rf"{re.escape(demo.base)}/{page}\?token=[A-Za-z0-9_\-]+{re.escape(suffix)}")

    def find(_: Any) -> str | None:
        found = pattern.findall(demo.log.read_text(errors="replace")[offset:])
        return found[-1] if found else None

    return wait_until(browser, find, message=f"no mail with a /{page} link")


def log_size(demo: Demo) -> int:
    return len(demo.log.read_text(errors="replace"))


def totp_now(secret: str) -> str:
    """The current code of an authenticator app holding ``secret`` (base32, as the page shows it)."""
    from django_otp.oath import totp

    return f"{totp(base64.b32decode(secret + '=' * (-len(secret) % 8))):06d}"


def fact(browser: Any, term: str) -> str:
    """The value the account's fact list shows for ``term``."""
    return str(browser.execute_script(
        "const dt = [...document.querySelectorAll('#me dt')].find(e => e.textContent === arguments[0]);"
        "return dt ? dt.nextElementSibling.textContent : null", term))


def http(method: str, url: str) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url, method=method)
    try:
        with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310 - loopback
            return response.status, dict(response.headers.items()), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers.items()), error.read()


# ---- without a browser

def test_make_demo_prints_the_page_url_first() -> None:
    assert howto(18001).strip().splitlines()[0].startswith("Demo page: http://127.0.0.1:18001/ ")


@pytest.mark.browser  # the live server is shared with the browser tests
@pytest.mark.parametrize("page", ["", "magic-link", "reset-password", "verify-email", "confirm-email",
                                  "link-verify"])
def test_each_page_is_served_under_gunicorn_with_its_headers(demo: Demo, page: str) -> None:
    status, headers, body = http("GET", f"{demo.base}/{page}?token=abc")
    assert status == 200 and headers["Content-Type"].startswith("text/html"), (status, body[:300])
    assert b"<main" in body and b"dualauth" in body
    assert "script-src" not in headers["Content-Security-Policy"]  # default-src 'self': no inline script
    assert "default-src 'self'" in headers["Content-Security-Policy"]
    assert headers["Cache-Control"] == "no-store"
    assert headers.get("Referrer-Policy") == ("no-referrer" if page else headers.get("Referrer-Policy"))


@pytest.mark.browser
def test_static_files_are_served_with_debug_off(demo: Demo) -> None:
    for path in ("/static/demo/demo.js", "/static/demo/demo.css", "/static/dualauth/dualauth.js"):
        status, headers, body = http("GET", demo.base + path)
        assert status == 200 and body, path
    assert http("GET", demo.base + "/static/demo/missing.js")[0] == 404


# ---- in Chromium

@pytest.mark.browser
def test_the_page_loads_signed_out_without_errors(browser: Any, demo: Demo, shots: Path) -> None:
    open_home(browser, demo.base)
    assert by_id(browser, "signed-out").is_displayed() and not by_id(browser, "signed-in").is_displayed()
    assert browser.title.endswith("django-dualauth demo")
    assert page_errors(browser) == []
    save(browser, shots, "demo-signed-out.png")


@pytest.mark.browser
def test_a_wrong_password_shows_the_error_then_the_right_one_signs_in(browser: Any, demo: Demo) -> None:
    sign_in(browser, demo.base, email("errors"), "not-the-password")
    assert "Wrong e-mail or password" in text_of(browser, "error", "INVALID_CREDENTIALS")
    assert by_id(browser, "signed-out").is_displayed()
    fill(browser, {"login-email": email("errors"), "login-password": PASSWORD})
    submit(browser, "login-form")
    signed_in_as(browser, email("errors"))
    assert by_id(browser, "error").text == ""
    assert "Signed in as errors@example.com" in by_id(browser, "who").text
    assert token_cookies(browser) == ""
    assert page_errors(browser) == []
    browser.refresh()  # the cookies keep the page signed in
    signed_in_as(browser, email("errors"), just_now=False)
    by_id(browser, "logout").click()
    shown(browser, "signed-out")
    text_of(browser, "status", "Signed out.")
    browser.refresh()
    open_home(browser, demo.base)
    assert by_id(browser, "signed-out").is_displayed()
    assert page_errors(browser) == []


@pytest.mark.browser
def test_the_sign_in_form_is_completed_with_the_keyboard_alone(browser: Any, demo: Demo) -> None:
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.keys import Keys

    open_home(browser, demo.base)
    keys = ActionChains(browser)
    for _ in range(10):
        keys.send_keys(Keys.TAB).perform()
        if browser.execute_script("return document.activeElement.id") == "login-email":
            break
    else:
        pytest.fail("Tab never reached the e-mail field")
    # Keyboard focus is visible: an outline of its own, not the browser's default suppressed.
    outline = browser.execute_script("const s = getComputedStyle(document.activeElement);"
                                     "return [s.outlineStyle, s.outlineWidth]")
    assert outline[0] != "none" and outline[1] != "0px", outline
    keys.send_keys(email("keyboard")).send_keys(Keys.TAB).send_keys(PASSWORD).send_keys(Keys.ENTER).perform()
    signed_in_as(browser, email("keyboard"))
    assert page_errors(browser) == []


@pytest.mark.browser
def test_two_factor_enrolment_then_sign_in_with_the_second_step(browser: Any, demo: Demo, shots: Path) -> None:
    sign_in(browser, demo.base, email("twofa"), PASSWORD)
    signed_in_as(browser, email("twofa"))
    text_of(browser, "tf-state", "Off")
    by_id(browser, "tf-start").click()
    shown(browser, "tf-setup")
    secret = wait_until(browser, lambda d: by_id(d, "tf-secret").text.strip())
    qr = by_id(browser, "tf-qr")
    assert qr.get_attribute("src").startswith("data:image/png;base64,")
    assert wait_until(browser, lambda d: d.execute_script("return arguments[0].naturalWidth", qr)) > 0
    save(browser, shots, "demo-two-factor-setup.png")

    # One code, right the first time: a wrong one would throttle the device (django-otp) for a
    # second, and the wrong-code answer is checked at the second step below.
    fill(browser, {"tf-confirm-code": totp_now(secret)})
    submit(browser, "tf-confirm-form")
    shown(browser, "tf-codes")
    codes = wait_until(browser, lambda d: [li.text for li in by_id(d, "tf-codes-list").find_elements("tag name", "li")])
    assert len(codes) == 10 and all(codes), codes
    text_of(browser, "tf-state", "On")
    text_of(browser, "status", "Two-factor authentication is on")

    # Signed out, then in again: the second step, with a recovery code (the TOTP code of this
    # time step is spent, and django-otp accepts each code once).
    by_id(browser, "logout").click()
    shown(browser, "signed-out")
    fill(browser, {"login-email": email("twofa"), "login-password": PASSWORD})
    submit(browser, "login-form")
    shown(browser, "two-factor")
    assert browser.execute_script("return document.activeElement.id") == "two-factor-code"
    assert not by_id(browser, "signed-out").is_displayed()
    save(browser, shots, "demo-second-step.png")
    fill(browser, {"two-factor-code": "WRONG-CODE"})
    by_id(browser, "two-factor-recovery").click()
    submit(browser, "two-factor-form")
    text_of(browser, "error", "INVALID_2FA_CODE")
    fill(browser, {"two-factor-code": codes[0]})
    submit(browser, "two-factor-form")
    signed_in_as(browser, email("twofa"))
    assert not by_id(browser, "two-factor").is_displayed()
    assert token_cookies(browser) == ""
    assert page_errors(browser) == []


@pytest.mark.browser
def test_an_account_that_must_enrol_sets_up_two_factor_while_signing_in(browser: Any, demo: Demo) -> None:
    sign_in(browser, demo.base, email("required"), PASSWORD)
    shown(browser, "setup-required")
    assert not by_id(browser, "signed-in").is_displayed()
    assert browser.execute_script("return document.activeElement.id") == "sr-code"
    secret = wait_until(browser, lambda d: by_id(d, "sr-secret").text.strip())
    assert by_id(browser, "sr-qr").get_attribute("src").startswith("data:image/png;base64,")
    fill(browser, {"sr-code": totp_now(secret)})
    submit(browser, "sr-form")
    shown(browser, "signed-in")
    text_of(browser, "status", "Two-factor authentication is on, and you are signed in")
    text_of(browser, "me", email("required"))
    assert len(by_id(browser, "tf-codes-list").find_elements("tag name", "li")) == 10
    text_of(browser, "tf-state", "On")
    # The session is a real one: a reload still shows the account, and unsafe calls pass CSRF.
    browser.refresh()
    signed_in_as(browser, email("required"), just_now=False)
    by_id(browser, "logout").click()
    text_of(browser, "status", "Signed out.")
    assert token_cookies(browser) == ""
    assert page_errors(browser) == []


@pytest.mark.browser
def test_the_sessions_list_marks_this_device_and_revokes_another(browser: Any, demo: Demo, shots: Path) -> None:
    from selenium.webdriver.common.by import By

    app = Client(demo.base, "bearer")
    assert app.login(email("sessions"), PASSWORD).status == 200
    assert app.call("GET", "/auth/me").status == 200
    sign_in(browser, demo.base, email("sessions"), PASSWORD)
    signed_in_as(browser, email("sessions"))

    def rows(d: Any) -> list[Any]:
        return d.find_elements(By.CSS_SELECTOR, "#sessions tbody tr")

    wait_until(browser, lambda d: len(rows(d)) == 2)
    current = [r for r in rows(browser) if "This device" in r.text]
    others = [r for r in rows(browser) if "This device" not in r.text]
    assert len(current) == 1 and len(others) == 1
    assert current[0].find_elements(By.CSS_SELECTOR, "button.revoke") == []
    assert "app (bearer tokens)" in others[0].text and "Python-urllib" in others[0].text
    save(browser, shots, "demo-signed-in.png")

    handle, mine = others[0].get_attribute("data-handle"), current[0].get_attribute("data-handle")
    others[0].find_element(By.CSS_SELECTOR, "button.revoke").click()
    text_of(browser, "status", "That session is signed out")
    assert [r.get_attribute("data-handle") for r in rows(browser)] == [mine]
    assert handle not in browser.page_source
    # Really revoked on the server, not only gone from the list.
    answer = app.call("GET", "/auth/me")
    assert answer.status == 401 and answer.body["code"] == "SESSION_REVOKED", answer.body
    assert app.call("POST", "/auth/refresh", app.refresh_body()).status == 401
    assert page_errors(browser) == []


@pytest.mark.browser
def test_change_password_through_the_page(browser: Any, demo: Demo) -> None:
    app = Client(demo.base, "bearer")
    assert app.login(email("password"), PASSWORD).status == 200
    sign_in(browser, demo.base, email("password"), PASSWORD)
    signed_in_as(browser, email("password"))

    fill(browser, {"password-current": "not-the-password", "password-new": NEW_PASSWORD})
    submit(browser, "password-form")
    assert "The password is not right" in text_of(browser, "error", "REAUTHENTICATION_FAILED")
    fill(browser, {"password-current": PASSWORD, "password-new": "password123"})
    submit(browser, "password-form")
    text_of(browser, "error", "VALIDATION_ERROR")  # Django's validators, their messages shown
    fill(browser, {"password-current": PASSWORD, "password-new": NEW_PASSWORD})
    submit(browser, "password-form")
    text_of(browser, "status", "Password changed")
    assert by_id(browser, "error").text == ""

    assert app.call("GET", "/auth/me").status == 401  # the other session was revoked
    assert Client(demo.base, "bearer").login(email("password"), PASSWORD).status == 401
    assert Client(demo.base, "bearer").login(email("password"), NEW_PASSWORD).status == 200
    browser.refresh()  # this session was kept
    signed_in_as(browser, email("password"), just_now=False)
    assert page_errors(browser) == []


@pytest.mark.browser
def test_the_magic_link_page_signs_in_from_the_mailed_link(browser: Any, demo: Demo) -> None:
    open_home(browser, demo.base)
    offset = log_size(demo)
    fill(browser, {"magic-email": email("magic")})
    submit(browser, "magic-form")
    text_of(browser, "status", "sign-in link is on its way")
    link = mailed_link(browser, demo, "magic-link", offset)

    # A mail scanner's GET of the link spends nothing: the page only shows a button.
    status, headers, _ = http("GET", link)
    assert status == 200 and headers["Referrer-Policy"] == "no-referrer"
    browser.get(link)
    submit_button = shown(browser, "token-form")
    assert wait_until(browser, lambda d: d.current_url == demo.base + "/magic-link")  # the token left the URL
    submit_button.find_element("css selector", "button").click()
    wait_for_url(browser, demo.base + "/")
    signed_in_as(browser, email("magic"), just_now=False)
    assert token_cookies(browser) == ""

    browser.get(link)  # once only
    submit(browser, "token-form")
    assert "expired or was already used" in text_of(browser, "error", "INVALID_MAGIC_LINK")
    assert page_errors(browser) == []


def requested_urls(browser: Any) -> list[str]:
    """The URLs this tab's document fetched (its Resource Timing entries)."""
    return list(browser.execute_script("return performance.getEntriesByType('resource').map(e => e.name)"))


def stored(browser: Any) -> list[int]:
    return list(browser.execute_script("return [localStorage.length, sessionStorage.length]"))


def request_mail_link(browser: Any, demo: Demo) -> str:
    """At the second step: press "mail me a link"; the mailed link (mode 2fa)."""
    shown(browser, "two-factor")
    offset = log_size(demo)
    shown(browser, "two-factor-mail-send").click()
    text_of(browser, "status", "sign-in link is on its way")
    return mailed_link(browser, demo, "magic-link", offset, "&mode=2fa")


def press_mailed_link(browser: Any, demo: Demo, link: str) -> None:
    browser.get(link)
    shown(browser, "magic-2fa-text")
    assert wait_until(browser, lambda d: d.current_url == demo.base + "/magic-link")  # the token left the URL
    submit(browser, "token-form")


@pytest.mark.browser
def test_a_mailed_link_finishes_the_second_step_in_the_tab_that_waits(browser: Any, demo: Demo) -> None:
    sign_in(browser, demo.base, email("mail2fa"), PASSWORD)
    first = browser.current_window_handle
    link = request_mail_link(browser, demo)

    # The link, opened in a second tab, hands its token to the first, which signs in.
    browser.switch_to.new_window("tab")
    second = browser.current_window_handle
    press_mailed_link(browser, demo, link)
    text_of(browser, "status", "your first tab finished the sign-in")
    shown(browser, "token-done")
    assert not by_id(browser, "token-form").is_displayed()
    # This tab sent the token to no server: the first tab made the call, with its temp token.
    assert not any("/auth/magic-link/verify" in url for url in requested_urls(browser))
    assert stored(browser) == [0, 0] and page_errors(browser) == []
    browser.switch_to.window(first)
    signed_in_as(browser, email("mail2fa"))
    assert fact(browser, "Two-factor") == "on"
    assert any(url == demo.base + "/auth/magic-link/verify" for url in requested_urls(browser))
    assert stored(browser) == [0, 0] and token_cookies(browser) == ""  # the temp token only in memory
    assert page_errors(browser) == []

    # The same link again: no tab waits for it any more, and the page says what to do.
    browser.switch_to.window(second)
    press_mailed_link(browser, demo, link)
    text_of(browser, "error", "No tab of this browser is waiting for this link")

    # Single use, and bound to its challenge: a new sign-in waits, the old link cannot finish it
    # (and the challenge survives that), its own link does.
    browser.switch_to.window(first)
    by_id(browser, "logout").click()
    shown(browser, "signed-out")
    fill(browser, {"login-email": email("mail2fa"), "login-password": PASSWORD})
    submit(browser, "login-form")
    new_link = request_mail_link(browser, demo)
    assert new_link != link
    browser.switch_to.window(second)
    press_mailed_link(browser, demo, link)
    assert "expired or was already used" in text_of(browser, "error", "INVALID_MAGIC_LINK")
    browser.switch_to.window(first)
    text_of(browser, "error", "INVALID_MAGIC_LINK")
    assert by_id(browser, "two-factor").is_displayed() and not by_id(browser, "signed-in").is_displayed()
    browser.switch_to.window(second)
    press_mailed_link(browser, demo, new_link)
    text_of(browser, "status", "your first tab finished the sign-in")
    browser.switch_to.window(first)
    signed_in_as(browser, email("mail2fa"))
    assert page_errors(browser) == []


@pytest.mark.browser
def test_the_password_reset_page_sets_the_new_password(browser: Any, demo: Demo) -> None:
    app = Client(demo.base, "bearer")
    assert app.login(email("reset"), PASSWORD).status == 200
    open_home(browser, demo.base)
    offset = log_size(demo)
    fill(browser, {"forgot-email": email("reset")})
    submit(browser, "forgot-form")
    text_of(browser, "status", "reset link is on its way")
    link = mailed_link(browser, demo, "reset-password", offset)

    browser.get(link)
    shown(browser, "token-form")
    fill(browser, {"reset-password": NEW_PASSWORD})
    submit(browser, "token-form")
    text_of(browser, "status", "Your new password is set")
    shown(browser, "token-done")
    assert not by_id(browser, "token-form").is_displayed()
    assert app.call("GET", "/auth/me").status == 401  # every session ended

    browser.get(link)  # the token is spent
    fill(browser, {"reset-password": NEW_PASSWORD + "x"})
    submit(browser, "token-form")
    assert "expired or was already used" in text_of(browser, "error", "INVALID_TOKEN")
    sign_in(browser, demo.base, email("reset"), NEW_PASSWORD)
    signed_in_as(browser, email("reset"))
    assert page_errors(browser) == []


@pytest.mark.browser
def test_the_verify_email_page_verifies_the_address(browser: Any, demo: Demo) -> None:
    sign_in(browser, demo.base, email("verify"), PASSWORD)
    signed_in_as(browser, email("verify"))
    assert wait_until(browser, lambda d: fact(d, "E-mail verified")) == "no"
    offset = log_size(demo)
    shown(browser, "verify-send").click()
    text_of(browser, "status", "verification link is on its way")
    link = mailed_link(browser, demo, "verify-email", offset)
    browser.get(link)
    submit(browser, "token-form")
    text_of(browser, "status", "Your e-mail address is verified")
    by_id(browser, "token-done").find_element("css selector", "a").click()
    signed_in_as(browser, email("verify"), just_now=False)
    assert wait_until(browser, lambda d: fact(d, "E-mail verified") == "yes")
    assert not by_id(browser, "verify-send").is_displayed()
    assert page_errors(browser) == []


@pytest.mark.browser
def test_the_confirm_email_page_changes_the_address(browser: Any, demo: Demo) -> None:
    sign_in(browser, demo.base, email("change"), PASSWORD)
    signed_in_as(browser, email("change"))
    fill(browser, {"email-new": email("changed"), "email-password": "not-the-password"})
    submit(browser, "email-form")
    text_of(browser, "error", "REAUTHENTICATION_FAILED")
    offset = log_size(demo)
    fill(browser, {"email-new": email("changed"), "email-password": PASSWORD})
    submit(browser, "email-form")
    text_of(browser, "status", "confirmation link is on its way")
    link = mailed_link(browser, demo, "confirm-email", offset)
    browser.get(link)
    submit(browser, "token-form")
    text_of(browser, "status", "Your account's e-mail address is changed")
    assert Client(demo.base, "bearer").login(email("changed"), PASSWORD).status == 200
    assert Client(demo.base, "bearer").login(email("change"), PASSWORD).status == 401
    assert page_errors(browser) == []


@pytest.mark.browser
@pytest.mark.parametrize("page", ["magic-link", "reset-password", "verify-email", "confirm-email", "link-verify"])
def test_a_mail_page_opened_without_its_token_says_so(browser: Any, demo: Demo, page: str) -> None:
    browser.get(f"{demo.base}/{page}")
    text_of(browser, "error", "has no token")
    assert not by_id(browser, "token-form").find_element("css selector", "button").is_enabled()
    assert page_errors(browser) == []


# ---- the page on another origin (docs/recipe-cross-origin.md)

@pytest.mark.browser
def test_the_page_on_another_origin_signs_in_and_calls_me(browser: Any, tmp_path: Path, shots: Path) -> None:
    api_port, page_port = free_port(), free_port()
    api, page = f"http://127.0.0.1:{api_port}", f"http://127.0.0.1:{page_port}"
    (tmp_path / "api").mkdir()
    (tmp_path / "page").mkdir()
    # What `make demo-cross-origin` runs: the API trusts the page's origin (DEMO_ORIGIN), the
    # page's server hands its client the API's address (DEMO_API_ORIGIN).
    with live_server(tmp_path / "api", env={"DEMO_ORIGIN": page}, port=api_port), \
            live_server(tmp_path / "page", env={"DEMO_ORIGIN": page, "DEMO_API_ORIGIN": api}, port=page_port):
        status, headers, body = http("GET", page + "/")
        assert status == 200 and f'data-api-base="{api}/auth"'.encode() in body
        assert f"connect-src 'self' {api};" in headers["Content-Security-Policy"]

        browser.get_log("performance")
        sign_in(browser, page, "demo@example.com", "wrong-password")
        text_of(browser, "error", "INVALID_CREDENTIALS")  # the API's answer is readable: CORS
        fill(browser, {"login-email": DEMO_EMAIL, "login-password": DEMO_PASSWORD})
        submit(browser, "login-form")
        signed_in_as(browser, DEMO_EMAIL)
        wait_until(browser, lambda d: "This device" in by_id(d, "sessions").text)
        assert token_cookies(browser) == ""
        # Every API call went to the API's origin, none to the page's own /auth.
        urls = [json.loads(e["message"])["message"]["params"].get("request", {}).get("url", "")
                for e in browser.get_log("performance")
                if json.loads(e["message"])["message"]["method"] == "Network.requestWillBeSent"]
        assert any(u.startswith(api + "/auth/login") for u in urls), urls
        assert any(u.startswith(api + "/auth/me") for u in urls), urls
        assert not any(u.startswith(page + "/auth/") for u in urls), urls
        save(browser, shots, "demo-cross-origin.png")

        by_id(browser, "logout").click()
        shown(browser, "signed-out")
        text_of(browser, "status", "Signed out.")
        assert page_errors(browser) == []


# ---- accessibility: labels, landmarks, live regions, contrast

#: For each visible form field: its label; for each visible text: its contrast ratio on the
#: background it is drawn on (WCAG 2: relative luminance; AA is 4.5:1, 3:1 for large text).
AUDIT = r"""
const lum = (rgb) => {
  const c = rgb.map(v => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; });
  return 0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2]; };
const parse = (s) => (s.match(/[\d.]+/g) || []).map(Number);
const background = (e) => { for (; e; e = e.parentElement) { const c = parse(getComputedStyle(e).backgroundColor);
  if (c.length === 3 || c[3] > 0) return c.slice(0, 3); } return [255, 255, 255]; };
const visible = (e) => e.offsetParent !== null || getComputedStyle(e).position === "fixed";
const unlabelled = [...document.querySelectorAll("input, select, textarea")]
  .filter(e => visible(e) && e.type !== "hidden" && !(e.labels && e.labels.length) && !e.getAttribute("aria-label"))
  .map(e => e.id || e.name);
const low = [];
for (const e of document.querySelectorAll("body *")) {
  if (!visible(e) || ![...e.childNodes].some(n => n.nodeType === 3 && n.textContent.trim())) continue;
  const s = getComputedStyle(e), fg = parse(s.color).slice(0, 3), bg = background(e);
  const [a, b] = [lum(fg), lum(bg)].sort((x, y) => y - x), ratio = (a + 0.05) / (b + 0.05);
  const large = parseFloat(s.fontSize) >= 24 || (parseFloat(s.fontSize) >= 18.66 && Number(s.fontWeight) >= 700);
  if (ratio < (large ? 3 : 4.5)) {
    low.push(`${e.tagName}#${e.id} "${e.textContent.trim().slice(0, 30)}" ${ratio.toFixed(2)}`);
  }
}
return {unlabelled, low, mains: document.querySelectorAll("main").length, h1: document.querySelectorAll("h1").length,
        live: ["status", "error"].map(id => document.getElementById(id).getAttribute("aria-live")),
        lang: document.documentElement.lang};
"""


def audit(browser: Any) -> dict[str, Any]:
    result: dict[str, Any] = browser.execute_script(AUDIT)
    return result


@pytest.mark.browser
def test_the_pages_are_labelled_and_their_text_meets_aa_contrast(browser: Any, demo: Demo) -> None:
    open_home(browser, demo.base)
    fill(browser, {"login-email": DEMO_EMAIL, "login-password": "wrong-password"})
    submit(browser, "login-form")
    text_of(browser, "error", "INVALID_CREDENTIALS")  # the error message's colours are audited too
    states = {"signed out, with an error": audit(browser)}
    fill(browser, {"login-email": DEMO_EMAIL, "login-password": DEMO_PASSWORD})
    submit(browser, "login-form")
    signed_in_as(browser, DEMO_EMAIL)
    wait_until(browser, lambda d: "This device" in by_id(d, "sessions").text)
    states["signed in"] = audit(browser)
    browser.get(demo.base + "/reset-password?token=abc")
    shown(browser, "token-form")
    states["a mail's page"] = audit(browser)
    for state, result in states.items():
        assert result["unlabelled"] == [], (state, result)
        assert result["low"] == [], (state, result)
        assert (result["mains"], result["h1"], result["lang"]) == (1, 1, "en"), (state, result)
        assert result["live"] == ["polite", "assertive"], (state, result)
    assert page_errors(browser) == []
