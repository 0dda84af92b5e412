"""Sessions that survive a refresh whose answer is lost (issue 15, item 3), through gunicorn.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/dualauth_bench_dropped \\
        .venv/bin/python -m bench.dropped_refresh [--sessions 100] [--race 20] [--graces 0,10]

For each grace (seconds), a gunicorn server (2 workers, 4 threads each) runs the example project
with ``DUALAUTH_REFRESH_REUSE_GRACE`` set to it, on the database given (created if missing).
Then, per session: log in (bearer), send a refresh and close the connection without reading
the answer (the server commits the rotation; the client never sees the successor), wait
``--retry-after`` seconds, retry with the token it still holds, and refresh once more. A session
survives if both answers are 200. The race: ``--race`` threads send one token at the same
instant, each on its own connection, for ``--races`` sessions; a session survives if every
answer is 200 and the token they return refreshes again.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from .common import ensure_database

ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
SETTINGS = """from example_project.settings import *  # noqa: F403
from datetime import timedelta
DUALAUTH_REFRESH_REUSE_GRACE = timedelta(seconds={grace})
DUALAUTH_RATE_LIMITS = {{"refresh_ip": "100000/m"}}  # the replays of grace 0 must not hit 429
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def _request(port: int, path: str, body: dict[str, Any], *, read: bool = True) -> tuple[int, dict[str, Any]]:
    data = json.dumps(body).encode()
    head = (f"POST {path} HTTP/1.1\r\nHost: {HOST}\r\nContent-Type: application/json\r\n"
            f"X-Auth-Strategy: bearer\r\nContent-Length: {len(data)}\r\nConnection: close\r\n\r\n").encode()
    with socket.create_connection((HOST, port), timeout=30) as conn:
        conn.sendall(head + data)
        if not read:
            return 0, {}  # closed at once: the answer is dropped
        raw = b""
        while chunk := conn.recv(65536):
            raw += chunk
    header, _, payload = raw.partition(b"\r\n\r\n")
    return int(header.split()[1]), json.loads(payload or b"{}")


class Server:
    def __init__(self, grace: float, env: dict[str, str]) -> None:
        self.dir = tempfile.TemporaryDirectory(prefix="dualauth-dropped-")
        Path(self.dir.name, "dropped_settings.py").write_text(SETTINGS.format(grace=grace))
        self.env = {**env, "DJANGO_SETTINGS_MODULE": "dropped_settings",
                    "PYTHONPATH": os.pathsep.join([self.dir.name, str(ROOT)])}
        self.port = _free_port()

    def __enter__(self) -> Server:
        subprocess.check_call([sys.executable, "manage.py", "migrate", "-v", "0"], cwd=ROOT, env=self.env)  # noqa: S603
        self.proc = subprocess.Popen(  # noqa: S603
            [sys.executable, "-m", "gunicorn", "example_project.wsgi:application", "-w", "2", "--threads", "4",
             "-b", f"{HOST}:{self.port}", "--log-level", "warning"], cwd=ROOT, env=self.env)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                _request(self.port, "/auth/refresh", {"refreshToken": "x" * 43})
                return self
            except OSError:
                time.sleep(0.2)
        raise RuntimeError("gunicorn did not start")

    def __exit__(self, *exc: object) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=30)
        self.dir.cleanup()


def _login(port: int, email: str) -> str:
    status, body = _request(port, "/auth/login", {"email": email, "password": "dropped-bench-password"})
    assert status == 200, body
    return str(body["refreshToken"])


def dropped(port: int, email: str, sessions: int, retry_after: float) -> int:
    survived = 0
    for _ in range(sessions):
        token = _login(port, email)
        _request(port, "/auth/refresh", {"refreshToken": token}, read=False)
        time.sleep(retry_after)
        status, body = _request(port, "/auth/refresh", {"refreshToken": token})
        if status == 200 and _request(port, "/auth/refresh", {"refreshToken": body["refreshToken"]})[0] == 200:
            survived += 1
    return survived


def race(port: int, email: str, races: int, width: int) -> int:
    survived = 0
    for _ in range(races):
        token = _login(port, email)
        barrier = threading.Barrier(width)
        answers: list[tuple[int, dict[str, Any]]] = []

        def one(barrier: threading.Barrier, token: str, answers: list[tuple[int, dict[str, Any]]]) -> None:
            barrier.wait(timeout=60)
            answers.append(_request(port, "/auth/refresh", {"refreshToken": token}))

        threads = [threading.Thread(target=one, args=(barrier, token, answers)) for _ in range(width)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
        successors = {body.get("refreshToken") for status, body in answers if status == 200}
        if (len(answers) == width and all(status == 200 for status, _ in answers) and len(successors) == 1
                and _request(port, "/auth/refresh", {"refreshToken": successors.pop()})[0] == 200):
            survived += 1
    return survived


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sessions", type=int, default=100, help="sessions with one dropped answer each")
    parser.add_argument("--retry-after", type=float, default=0.5, help="seconds between the drop and the retry")
    parser.add_argument("--races", type=int, default=10, help="sessions raced")
    parser.add_argument("--race", type=int, default=20, help="simultaneous refreshes of one token per race")
    parser.add_argument("--graces", default="0,10", help="grace windows to compare, in seconds")
    args = parser.parse_args()
    env = {**os.environ, "DJANGO_DEBUG": "0"}
    env.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/dualauth_bench_dropped")
    env.setdefault("DJANGO_SECRET_KEY", "dropped-bench-" + "k" * 60)
    ensure_database(env["DATABASE_URL"])
    email = "dropped-bench@example.com"
    for grace in (float(g) for g in args.graces.split(",")):
        with Server(grace, env) as server:
            subprocess.check_call([sys.executable, "-c", (  # noqa: S603
                "import django; django.setup(); from django.contrib.auth import get_user_model as g; "
                f"u = g().objects.filter(username='{email}').first() or g()(username='{email}', email='{email}'); "
                "u.set_password('dropped-bench-password'); u.is_active = True; u.save()")], cwd=ROOT, env=server.env)
            kept = dropped(server.port, email, args.sessions, args.retry_after)
            raced = race(server.port, email, args.races, args.race)
        print(f"grace {grace:g} s: {kept} of {args.sessions} sessions survived a dropped answer retried after "
              f"{args.retry_after:g} s; {raced} of {args.races} survived a {args.race}-way race", flush=True)


if __name__ == "__main__":
    main()
