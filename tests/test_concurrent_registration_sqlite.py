"""Item 10 of issue 15 on SQLite, through a real server: case variants of one address
registered at the same moment make exactly one account (one 201, the rest 409 EMAIL_TAKEN),
and an e-mail change confirmed while the address is being registered does not make a second
account. The PostgreSQL half is tests/real_servers/test_concurrent_registration.py.

The example project serves under gunicorn with 8 threads on a temp SQLite file, with its own
SQLite options (IMMEDIATE, timeout 10, WAL) and with Django's default DEFERRED transactions,
where a registration that read before it wrote used to fail with "database is locked".
"""

from __future__ import annotations

import json
import re
import sqlite3
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.live_server import live_server
from tests.real_servers.concurrency import together

ORIGIN = "http://localhost:3000"  # in the example project's CSRF_TRUSTED_ORIGINS
PASSWORD = "a long and unusual passphrase 42"


def variants(local: str) -> list[str]:
    """Six spellings of one address: ASCII case in the local part, non-ASCII case in the domain."""
    return [f"{local}@bücher.example", f"{local.upper()}@bücher.example", f"{local.title()}@BÜCHER.example",
            f"{local}@Bücher.Example", f"{local.swapcase().title()}@BÜCHER.EXAMPLE", f"{local.upper()}@bücher.EXAMPLE"]


VARIANTS = variants("race-x")
SETTINGS = {"example project (IMMEDIATE)": "example_project.settings",
            "Django's default (DEFERRED)": "tests.example_settings_deferred"}


class Client:
    """One HTTP client of either delivery: ``bearer`` sends X-Auth-Strategy; ``cookie`` fetches
    a CSRF token first and sends it with the cookie and a trusted Origin."""

    def __init__(self, base: str, delivery: str) -> None:
        self.base, self.delivery = base, delivery
        self.headers = {"Content-Type": "application/json"}
        if delivery == "bearer":
            self.headers["X-Auth-Strategy"] = "bearer"
        else:
            with urllib.request.urlopen(f"{base}/auth/csrf", timeout=30) as answer:  # noqa: S310
                token = re.search(r"csrf-token=([^;]+)", answer.headers["Set-Cookie"]).group(1)
            self.headers.update({"Cookie": f"csrf-token={token}", "X-CSRF-Token": token, "Origin": ORIGIN})

    def post(self, path: str, body: dict[str, Any], **headers: str) -> tuple[int, dict[str, Any]]:
        request = urllib.request.Request(f"{self.base}{path}", data=json.dumps(body).encode(), method="POST",
                                         headers={**self.headers, **headers})
        try:
            with urllib.request.urlopen(request, timeout=60) as answer:  # noqa: S310
                return answer.status, json.loads(answer.read() or b"{}")
        except urllib.error.HTTPError as error:
            raw = error.read()
            try:
                return error.code, json.loads(raw)
            except ValueError:
                return error.code, {"raw": raw[:300].decode("utf-8", "replace")}


def accounts_with(db: Path, email: str) -> int:
    """Accounts whose address equals ``email`` ignoring case (in Python: SQLite folds ASCII only)."""
    with sqlite3.connect(db) as connection:
        rows = connection.execute("SELECT email FROM auth_user").fetchall()
    return sum(1 for (stored,) in rows if stored.casefold() == email.casefold())


def register(client: Client, email: str) -> Callable[[], tuple[int, dict[str, Any]]]:
    return lambda: client.post("/auth/register", {"email": email, "password": PASSWORD})


@pytest.mark.parametrize("settings_module", SETTINGS.values(), ids=SETTINGS.keys())
def test_case_variants_registered_at_once_make_one_account(tmp_path: Path, settings_module: str) -> None:
    with live_server(tmp_path, env={"DJANGO_SETTINGS_MODULE": settings_module}) as base:
        clients = [Client(base, "cookie" if i % 2 else "bearer") for i in range(len(VARIANTS))]
        results = together([register(c, v) for c, v in zip(clients, VARIANTS, strict=True)])

    statuses = sorted(status for status, _ in results)
    assert statuses == [201] + [409] * (len(VARIANTS) - 1), results
    assert all(body["code"] == "EMAIL_TAKEN" for status, body in results if status == 409), results
    assert accounts_with(tmp_path / "db.sqlite3", VARIANTS[0]) == 1


def _mailed_token(log: Path, page: str) -> str:
    """The token of the first ``page`` link the console mail backend printed (sent off the
    request path, so polled for, with a generous deadline)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        match = re.search(rf"/{page}\?token=([A-Za-z0-9_-]+)", log.read_text(errors="replace"))
        if match:
            return match.group(1)
        time.sleep(0.1)
    raise AssertionError(f"no {page} link in the server log")


def test_an_email_change_confirmed_while_the_address_is_registered_makes_one_account(tmp_path: Path) -> None:
    target, *others = variants("race-y")
    with live_server(tmp_path) as base:
        owner = Client(base, "bearer")
        status, body = owner.post("/auth/login", {"email": "demo@example.com", "password": "demo-password-123"})
        assert status == 200, body
        status, _ = owner.post("/auth/change-email/request",
                               {"newEmail": target.upper(), "password": "demo-password-123"},
                               Authorization=f"Bearer {body['accessToken']}")
        assert status == 202
        token = _mailed_token(tmp_path / "server.log", "confirm-email")

        clients = [Client(base, "cookie" if i % 2 else "bearer") for i in range(5)]
        work = [lambda: owner.post("/auth/change-email/confirm", {"token": token}),
                *(register(c, v) for c, v in zip(clients, others, strict=True))]
        confirmed, *registered = together(work)

    assert confirmed[0] in (200, 400), confirmed
    assert confirmed[0] == 200 or confirmed[1]["code"] == "INVALID_TOKEN", confirmed
    assert all(status in (201, 409) for status, _ in registered), registered
    winners = [confirmed[0] == 200] + [status == 201 for status, _ in registered]
    assert winners.count(True) == 1, (confirmed, registered)
    assert accounts_with(tmp_path / "db.sqlite3", target) == 1
