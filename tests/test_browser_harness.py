"""The Chromium harness (tests/browser.py) end to end against the example project served by
gunicorn (tests/live_server.py): a page loads, script runs in it and calls the API on the same
origin, and a screenshot is saved. The social flows in Chromium are in
tests/social/test_browser_flows.py."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser import reset, wait_for_url, wait_until
from tests.live_server import DEMO_PASSWORD, live_server

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def example_server(tmp_path_factory: Any) -> Iterator[str]:
    with live_server(tmp_path_factory.mktemp("example-server")) as base:
        yield base


def test_chromium_loads_a_page_of_the_example_project_and_calls_its_api(
        browser: Any, example_server: str, screenshot_dir: Path) -> None:
    browser.get(example_server + "/auth/openapi/docs")
    assert "swagger-ui" in browser.page_source.lower()
    # Script in the page, on the server's own origin: the CSRF endpoint sets its cookie.
    answer = browser.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "fetch('/auth/csrf', {credentials: 'same-origin'})"
        ".then(r => r.json().then(body => done({status: r.status, body: body})))"
        ".catch(e => done({status: 0, body: String(e)}));")
    assert answer["status"] == 200, answer
    assert wait_until(browser, lambda d: d.get_cookie("csrf-token"))
    shot = screenshot_dir / "example-openapi-docs.png"
    assert browser.save_screenshot(str(shot))
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 1000


def test_chromium_signs_in_to_the_example_admin_through_its_form(
        browser: Any, example_server: str, screenshot_dir: Path) -> None:
    from selenium.webdriver.common.by import By

    browser.get(example_server + "/admin/login/")
    browser.find_element(By.NAME, "username").send_keys("admin")
    browser.find_element(By.NAME, "password").send_keys(DEMO_PASSWORD)
    browser.find_element(By.CSS_SELECTOR, "input[type=submit], button[type=submit]").click()
    wait_for_url(browser, example_server + "/admin/")
    assert wait_until(browser, lambda d: "Site administration" in d.page_source)
    shot = screenshot_dir / "example-admin.png"
    assert browser.save_screenshot(str(shot))
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_reset_leaves_one_tab_and_no_cookies_or_storage(browser: Any, example_server: str) -> None:
    """What the ``browser`` fixture does before each test."""
    browser.get(example_server + "/auth/csrf")
    browser.execute_script("localStorage.setItem('left', 'behind')")
    assert browser.execute_cdp_cmd("Network.getAllCookies", {})["cookies"]
    browser.switch_to.new_window("tab")

    reset(browser)
    assert len(browser.window_handles) == 1
    assert browser.execute_cdp_cmd("Network.getAllCookies", {})["cookies"] == []
    browser.get(example_server + "/auth/openapi/docs")
    assert browser.execute_script("return localStorage.getItem('left')") is None


#: A real in-app browser's User-Agent: the longest kind the sessions list shows in its device column.
LONG_USER_AGENT = ("Mozilla/5.0 (Linux; Android 14; Pixel 8 Pro Build/UQ1A.240205.004; wv) AppleWebKit/537.36 "
                   "(KHTML, like Gecko) Version/4.0 Chrome/121.0.6167.164 Mobile Safari/537.36 "
                   "ExampleApp/3.2.1 (com.example.app; build 4711; okhttp/4.12.0)")


def test_the_admin_sessions_list_fits_a_1400_px_window(
        browser: Any, example_server: str, screenshot_dir: Path) -> None:
    # Issue 20 reported the list overflowing sideways at 1400 px. With these rows, Chromium 156 fits
    # the list before the device column was cut as well as after: a guard against a column that
    # cannot wrap, not a proof of that fix.
    import json
    import urllib.request

    from selenium.webdriver.common.by import By

    for _ in range(3):
        request = urllib.request.Request(
            example_server + "/auth/login", method="POST",
            data=json.dumps({"email": "demo@example.com", "password": DEMO_PASSWORD}).encode(),
            headers={"Content-Type": "application/json", "X-Auth-Strategy": "bearer", "User-Agent": LONG_USER_AGENT})
        with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310 - loopback
            assert response.status == 200
    browser.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                            {"width": 1400, "height": 900, "deviceScaleFactor": 1, "mobile": False})
    try:
        browser.get(example_server + "/admin/login/?next=/admin/dualauth/authsession/")
        browser.find_element(By.NAME, "username").send_keys("admin")
        browser.find_element(By.NAME, "password").send_keys(DEMO_PASSWORD)
        browser.find_element(By.CSS_SELECTOR, "input[type=submit], button[type=submit]").click()
        wait_for_url(browser, example_server + "/admin/dualauth/authsession/")
        assert wait_until(browser, lambda d: d.find_elements(By.ID, "result_list"))
        assert LONG_USER_AGENT[:40] in browser.page_source  # the rows are there, their device cut
        width = browser.execute_script("return [document.documentElement.scrollWidth, window.innerWidth]")
        assert width[0] <= width[1] == 1400, width
        assert browser.save_screenshot(str(screenshot_dir / "admin-sessions-1400.png"))
    finally:
        browser.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
