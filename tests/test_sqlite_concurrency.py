"""The embedded default under concurrency (issue 15, item 1): the example project under
gunicorn with 8 threads on a file-backed SQLite database, requests released together by a
barrier, under both deliveries.

* With the example project's settings (transactions ``IMMEDIATE``, a 10 s busy timeout, WAL)
  simultaneous refreshes, logins and single-use links and codes queue for the write lock:
  no 5xx, every answer JSON, single use held.
* When the lock cannot be had (another connection holds it past the timeout) the answer is
  a JSON 503 ``SERVICE_UNAVAILABLE`` with ``Retry-After``, never a 500, and the next request
  after the lock is released works.

The verdicts count outcomes, never time. Run as a script to measure the issue's figures:
``python -m tests.test_sqlite_concurrency --rounds 5 [--deferred]`` (``--deferred`` drops the
example project's SQLite ``OPTIONS``, which is what main had before commit 33313e8).
"""

from __future__ import annotations

import argparse
import base64
import re
import sqlite3
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django_otp.oath import totp

from tests.live_server import (
    DEADLINE,
    DEMO_PASSWORD,
    Answer,
    Client,
    live_server,
    manage,
    together,
)

PARALLEL = 8  # the gunicorn threads


def mailed_tokens(log: Path, kind: str) -> list[str]:
    """The tokens of every ``kind`` link mailed so far (the console mail backend writes to the log)."""
    return list(dict.fromkeys(re.findall(rf"/{kind}\?token=([A-Za-z0-9_-]+)", log.read_text(errors="replace"))))


def next_mailed_token(log: Path, kind: str, before: list[str]) -> str:
    deadline = time.monotonic() + DEADLINE
    while time.monotonic() < deadline:  # mails leave through the dispatcher's thread pool
        new = [t for t in mailed_tokens(log, kind) if t not in before]
        if new:
            return new[0]
        time.sleep(0.1)
    raise AssertionError(f"no new {kind} mail in {log}")


def summary(answers: list[Answer]) -> Counter[int]:
    return Counter(a.status for a in answers)


# --- the scenarios (each returns its answers; the tests and the measurement share them) ---------

def race_one_token(base: str, delivery: str, n: int = 20) -> tuple[list[Answer], set[str]]:
    """``n`` simultaneous refreshes of one refresh token: answers and the distinct successors."""
    client = Client(base, delivery)
    assert client.login().status == 200
    answers = together([lambda: client.send("POST", "/auth/refresh", client.refresh_body())] * n)
    return answers, {s for s in map(client.successor, answers) if s}


def ensure_users(tmp_path: Path, emails: list[str]) -> None:
    """Create each account that does not exist yet, with ``DEMO_PASSWORD``, in the live server's database."""
    manage(tmp_path, "shell", "-c", "from django.contrib.auth import get_user_model as g; U = g(); "
           f"[U.objects.filter(username=e).exists() or U.objects.create_user(e, e, {DEMO_PASSWORD!r}) "
           f"for e in {emails!r}]")


def refresh_many_users(base: str, tmp_path: Path, delivery: str, n: int = PARALLEL) -> list[Answer]:
    """One refresh for each of ``n`` users, all at once."""
    emails = [f"user{i}-{delivery}@example.com" for i in range(n)]
    ensure_users(tmp_path, emails)
    clients = [Client(base, delivery) for _ in emails]
    for client, email in zip(clients, emails, strict=True):
        assert client.login(email).status == 200
    return together([lambda c=c: c.send("POST", "/auth/refresh", c.refresh_body()) for c in clients])


def token_mailed_to_own_account(base: str, tmp_path: Path, delivery: str, prefix: str,
                                request_path: str, link: str) -> str:
    """Create ``<prefix>-<delivery>@example.com``, ask ``request_path`` to mail it, return the token
    of the ``link`` in that mail."""
    email = f"{prefix}-{delivery}@example.com"
    ensure_users(tmp_path, [email])
    log = tmp_path / "server.log"
    before = mailed_tokens(log, link)
    assert Client(base, delivery).call("POST", request_path, {"email": email}).status == 202
    return next_mailed_token(log, link, before)


def consume_magic_link(base: str, tmp_path: Path, delivery: str) -> list[Answer]:
    """One magic link verified by ``PARALLEL`` requests at once.

    Its own account: a magic link that is the first proof of an unverified address removes the
    password (pre-account hijacking), so on the demo user it would fail every later login."""
    token = token_mailed_to_own_account(base, tmp_path, delivery, "magic", "/auth/magic-link/send", "magic-link")
    clients = [Client(base, delivery) for _ in range(PARALLEL)]
    return together([lambda c=c: c.send("POST", "/auth/magic-link/verify", {"token": token}) for c in clients])


