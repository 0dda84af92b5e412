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
