"""PostgreSQL stopped under a running server (issue 15, item 2): every endpoint and a project
view answer JSON (503 ``SERVICE_UNAVAILABLE`` with ``Retry-After`` where they need the
database), never Django's HTML 500; the outage is logged; after the restart the same tokens
work again without restarting the app.

The test starts its own PostgreSQL cluster (``initdb`` in a temporary directory, a free port)
and stops it by process id: the machine's server is never touched. The app is the example
project under gunicorn threads (``tests/live_server.py``), as in production.

Run as a script to measure the issue's figure (answers by kind during an outage under load,
and the time from the restart to the first 200):
``python -m tests.real_servers.test_postgres_outage --seconds 20``.
"""

from __future__ import annotations

import argparse
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from tests.endpoints import NO_DATABASE, SOCIAL, routes, valid_body
from tests.live_server import DEADLINE, DEMO_EMAIL, DEMO_PASSWORD, Answer, Client, free_port, live_server

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
            body = {**valid_body(DEMO_EMAIL, DEMO_PASSWORD), **client.refresh_body()}
            for path in routes():
                for method in ("GET", "POST", "DELETE"):
                    answer = client.send(method, path, body)
                    assert answer.is_json, (method, path, answer.status, answer.body)
                    if answer.status != 405 and path not in NO_DATABASE | SOCIAL:  # the demo has no provider
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


def measure(seconds: float, threads: int = 4) -> tuple[Counter[str], float, Counter[str], Counter[str]]:
    """Answers by kind while PostgreSQL is down for ``seconds`` under ``threads`` looping
    clients; the seconds from the restart to the first 200 and the answers until then; and the
    server's log lines about them."""
    server = OwnPostgres()
    try:
        server.start()
        with tempfile.TemporaryDirectory(prefix="dualauth-avail-") as tmp, \
                live_server(Path(tmp), env={"DATABASE_URL": server.url}, threads=threads) as base:
            clients = [Client(base, ("cookie", "bearer")[i % 2]) for i in range(threads)]
            for client in clients:
                assert client.login().status == 200
            outage: Counter[str] = Counter()
            stop = threading.Event()

            def load(client: Client) -> None:
                calls = [lambda: client.send("POST", "/auth/refresh", client.refresh_body()),
                         lambda: client.send("GET", "/auth/me"), lambda: client.send("GET", "/api/hello"),
                         lambda: client.send("POST", "/auth/login", {"email": DEMO_EMAIL, "password": DEMO_PASSWORD})]
                i = 0
                while not stop.is_set():
                    answer = calls[i % len(calls)]()
                    outage[f"{answer.status} {'json' if answer.is_json else 'html'}"] += 1
                    i += 1

            server.stop()
            workers = [threading.Thread(target=load, args=(c,)) for c in clients]
            for worker in workers:
                worker.start()
            stop.wait(seconds)
            stop.set()
            for worker in workers:
                worker.join(timeout=DEADLINE)
            server.start()
            restarted, recovery = time.monotonic(), Counter[str]()
            while time.monotonic() - restarted < DEADLINE:
                answer = clients[1].send("GET", "/auth/me")
                recovery[f"{answer.status} {'json' if answer.is_json else 'html'}"] += 1
                if answer.status == 200:
                    break
            recovered_in = time.monotonic() - restarted
            log = (Path(tmp) / "server.log").read_text(errors="replace")
            logged = Counter({"5xx logged": log.count("Internal Server Error: ") + log.count("Service Unavailable: "),
                              "auth.database.unavailable": log.count("auth.database.unavailable")})
            return outage, recovered_in, recovery, logged
    finally:
        server.remove()


def main() -> None:
    parser = argparse.ArgumentParser(description="PostgreSQL outage under load: answers by kind, recovery time")
    parser.add_argument("--seconds", type=float, default=20, help="how long the server stays down")
    parser.add_argument("--threads", type=int, default=4, help="looping clients (and gunicorn threads)")
    args = parser.parse_args()
    outage, recovered_in, recovery, logged = measure(args.seconds, args.threads)
    print(f"while down ({args.seconds:.0f} s): {dict(outage)}; server log lines: {dict(logged)}")
    print(f"after the restart: first 200 after {recovered_in:.2f} s; answers until then: {dict(recovery)}")


if __name__ == "__main__":
    main()