def consume_reset_token(base: str, tmp_path: Path, delivery: str) -> list[Answer]:
    """One password-reset token used by ``PARALLEL`` requests at once (it sets the same password).

    Its own account, for the magic link's reason: the reset ends the account's sessions."""
    token = token_mailed_to_own_account(base, tmp_path, delivery, "reset", "/auth/forgot-password", "reset-password")
    clients = [Client(base, delivery) for _ in range(PARALLEL)]
    return together([lambda c=c: c.send("POST", "/auth/reset-password", {"token": token, "password": DEMO_PASSWORD})
                     for c in clients])


def consume_recovery_code(base: str, tmp_path: Path, delivery: str) -> list[Answer]:
    """One recovery code sent with ``PARALLEL`` pending 2FA logins at once."""
    email = f"twofactor-{delivery}@example.com"
    manage(tmp_path, "shell", "-c", "from django.contrib.auth import get_user_model as g; U = g(); "
           f"U.objects.filter(username={email!r}).exists() or U.objects.create_user({email!r}, {email!r}, "
           f"{DEMO_PASSWORD!r})")
    owner = Client(base, "bearer")
    assert owner.login(email).status == 200
    secret = owner.call("POST", "/auth/2fa/setup").body["secret"]
    code = f"{totp(base64.b32decode(secret + '=' * (-len(secret) % 8))):06d}"
    setup = owner.call("POST", "/auth/2fa/verify-setup", {"token": code})
    assert setup.status == 200, setup.body
    recovery = setup.body["recoveryCodes"][0]
    clients = [Client(base, delivery) for _ in range(PARALLEL)]
    temps = [c.login(email).body["tempToken"] for c in clients]
    return together([lambda c=c, t=t: c.send("POST", "/auth/2fa/verify", {"tempToken": t, "recoveryCode": recovery})
                     for c, t in zip(clients, temps, strict=True)])


# --- the tests ----------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    tmp_path = tmp_path_factory.mktemp("sqlite-live")
    with live_server(tmp_path, threads=PARALLEL) as base:
        yield base, tmp_path


def assert_no_5xx_all_json(answers: list[Answer]) -> None:
    assert all(a.status < 500 and a.is_json for a in answers), [(a.status, a.body) for a in answers]


def test_simultaneous_refreshes_of_one_token_queue_and_hand_out_one_successor(
        server: tuple[str, Path], delivery: str) -> None:
    answers, successors = race_one_token(server[0], delivery)
    assert_no_5xx_all_json(answers)
    assert len(successors) <= 1  # single use: one successor, whatever the grace window allows
    assert summary(answers)[200] >= 1
    assert all(a.status in (200, 401) for a in answers), summary(answers)


def test_simultaneous_refreshes_of_different_users_all_succeed(server: tuple[str, Path], delivery: str) -> None:
    answers = refresh_many_users(server[0], server[1], delivery)
    assert summary(answers) == {200: PARALLEL}, [(a.status, a.body) for a in answers]


def test_a_magic_link_used_at_once_by_many_works_once(server: tuple[str, Path], delivery: str) -> None:
    base, tmp_path = server
    answers = consume_magic_link(base, tmp_path, delivery)
    assert_no_5xx_all_json(answers)
    assert summary(answers)[200] == 1, [(a.status, a.body) for a in answers]


def test_a_reset_token_used_at_once_by_many_works_once(server: tuple[str, Path], delivery: str) -> None:
    base, tmp_path = server
    answers = consume_reset_token(base, tmp_path, delivery)
    assert_no_5xx_all_json(answers)
    assert summary(answers)[200] == 1, [(a.status, a.body) for a in answers]


def test_a_recovery_code_used_at_once_by_many_works_once(server: tuple[str, Path], delivery: str) -> None:
    answers = consume_recovery_code(server[0], server[1], delivery)
    assert_no_5xx_all_json(answers)
    assert summary(answers)[200] == 1, [(a.status, a.body) for a in answers]


# A busy timeout short enough to run out while this test holds the lock.
SHORT_TIMEOUT_SETTINGS = """from example_project.settings import *  # noqa: F403
DATABASES["default"]["OPTIONS"]["timeout"] = 0.5  # noqa: F405
"""


