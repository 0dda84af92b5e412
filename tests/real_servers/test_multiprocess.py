"""The production shape: the example project on PostgreSQL + Redis behind two separate
gunicorn servers (two processes that share nothing but the database and the cache).

Proves that what one process decides, the other enforces: sessions issued by one are
honoured and rotated by the other, a logout on one is refused at once by the other in the
cache-checked revocation mode (0 SQL per request), with and without ``REVOCATION_PUSH`` (where
the other process has already remembered the session as live), and rate-limit counters add up
across processes.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
import redis

from tests.live_server import free_port, wait_for_port

pytestmark = [pytest.mark.postgres, pytest.mark.redis]

ROOT = Path(__file__).resolve().parents[2]
PG_ADMIN = os.environ.get("DUALAUTH_TEST_PG_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
DB_NAME = os.environ.get("DUALAUTH_TEST_MP_DB", "dualauth_multiprocess")
DATABASE_URL = PG_ADMIN.rsplit("/", 1)[0] + "/" + DB_NAME
REDIS_URL = os.environ.get("DUALAUTH_TEST_MP_REDIS_URL", "redis://127.0.0.1:6379/4")
EMAIL, PASSWORD = "demo@example.com", "demo-password-123"


@pytest.fixture(scope="module", params=["cache", "cache+push"])
def servers(request: Any) -> Iterator[list[str]]:
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{DB_NAME}"')
    redis.Redis.from_url(REDIS_URL).flushdb()
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "example_project.settings",
           "DATABASE_URL": DATABASE_URL, "REDIS_URL": REDIS_URL,
           "DUALAUTH_REVOCATION_CHECK": "cache", "DJANGO_DEBUG": "0",
           "DUALAUTH_REVOCATION_PUSH": "1" if request.param == "cache+push" else "0",
           "DJANGO_SECRET_KEY": secrets.token_urlsafe(50)}
    manage = [sys.executable, str(ROOT / "manage.py")]
    subprocess.run([*manage, "migrate", "--noinput", "-v", "0"], env=env, cwd=ROOT, check=True)
    subprocess.run([*manage, "create_demo_user"], env=env, cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
    ports = [free_port(), free_port()]
    procs = [subprocess.Popen([sys.executable, "-m", "gunicorn", "example_project.wsgi",
                               "--bind", f"127.0.0.1:{port}", "--workers", "1",
                               "--log-level", "warning"], env=env, cwd=ROOT)
             for port in ports]
    try:
        for port, proc in zip(ports, procs, strict=True):
            wait_for_port(port, proc)
        yield [f"http://127.0.0.1:{port}" for port in ports]
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(timeout=10)
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')


def call(base: str, method: str, path: str, body: Any = None, token: str | None = None,
         ip: str = "198.51.100.1") -> tuple[int, dict[str, Any], dict[str, str]]:
    headers = {"X-Auth-Strategy": "bearer", "Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(base + path, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=15) as resp:  # noqa: S310 - loopback only
            return resp.status, json.loads(resp.read() or b"{}"), dict(resp.headers)
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read() or b"{}"), dict(err.headers)


def login(base: str, password: str = PASSWORD, email: str = EMAIL) -> tuple[int, dict[str, Any], dict[str, str]]:
    return call(base, "POST", "/auth/login", {"email": email, "password": password})


def test_session_from_one_process_is_used_rotated_and_revoked_in_the_other(servers: list[str]) -> None:
    a, b = servers
    status, tokens, _ = login(a)
    assert status == 200, tokens
    assert call(b, "GET", "/api/hello", token=tokens["accessToken"])[0] == 200

    status, rotated, _ = call(b, "POST", "/auth/refresh", {"refreshToken": tokens["refreshToken"]})
    assert status == 200, rotated
    assert call(a, "GET", "/api/hello", token=rotated["accessToken"])[0] == 200
    status, rotated, _ = call(a, "POST", "/auth/refresh", {"refreshToken": rotated["refreshToken"]})
    assert status == 200, rotated

    # Reuse of a spent token on process A (the grandparent: no grace window covers it) revokes
    # the family; B refuses its access token at once.
    status, body, _ = call(a, "POST", "/auth/refresh", {"refreshToken": tokens["refreshToken"]})
    assert (status, body["code"]) == (401, "SESSION_REVOKED")
    status, body, headers = call(b, "GET", "/api/hello", token=rotated["accessToken"])
    assert (status, body["code"]) == (401, "SESSION_REVOKED")
    assert headers["WWW-Authenticate"].startswith("Bearer")


def test_logout_on_one_process_is_enforced_by_the_other_at_once(servers: list[str]) -> None:
    a, b = servers
    tokens = login(b)[1]
    access = tokens["accessToken"]
    assert call(a, "GET", "/api/hello", token=access)[0] == 200  # A has seen it valid

    assert call(b, "POST", "/auth/logout", token=access)[1] == {"success": True}

    status, body, _ = call(a, "GET", "/api/hello", token=access)
    assert (status, body["code"]) == (401, "SESSION_REVOKED")
    assert call(a, "POST", "/auth/refresh", {"refreshToken": tokens["refreshToken"]})[0] == 401


def test_failed_login_counters_are_shared_between_processes(servers: list[str]) -> None:
    a, b = servers
    # An account of its own: the limit it reaches lasts 5 minutes, and the other tests of the
    # module, in whatever order they run, log the demo user in.
    email = "counted@example.com"
    status, body, _ = call(a, "POST", "/auth/register", {"email": email, "password": PASSWORD})
    assert status == 201, body
    limit = 5  # DUALAUTH_RATE_LIMITS["login_email"] default: 5 failures / 5 minutes
    for i in range(limit):
        status, body, _ = login((a, b)[i % 2], password=f"wrong-{i}", email=email)
        assert (status, body["code"]) == (401, "INVALID_CREDENTIALS"), (i, body)

    for base in (a, b):  # each process alone has seen fewer than the limit
        status, body, headers = login(base, email=email)
        assert (status, body["code"]) == (429, "RATE_LIMITED"), body
        assert int(headers["Retry-After"]) > 0
