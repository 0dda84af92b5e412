"""The example project served by gunicorn (one gthread worker) on a fresh file-backed SQLite
database: real threads, real locks, real HTTP, for tests that concurrency or outages decide.

    with live_server(tmp_path) as base:                  # "http://127.0.0.1:<free port>"
        urllib.request.urlopen(base + "/auth/csrf")

The database is ``tmp_path / "db.sqlite3"``, migrated, with the demo user
(``demo@example.com`` / ``demo-password-123``). ``env`` overrides the server's environment
(``DATABASE_URL`` for another database, ``DJANGO_SETTINGS_MODULE`` for a variant of the
settings on ``PYTHONPATH``). The server's output (the example project's console logging, its
mails) goes to ``tmp_path / "server.log"``; :func:`manage` runs a management command against
the same database. The server is stopped by its process id.

:class:`Client` talks to it as a browser (cookies, CSRF token, Origin) or as a native app
(bearer); :func:`together` sends requests from several threads released by one barrier.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any

from tests.real_servers.concurrency import together as released_together

__all__ = ["DEADLINE", "DEMO_EMAIL", "DEMO_PASSWORD", "Answer", "Client", "free_port", "live_server", "manage",
           "server_env", "together", "wait_for_port"]

ROOT = Path(__file__).resolve().parents[1]
DEMO_EMAIL, DEMO_PASSWORD = "demo@example.com", "demo-password-123"
START_TIMEOUT = 60  # seconds: a loaded two-core machine starts gunicorn slowly
DEADLINE = 60.0  # seconds for one request or one burst; only a hung server reaches it
ORIGIN = "http://localhost:3000"  # in the example project's CSRF_TRUSTED_ORIGINS
REFRESH_COOKIE = "__Host-refreshToken"  # DEBUG off: __Host- names


def server_env(tmp_path: Path, env: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment of the server and of :func:`manage` for ``tmp_path``."""
    base = {key: value for key, value in os.environ.items()
            if key not in ("DATABASE_URL", "REDIS_URL") and not key.startswith("DUALAUTH_")}
    return {**base, "DJANGO_SETTINGS_MODULE": "example_project.settings",
            "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}", "DJANGO_DEBUG": "0",
            "DJANGO_SECRET_KEY": _secret(tmp_path), "PYTHONUNBUFFERED": "1", **(env or {})}


def _secret(tmp_path: Path) -> str:
    # One random SECRET_KEY per tmp_path, shared by the server and manage(): tokens must verify.
    path = tmp_path / ".secret"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(50))
    return path.read_text()


def manage(tmp_path: Path, *args: str, env: Mapping[str, str] | None = None) -> str:
    """Run ``manage.py *args`` against ``tmp_path``'s database; its output."""
    result = subprocess.run([sys.executable, str(ROOT / "manage.py"), *args], env=server_env(tmp_path, env),
                            cwd=ROOT, capture_output=True, text=True, timeout=120)
    if result.returncode:
        raise RuntimeError(f"manage.py {' '.join(args)} exited with {result.returncode}:\n{result.stderr[-3000:]}")
    return result.stdout


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for_port(port: int, proc: subprocess.Popen[bytes], log: Path | None = None) -> None:
    """Return once ``proc`` listens on ``port``; raise (with the tail of ``log``) if it exits
    or does not listen within ``START_TIMEOUT``."""
    def tail() -> str:
        return log.read_text()[-3000:] if log is not None and log.exists() else ""

    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server on {port} exited with {proc.returncode}:\n{tail()}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"server did not listen on {port} within {START_TIMEOUT} s:\n{tail()}")


def stop(proc: subprocess.Popen[bytes]) -> None:
    """Stop a server this suite started, by its process id: SIGTERM, then SIGKILL after 30 s."""
    if proc.poll() is None:
        os.kill(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)


