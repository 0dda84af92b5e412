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
"""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

__all__ = ["DEMO_EMAIL", "DEMO_PASSWORD", "live_server", "manage", "server_env"]

ROOT = Path(__file__).resolve().parents[1]
DEMO_EMAIL, DEMO_PASSWORD = "demo@example.com", "demo-password-123"
START_TIMEOUT = 60  # seconds: a loaded two-core machine starts gunicorn slowly


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
                            cwd=ROOT, check=True, capture_output=True, text=True, timeout=120)
    return result.stdout


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_for(port: int, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"gunicorn exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"gunicorn did not listen on {port} within {START_TIMEOUT} s:\n{log.read_text()[-3000:]}")


@contextmanager
def live_server(tmp_path: Path, *, env: Mapping[str, str] | None = None, threads: int = 8) -> Iterator[str]:
    """Serve the example project from ``tmp_path``; yields its base URL."""
    manage(tmp_path, "migrate", "--noinput", "-v", "0", env=env)
    manage(tmp_path, "create_demo_user", env=env)
    port = _free_port()
    log = tmp_path / "server.log"
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "example_project.wsgi", "--bind", f"127.0.0.1:{port}",
             "--workers", "1", "--worker-class", "gthread", "--threads", str(threads),
             "--timeout", "120", "--graceful-timeout", "5", "--log-level", "warning"],
            env=server_env(tmp_path, env), cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)
    try:
        _wait_for(port, proc, log)
        yield f"http://127.0.0.1:{port}"
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait(timeout=30)
