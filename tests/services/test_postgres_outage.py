"""PostgreSQL stopped under a running server (issue 15, item 2): every endpoint and a project
view answer JSON (503 ``SERVICE_UNAVAILABLE`` with ``Retry-After`` where they need the
database), never Django's HTML 500; the outage is logged; after the restart the same tokens
work again without restarting the app.

The test starts its own PostgreSQL cluster (``initdb`` in a temporary directory, a free port)
and stops it by process id: the machine's server is never touched. The app is the example
project under gunicorn threads (``tests/live_server.py``), as in production.
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from tests.live_server import DEADLINE, Answer, Client, free_port, live_server
from tests.test_database_outage import NO_DATABASE, VALID_BODY, routes

pytestmark = pytest.mark.postgres

BINDIR = Path(shutil.which("postgres") or "/nonexistent").resolve().parent
if not (BINDIR / "initdb").exists():
    pytest.skip("the PostgreSQL server binaries (initdb, postgres) are not installed", allow_module_level=True)


class OwnPostgres:
    """A throw-away PostgreSQL cluster on 127.0.0.1:<free port>, trust authentication.

    PostgreSQL refuses to run as root: as root, the cluster belongs to the ``postgres`` user.
    """

    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="dualauth-avail-pg-"))
        self.port = free_port()
        self.user: dict[str, Any] = {}
        if os.geteuid() == 0:
            owner = pwd.getpwnam("postgres")
            os.chown(self.dir, owner.pw_uid, owner.pw_gid)
            self.user = {"user": owner.pw_uid, "group": owner.pw_gid, "extra_groups": []}
        self.proc: subprocess.Popen[bytes] | None = None
        self.url = f"postgres://postgres@127.0.0.1:{self.port}/postgres"
        subprocess.run([str(BINDIR / "initdb"), "-D", str(self.dir / "data"), "-U", "postgres", "-A", "trust",
                        "-E", "UTF8", "--no-sync"], check=True, capture_output=True, timeout=120, **self.user)

    def start(self) -> None:
        with (self.dir / "server.log").open("ab") as log:
            self.proc = subprocess.Popen(
                [str(BINDIR / "postgres"), "-D", str(self.dir / "data"), "-p", str(self.port), "-k", str(self.dir),
                 "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off", "-c", "max_connections=20",
                 "-c", "shared_buffers=16MB"], stdout=log, stderr=subprocess.STDOUT, **self.user)
        deadline = time.monotonic() + DEADLINE
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, (self.dir / "server.log").read_text()[-2000:]
            try:
                psycopg.connect(self.url, connect_timeout=2).close()
                return
            except psycopg.OperationalError:
                time.sleep(0.2)
        raise AssertionError(f"PostgreSQL on {self.port} did not start")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGINT)  # fast shutdown: sessions are cut, as in a crash or failover
            self.proc.wait(timeout=DEADLINE)
        self.proc = None

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture
def postgres() -> Iterator[OwnPostgres]:
    server = OwnPostgres()
    try:
        server.start()
        yield server
    finally:
        server.remove()


def assert_503(answer: Answer) -> None:
    assert answer.status == 503, (answer.status, answer.body)
    assert answer.is_json and answer.body["code"] == "SERVICE_UNAVAILABLE", answer.body
    assert int(answer.headers["Retry-After"]) > 0


def until_ok(send: Any) -> Answer:
    """Poll until the app answers 200 again (its first request after the restart may still
    meet the connection the shutdown cut)."""
    deadline = time.monotonic() + DEADLINE
    while True:
        answer = send()
        if answer.status == 200 or time.monotonic() > deadline:
            return answer
        assert answer.status == 503 and answer.is_json, (answer.status, answer.body)
        time.sleep(0.2)


def test_a_stopped_postgresql_is_a_json_503_everywhere_and_the_app_recovers_by_itself(
        postgres: OwnPostgres, tmp_path: Path) -> None:
    with live_server(tmp_path, env={"DATABASE_URL": postgres.url}, threads=4) as base:
        clients = {delivery: Client(base, delivery) for delivery in ("cookie", "bearer")}
        for client in clients.values():
            assert client.login().status == 200
        assert clients["bearer"].send("GET", "/api/hello").status == 200

        postgres.stop()
        for client in clients.values():
            body = {**VALID_BODY, **client.refresh_body()}
            for path in routes():
                for method in ("GET", "POST", "DELETE"):
                    answer = client.send(method, path, body)
                    assert answer.is_json, (method, path, answer.status, answer.body)
                    if answer.status != 405 and path not in NO_DATABASE:
                        assert_503(answer)
            for answer in (client.send("POST", "/auth/refresh", client.refresh_body()), client.send("GET", "/auth/me"),
                           client.send("GET", "/api/hello"), client.login(), client.send("POST", "/auth/logout")):
                assert_503(answer)
        log = (tmp_path / "server.log").read_text(errors="replace")
        assert "auth.database.unavailable" in log  # the audit record
        assert "Service Unavailable: /auth/refresh" in log  # django.request: every 5xx leaves a line

        postgres.start()
        for client in clients.values():  # the tokens issued before the outage, unspent by it
            assert until_ok(lambda c=client: c.send("GET", "/auth/me")).status == 200
            assert client.call("POST", "/auth/refresh", client.refresh_body()).status == 200
            assert client.send("GET", "/api/hello").status == 200
