"""Headless Chromium for the suite: Debian's ``chromium`` driven through Selenium and Debian's
``chromium-driver`` (both from the same Debian source package, so driver and browser versions
always match). ``.ci/run`` installs them when missing.

Fixtures (registered by ``tests/conftest.py``):

- ``chromium`` (session): one browser process for the run, a fresh ``--user-data-dir`` in tmp.
- ``browser`` (function): that browser, reset for the test (one blank tab, no cookies, no
  storage, no cache): a ``selenium.webdriver.Chrome``.
- ``screenshot_dir`` (function): where a test saves its screenshots (``tmp_path``).

Tests that use them are marked ``browser`` (``pytestmark = pytest.mark.browser``). Without
Chromium they are skipped, with a notice in the summary; under ``DUALAUTH_REQUIRE_SERVICES=1``
(CI) they fail instead. :func:`wait_until` and :func:`wait_for_url` wait explicitly, since
Selenium does not.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest

__all__ = ["CHROMEDRIVER", "CHROMIUM", "FLAGS", "chromium_missing", "start_chromium", "wait_for_url", "wait_until"]

CHROMIUM = os.environ.get("DUALAUTH_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("DUALAUTH_CHROMEDRIVER", "/usr/bin/chromedriver")
REQUIRED = os.environ.get("DUALAUTH_REQUIRE_SERVICES") == "1"
WAIT = 30.0  # seconds; only a broken page reaches it on a loaded machine
# As root in a container and on a closed network: no sandbox, no GPU, and none of Chromium's own
# background connections (refused here, and traffic must stay on 127.0.0.1 in tests).
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
         "--disable-default-apps", "--disable-extensions", "--window-size=1280,900")
T = TypeVar("T")


def chromium_missing() -> str | None:
    """Why browser tests cannot run here, or ``None``."""
    for path in (CHROMIUM, CHROMEDRIVER):
        if not (shutil.which(path) or os.access(path, os.X_OK)):
            return f"{path} not found (Debian: apt-get install chromium chromium-driver; .ci/run does it)"
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed (the test dependency group has it)"
    return None


def start_chromium(profile_dir: Path, log: Path | None = None) -> Any:
    """A new headless Chromium with an empty profile in ``profile_dir``; the caller quits it."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (*FLAGS, f"--user-data-dir={profile_dir}"):
        options.add_argument(flag)
    # Network events (requests, redirects) readable through driver.get_log("performance").
    options.set_capability("goog:loggingPrefs", {"performance": "ALL", "browser": "ALL"})
    # An explicit driver path: Selenium Manager (which downloads drivers) is never run.
    service = Service(executable_path=CHROMEDRIVER, log_output=str(log) if log else os.devnull)
    driver = webdriver.Chrome(options=options, service=service)
    driver.set_page_load_timeout(WAIT)
    return driver


def wait_until(driver: Any, condition: Callable[[Any], T], timeout: float = WAIT, message: str = "") -> T:
    """Poll ``condition(driver)`` until it returns something truthy; that value."""
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, timeout, poll_frequency=0.1).until(  # type: ignore[no-any-return]
        condition, message or f"timed out at {driver.current_url}")


def wait_for_url(driver: Any, prefix: str, timeout: float = WAIT) -> str:
    """Wait until the current page's URL starts with ``prefix``; that URL."""
    return wait_until(driver, lambda d: d.current_url if d.current_url.startswith(prefix) else None, timeout,
                      f"never reached {prefix}")


def reset(driver: Any) -> None:
    """One blank tab and no cookies, storage or cache, as a fresh profile has."""
    handles = driver.window_handles
    for handle in handles[1:]:
        driver.switch_to.window(handle)
        driver.close()
    driver.switch_to.window(handles[0])
    driver.get("about:blank")
    driver.execute_cdp_cmd("Network.clearBrowserCookies", {})
    driver.execute_cdp_cmd("Network.clearBrowserCache", {})
    driver.execute_cdp_cmd("Storage.clearDataForOrigin", {"origin": "*", "storageTypes": "all"})
    driver.get_log("performance")  # drop the previous test's network events


_skipped: list[str] = []
startup_seconds: list[float] = []


def _require_chromium() -> None:
    missing = chromium_missing()
    if missing:
        if REQUIRED:
            pytest.fail(f"DUALAUTH_REQUIRE_SERVICES=1 and Chromium cannot run: {missing}", pytrace=False)
        _skipped.append(missing)
        pytest.skip(f"browser tests need Chromium: {missing}")


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[Any]) -> None:
    """A test that uses the browser is a ``browser`` test, marked or not (before ``-m`` selects)."""
    for item in items:
        if "chromium" in getattr(item, "fixturenames", ()) and not item.get_closest_marker("browser"):
            item.add_marker(pytest.mark.browser)


def pytest_runtest_setup(item: Any) -> None:
    """A ``browser`` test that starts Chromium itself (:func:`start_chromium`) is skipped or
    failed like one that uses the fixture."""
    if item.get_closest_marker("browser"):
        _require_chromium()


@pytest.fixture(scope="session")
def chromium(tmp_path_factory: Any) -> Iterator[Any]:
    _require_chromium()
    base = tmp_path_factory.mktemp("chromium")
    started = time.monotonic()
    driver = start_chromium(base / "profile", base / "chromedriver.log")
    startup_seconds.append(time.monotonic() - started)
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture
def browser(chromium: Any) -> Any:
    reset(chromium)
    return chromium


@pytest.fixture
def screenshot_dir(tmp_path: Path) -> Path:
    return tmp_path


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if _skipped:
        line = "=" * 78
        terminalreporter.write_line(line, yellow=True, bold=True)
        terminalreporter.write_line(f"BROWSER TESTS SKIPPED: {_skipped[0]}", yellow=True, bold=True)
        terminalreporter.write_line("The Chromium tests did NOT run (they are mandatory in CI).", yellow=True,
                                    bold=True)
        terminalreporter.write_line(line, yellow=True, bold=True)