@contextmanager
def live_server(tmp_path: Path, *, env: Mapping[str, str] | None = None, threads: int = 8,
                port: int | None = None) -> Iterator[str]:
    """Serve the example project from ``tmp_path``; yields its base URL. ``port``: a fixed one
    (to restart a server where its clients expect it), else a free one."""
    manage(tmp_path, "migrate", "--noinput", "-v", "0", env=env)
    manage(tmp_path, "create_demo_user", env=env)
    port = port or free_port()
    log = tmp_path / "server.log"
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "example_project.wsgi", "--bind", f"127.0.0.1:{port}",
             "--workers", "1", "--worker-class", "gthread", "--threads", str(threads),
             "--timeout", "120", "--graceful-timeout", "5", "--log-level", "warning"],
            env=server_env(tmp_path, env), cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)
    try:
        wait_for_port(port, proc, log)
        yield f"http://127.0.0.1:{port}"
    finally:
        stop(proc)


@dataclass
class Answer:
    status: int
    content_type: str
    body: Any
    headers: dict[str, str]
    cookies: dict[str, str] = field(default_factory=dict)

    @property
    def is_json(self) -> bool:
        return self.content_type.startswith("application/json") and isinstance(self.body, dict)


class Client:
    """One client of the live server: a browser (cookies, CSRF token, Origin) or an app (bearer)."""

    def __init__(self, base: str, delivery: str) -> None:
        self.base, self.delivery = base, delivery
        self.cookies: dict[str, str] = {}
        self.access: str | None = None
        self.refresh_token: str | None = None
        if delivery == "cookie":
            self.call("GET", "/auth/csrf")

    def headers(self) -> dict[str, str]:
        if self.delivery == "cookie":
            return {"Origin": ORIGIN, "X-CSRF-Token": self.cookies.get("csrf-token", ""),
                    "Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items())}
        headers = {"X-Auth-Strategy": "bearer"}
        if self.access:
            headers["Authorization"] = f"Bearer {self.access}"
        return headers

    def send(self, method: str, path: str, body: Any = None) -> Answer:
        """One request with the current credentials; remembers nothing (safe from many threads)."""
        data = json.dumps(body if body is not None else {}).encode() if method != "GET" else None
        request = urllib.request.Request(self.base + path, data=data, method=method,
                                         headers={"Content-Type": "application/json", **self.headers()})
        try:
            with urllib.request.urlopen(request, timeout=DEADLINE) as response:  # noqa: S310 - loopback
                return _answer(response.status, response.headers, response.read())
        except urllib.error.HTTPError as error:
            return _answer(error.code, error.headers, error.read())

    def call(self, method: str, path: str, body: Any = None) -> Answer:
        answer = self.send(method, path, body)
        self.remember(answer)
        return answer

    def remember(self, answer: Answer) -> None:
        self.cookies.update({k: v for k, v in answer.cookies.items() if v})
        if answer.status == 200 and isinstance(answer.body, dict):
            self.access = answer.body.get("accessToken", self.access)
            self.refresh_token = answer.body.get("refreshToken", self.refresh_token)

    def refresh_body(self) -> dict[str, str]:
        return {} if self.delivery == "cookie" else {"refreshToken": self.refresh_token or ""}

    def successor(self, answer: Answer) -> str | None:
        """The new refresh token an answer hands out, if any."""
        if answer.status != 200:
            return None
        return answer.cookies.get(REFRESH_COOKIE) if self.delivery == "cookie" else answer.body.get("refreshToken")

    def login(self, email: str = DEMO_EMAIL, password: str = DEMO_PASSWORD) -> Answer:
        return self.call("POST", "/auth/login", {"email": email, "password": password})


def _answer(status: int, headers: Any, raw: bytes) -> Answer:
    content_type = headers.get("Content-Type", "")
    try:
        body = json.loads(raw) if raw else None
    except ValueError:
        body = raw[:200]
    jar: SimpleCookie = SimpleCookie()
    for header in headers.get_all("Set-Cookie") or []:
        jar.load(header)
    return Answer(status, content_type, body, dict(headers.items()), {k: m.value for k, m in jar.items()})


def together(calls: list[Callable[[], Answer]]) -> list[Answer]:
    """Run the calls on one thread each, released at once by a barrier; their answers. Any call
    that raised (a refused connection, a timeout) fails the test, with the others' answers."""
    answers = released_together(calls)
    failed = [a for a in answers if not isinstance(a, Answer)]
    assert not failed, failed
    return answers
