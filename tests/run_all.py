"""`make test`: the whole suite in two stages.

1. Everything on SQLite and the local-memory cache (``tests.settings``), twice: through the
   private seam (``django_dualauth/_seam/``, the default) and through the plain reference path
   of ``services/`` (``DUALAUTH_TEST_REFERENCE_PATH=1`` sets ``DUALAUTH_PRIVATE_SPEEDUPS = False``).
   ``tests/test_seam_equivalence.py`` compares the two paths directly, on PostgreSQL too. The
   schema fuzzing (``tests/test_fuzz.py``) runs in the first pass only.
2. The tests marked ``postgres`` / ``redis`` against the real servers
   (``tests.settings_services``): concurrency under ``select_for_update`` and state shared
   between several app processes; and those marked ``both_backends`` once more, because
   their code differs there (the one-statement rotation on PostgreSQL, counters in Redis).
   When the servers do not answer this stage is skipped with a loud notice; with
   ``DUALAUTH_REQUIRE_SERVICES=1`` (set by ``.ci/run``) that is a failure instead, and so is
   any skipped test inside the stage.

The tests marked ``browser`` drive headless Chromium (``tests/browser.py``) and run in stage 1
only, with those marked ``test_infrastructure`` (tests of the suite's own stand-ins, which touch
no code of the package): the reference path changes nothing they see. Without Chromium they are
skipped with a loud notice; under ``DUALAUTH_REQUIRE_SERVICES=1`` they fail.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys

from tests.browser import chromium_missing

PG = (os.environ.get("DUALAUTH_PG_HOST", "127.0.0.1"), int(os.environ.get("DUALAUTH_PG_PORT", "5432")))
REDIS = (os.environ.get("DUALAUTH_REDIS_HOST", "127.0.0.1"),
         int(os.environ.get("DUALAUTH_REDIS_PORT", "6379")))
NO_TESTS = 5
STAGE_1_ONLY = "not browser and not test_infrastructure"
FUZZ = os.path.join("tests", "test_fuzz.py")


def _answers(address: tuple[str, int]) -> bool:
    try:
        with socket.create_connection(address, timeout=2):
            return True
    except OSError:
        return False


def _banner(text: str) -> None:
    line = "=" * 78
    print(f"\n{line}\n{text}\n{line}\n", flush=True)


def main() -> int:
    required = os.environ.get("DUALAUTH_REQUIRE_SERVICES") == "1"
    pytest = [sys.executable, "-m", "pytest", *sys.argv[1:]]

    missing_browser = chromium_missing()
    if missing_browser:
        _banner(f"Chromium cannot run: {missing_browser}.\nThe browser tests of stage 1 will "
                + ("FAIL (DUALAUTH_REQUIRE_SERVICES=1)." if required else "be SKIPPED."))

    _banner("Stage 1/2: full suite on SQLite + local-memory cache, with the browser tests")
    code = subprocess.call([*pytest, "-m", "not postgres and not redis"])
    if code != 0:
        return code

    _banner("Stage 1b/2: full suite on SQLite through the reference path (no private speed-ups), "
            "without the browser, test-infrastructure and fuzzing tests")
    # Without the schema fuzzing: it checks the HTTP contract, which the private speed-ups do not
    # change (tests/test_seam_equivalence.py compares the two paths), and would add its minutes twice.
    code = subprocess.call([*pytest, "-m", f"not postgres and not redis and {STAGE_1_ONLY}", f"--ignore={FUZZ}"],
                           env={**os.environ, "DUALAUTH_TEST_REFERENCE_PATH": "1"})
    if code != 0:
        return code

    missing = [name for name, addr in (("PostgreSQL", PG), ("Redis", REDIS)) if not _answers(addr)]
    if missing:
        _banner(f"Stage 2/2 SKIPPED: {' and '.join(missing)} not reachable "
                f"(PostgreSQL {PG[0]}:{PG[1]}, Redis {REDIS[0]}:{REDIS[1]}).\n"
                "Concurrency and multi-process tests did NOT run.")
        return 1 if required else 0

    _banner("Stage 2/2: PostgreSQL + Redis (concurrency, several app processes)")
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings_services",
           "DUALAUTH_REQUIRE_SERVICES": "1" if required else os.environ.get(
               "DUALAUTH_REQUIRE_SERVICES", "0")}
    code = subprocess.call([*pytest, "-m", "postgres or redis or both_backends"], env=env)
    if code == NO_TESTS:
        print("no postgres/redis tests collected", flush=True)
        return 1 if required else 0
    return code


if __name__ == "__main__":
    sys.exit(main())
