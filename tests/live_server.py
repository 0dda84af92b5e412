"""The example project served by a real gunicorn (one worker, ``threads`` threads) on a temp
file-backed SQLite database: concurrency that the in-process test client cannot show.

Minimal version for the registration race tests; same API as the shared helper.
"""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
START_DEADLINE = 120.0  # seconds: a loaded 2-core machine boots Django slowly


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def live_server(tmp_path: Path, *, env: dict[str, str] | None = None, threads: int = 8) -> Iterator[str]:
    """Yield the base URL (``http://127.0.0.1:<port>``) of the running server; the server's
    output is in ``tmp_path / "server.log"``. ``env`` adds to (or overrides) the environment of
    ``migrate``, ``create_demo_user`` and gunicorn. The server is stopped by its process id."""
    environ = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "example_project.settings",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        "DJANGO_DEBUG": "0",  # production's error handling; so a real key (check dualauth.E004)
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
        "PYTHONUNBUFFERED": "1",
        **(env or {}),
    }
    environ.pop("REDIS_URL", None)
    for command in (["migrate", "--noinput"], ["create_demo_user"]):
        subprocess.run([sys.executable, "manage.py", *command], cwd=ROOT, env=environ, check=True,
                       stdout=subprocess.DEVNULL, timeout=START_DEADLINE)
    port = _free_port()
    log = (tmp_path / "server.log").open("wb")
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "--workers", "1", "--worker-class", "gthread", "--threads",
         str(threads), "--bind", f"127.0.0.1:{port}", "--timeout", "120", "example_project.wsgi"],
        cwd=ROOT, env=environ, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_until_up(server, base)
        yield base
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=30)
        log.close()


def _wait_until_up(server: subprocess.Popen[bytes], base: str) -> None:
    deadline = time.monotonic() + START_DEADLINE
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"gunicorn exited with {server.returncode}")
        try:
            with urllib.request.urlopen(f"{base}/auth/csrf", timeout=5):  # noqa: S310 - our own 127.0.0.1
                return
        except (urllib.error.URLError, OSError):
            time.sleep(0.2)
    raise RuntimeError(f"gunicorn did not answer within {START_DEADLINE} s")