@pytest.fixture(scope="module")
def short_timeout_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    tmp_path = tmp_path_factory.mktemp("sqlite-locked")
    (tmp_path / "short_timeout_settings.py").write_text(SHORT_TIMEOUT_SETTINGS)
    env = {"DJANGO_SETTINGS_MODULE": "short_timeout_settings", "PYTHONPATH": str(tmp_path)}
    with live_server(tmp_path, env=env, threads=4) as base:
        yield base, tmp_path


def test_a_write_lock_held_past_the_timeout_is_a_json_503_then_service_resumes(
        short_timeout_server: tuple[str, Path], delivery: str) -> None:
    base, tmp_path = short_timeout_server
    client = Client(base, delivery)
    assert client.login().status == 200
    holder = sqlite3.connect(tmp_path / "db.sqlite3", isolation_level=None, timeout=DEADLINE)
    try:
        holder.execute("BEGIN IMMEDIATE")  # another process holds the write lock
        for answer in (client.send("POST", "/auth/refresh", client.refresh_body()), Client(base, delivery).login()):
            assert answer.status == 503, (answer.status, answer.body)
            assert answer.is_json and answer.body["code"] == "SERVICE_UNAVAILABLE"
            assert int(answer.headers["Retry-After"]) > 0
    finally:
        holder.close()  # releases the lock (the open transaction rolls back)
    assert client.call("POST", "/auth/refresh", client.refresh_body()).status == 200  # the same token, unspent
    assert client.send("GET", "/api/hello").status == 200
    log = (tmp_path / "server.log").read_text(errors="replace")
    assert "WARNING django_dualauth.audit auth.database.unavailable error=sqlite3.OperationalError/SQLITE_BUSY" in log
    assert "ERROR django.request Service Unavailable: /auth/refresh" in log  # every 5xx leaves a line


# --- measurement -------------------------------------------------------------------------------

MEASURE_SETTINGS = """from example_project.settings import *  # noqa: F403
from django_dualauth.conf import DEFAULT_RATE_LIMITS
DUALAUTH_RATE_LIMITS = dict.fromkeys(DEFAULT_RATE_LIMITS)  # rounds of the same scenarios, one IP
if {deferred}:
    DATABASES["default"].pop("OPTIONS", None)  # noqa: F405 - main before commit 33313e8
"""


def measure(rounds: int, deferred: bool) -> dict[str, Counter[Any]]:
    """The issue's scenarios ``rounds`` times per delivery; counts of the answers' status
    (``"html-500"``: a 5xx that is not JSON) and of races with more than one successor."""
    totals: dict[str, Counter[Any]] = {}

    def add(name: str, answers: list[Answer]) -> None:
        counter = totals.setdefault(name, Counter())
        counter.update("html-500" if a.status >= 500 and not a.is_json else a.status for a in answers)

    with tempfile.TemporaryDirectory(prefix="dualauth-avail-") as tmp:
        tmp_path = Path(tmp)
        (tmp_path / "measure_settings.py").write_text(MEASURE_SETTINGS.format(deferred=deferred))
        env = {"DJANGO_SETTINGS_MODULE": "measure_settings", "PYTHONPATH": str(tmp_path)}
        with live_server(tmp_path, env=env, threads=PARALLEL) as base:
            for r in range(rounds):
                for delivery in ("cookie", "bearer"):
                    answers, successors = race_one_token(base, delivery)
                    add("20 refreshes of one token", answers)
                    totals.setdefault("races with >1 successor", Counter())[len(successors) > 1] += 1
                    add("8 users refreshing at once", refresh_many_users(base, tmp_path, f"{delivery}{r}"))
                    add("magic link x8", consume_magic_link(base, tmp_path, delivery))
                    add("reset token x8", consume_reset_token(base, tmp_path, delivery))
                    manage(tmp_path, "shell", "-c", "from django.contrib.auth import get_user_model as g; "
                           "g().objects.filter(username__startswith='twofactor-').delete()")
                    add("recovery code x8", consume_recovery_code(base, tmp_path, delivery))
    return totals


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3, help="repetitions of every scenario per delivery")
    parser.add_argument("--deferred", action="store_true", help="without the example project's SQLite OPTIONS")
    args = parser.parse_args()
    for name, counter in measure(args.rounds, args.deferred).items():
        print(f"{name:30} {dict(sorted(counter.items(), key=str))}")


if __name__ == "__main__":
    sys.exit(main())
