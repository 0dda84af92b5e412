"""The services stage: tests that need the real PostgreSQL and Redis servers.

They are marked ``postgres`` / ``redis`` and run only under ``tests.settings_services``
(stage 2 of ``make test``). Under ``DUALAUTH_REQUIRE_SERVICES=1`` (``.ci/run``) a skipped
test in this stage fails the run: skipping is how such tests silently stop proving anything.
"""

from __future__ import annotations

import os
from typing import Any

import pytest
from django.conf import settings

REQUIRED = os.environ.get("DUALAUTH_REQUIRE_SERVICES") == "1"


def _on_real_servers() -> bool:
    engine = settings.DATABASES["default"]["ENGINE"]
    return "postgresql" in engine and "redis" in settings.CACHES["default"]["BACKEND"].lower()


def pytest_collection_modifyitems(config: Any, items: list[Any]) -> None:
    if _on_real_servers():
        return
    skip = pytest.mark.skip(reason="needs tests.settings_services (PostgreSQL + Redis)")
    for item in items:
        if "tests/real_servers/" in str(item.fspath).replace(os.sep, "/"):
            item.add_marker(skip)


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: Any, exitstatus: int) -> None:
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    skipped = len(reporter.stats.get("skipped", [])) if reporter else 0
    if REQUIRED and _on_real_servers() and skipped:
        reporter.write_line(f"DUALAUTH_REQUIRE_SERVICES=1 and {skipped} services test(s) skipped: failing.",
                            red=True)
        session.exitstatus = 1
