"""Revocations hold through a Redis outage in the cache revocation mode (issue 15, item 4).

The example project behind separate gunicorn servers on PostgreSQL and on a Redis server of the
test's own (a free port, no persistence), which the test stops and starts again by its pid.
Each case replays the revoked sessions' access tokens on every server afterwards and counts the
200s, which must be none, with and without ``REVOCATION_PUSH``:

* a logout while Redis is down (its marker write fails), Redis started again empty;
* the same, Redis started again from a snapshot taken before the outage (it holds the key that
  says "complete" but not the new marker): each process that saw the outage republishes first;
* Redis restarted (every marker lost) after logouts that a late process never heard of.

Then a fresh session is accepted everywhere again (the fast path is back).
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
import pytest
import redis

from tests.live_server import free_port, wait_for_port
from tests.real_servers.test_multiprocess import DB_NAME as MP_DB_NAME
from tests.real_servers.test_multiprocess import PG_ADMIN, ROOT, call, login

pytestmark = [pytest.mark.postgres, pytest.mark.redis]

DB_NAME = f"{MP_DB_NAME}_outage"
DATABASE_URL = PG_ADMIN.rsplit("/", 1)[0] + "/" + DB_NAME
REDIS_SERVER = shutil.which("redis-server")
SESSIONS = 6  # sessions revoked per case; each token is replayed REPLAYS times on every server
REPLAYS = 2


class OwnRedis:
    """A redis-server of this test's own, stopped and started by its pid (never the machine's)."""

    def __init__(self, workdir: Path) -> None:
        self.port, self.workdir = free_port(), workdir
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        assert REDIS_SERVER is not None
        self.proc = subprocess.Popen(
            [REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(self.workdir), "--dbfilename", "snapshot.rdb"],
            stdout=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        while True:
            try:
                if redis.Redis.from_url(self.url, socket_timeout=1).ping():
                    return
            except redis.ConnectionError:
                pass
            assert self.proc.poll() is None, f"redis-server exited with {self.proc.returncode}"
            assert time.monotonic() < deadline, "redis-server did not start"
            time.sleep(0.05)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()  # with --save "" nothing is written on the way down
            self.proc.wait(timeout=30)
        self.proc = None

    def snapshot(self) -> None:
        """What the next start loads (redis-server loads its dbfilename at start, if there)."""
        assert redis.Redis.from_url(self.url).save()

    def forget_snapshot(self) -> None:
        (self.workdir / "snapshot.rdb").unlink(missing_ok=True)


@dataclass
class Deployment:
    redis: OwnRedis
    env: dict[str, str]
    servers: list[str] = field(default_factory=list)
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def start_server(self) -> str:
        port = free_port()
        proc = subprocess.Popen([sys.executable, "-m", "gunicorn", "example_project.wsgi",
                                 "--bind", f"127.0.0.1:{port}", "--workers", "1",
                                 "--log-level", "warning"], env=self.env, cwd=ROOT,
                                stderr=subprocess.DEVNULL)
        self.procs.append(proc)
        wait_for_port(port, proc)
        self.servers.append(f"http://127.0.0.1:{port}")
        return self.servers[-1]


@pytest.fixture(scope="module", params=["cache", "cache+push"])
def deployment(request: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    if REDIS_SERVER is None:
        pytest.skip("redis-server is not installed")
    own = OwnRedis(tmp_path_factory.mktemp("redis"))
    own.start()
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{DB_NAME}"')
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "example_project.settings",
           "DATABASE_URL": DATABASE_URL, "REDIS_URL": own.url,
           "DUALAUTH_REVOCATION_CHECK": "cache", "DJANGO_DEBUG": "0",
           "DUALAUTH_REVOCATION_PUSH": "1" if request.param == "cache+push" else "0",
           "DJANGO_SECRET_KEY": secrets.token_urlsafe(50)}
    deployment = Deployment(own, env)
    try:
        manage = [sys.executable, str(ROOT / "manage.py")]
        subprocess.run([*manage, "migrate", "--noinput", "-v", "0"], env=env, cwd=ROOT, check=True)
        subprocess.run([*manage, "create_demo_user"], env=env, cwd=ROOT, check=True,
                       stdout=subprocess.DEVNULL)
        deployment.start_server()
        deployment.start_server()
        yield deployment
    finally:
        for proc in deployment.procs:
            proc.terminate()
        for proc in deployment.procs:
            proc.wait(timeout=30)
        own.stop()
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')


@pytest.fixture
def redis_up(deployment: Deployment) -> Deployment:
    """Each case starts with Redis running, empty, and no snapshot to load."""
    deployment.redis.stop()
    deployment.redis.forget_snapshot()
    deployment.redis.start()
    return deployment


def hello(base: str, token: str) -> int:
    return call(base, "GET", "/api/hello", token=token)[0]


def sessions_seen_alive_everywhere(servers: list[str]) -> list[str]:
    """SESSIONS fresh access tokens, each already answered as live by every server (with push,
    every process then remembers it as "not revoked")."""
    tokens = []
    for i in range(SESSIONS):
        status, body, _ = login(servers[i % len(servers)])
        assert status == 200, body
        tokens.append(body["accessToken"])
    assert {hello(base, token) for base in servers for token in tokens} == {200}
    return tokens


def logout(base: str, token: str) -> None:
    status, body, _ = call(base, "POST", "/auth/logout", token=token)
    assert (status, body) == (200, {"success": True})


def replays_accepted(servers: list[str], tokens: list[str]) -> list[tuple[str, int]]:
    """Every token replayed REPLAYS times on every server: the (server, token index) accepted."""
    return [(base, i) for _ in range(REPLAYS) for base in servers for i, token in enumerate(tokens)
            if hello(base, token) == 200]


def assert_fast_path_is_back(servers: list[str]) -> None:
    status, body, _ = login(servers[0])
    assert status == 200, body
    assert {hello(base, body["accessToken"]) for base in servers} == {200}


def test_a_logout_while_redis_is_down_is_refused_by_every_process_after_it_is_back(
        redis_up: Deployment) -> None:
    a, b = redis_up.servers[:2]
    tokens = sessions_seen_alive_everywhere([a, b])

    redis_up.redis.stop()
    for token in tokens:
        logout(a, token)  # the row is revoked; the marker write fails
    assert {hello(base, token) for base in (a, b) for token in tokens} == {401}  # the database answers

    redis_up.redis.start()  # empty: no persistence
    accepted = replays_accepted([b, a], tokens)
    assert accepted == [], f"{len(accepted)} of {REPLAYS * 2 * SESSIONS} replays accepted"
    assert_fast_path_is_back([a, b])


def test_a_logout_while_redis_is_down_is_refused_after_a_restart_from_a_snapshot(
        redis_up: Deployment) -> None:
    a, b = redis_up.servers[:2]
    tokens = sessions_seen_alive_everywhere([a, b])
    redis_up.redis.snapshot()  # holds "complete", and no marker of these sessions

    redis_up.redis.stop()
    for token in tokens:
        logout(a, token)
    assert {hello(base, token) for base in (a, b) for token in tokens} == {401}  # b sees the outage too

    redis_up.redis.start()  # loads the snapshot: "complete" is back, the markers are not
    accepted = replays_accepted([b, a], tokens)
    assert accepted == [], f"{len(accepted)} of {REPLAYS * 2 * SESSIONS} replays accepted"
    assert_fast_path_is_back([a, b])


def test_a_redis_restart_loses_no_revocation_in_any_process(redis_up: Deployment) -> None:
    a, b = redis_up.servers[:2]
    tokens = sessions_seen_alive_everywhere([a, b])
    for token in tokens:
        logout(a, token)  # markers written and published
    assert {hello(base, token) for base in (a, b) for token in tokens} == {401}
    late = redis_up.start_server()  # it never heard of these revocations

    redis_up.redis.stop()
    redis_up.redis.start()  # every marker is lost
    accepted = replays_accepted([late, b, a], tokens)
    assert accepted == [], f"{len(accepted)} of {REPLAYS * 3 * SESSIONS} replays accepted"
    assert_fast_path_is_back([late, a, b])
