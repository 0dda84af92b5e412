"""``dualauth_purge`` on PostgreSQL under load (issue 15, item 6): its duration, and the median
latency of refreshes running beside it compared with the same refreshes without it.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/dualauth_bench_purge \\
        .venv/bin/python -m bench.purge [--expired 40000] [--live 60000] [--seconds 10]

The database is created if missing and refilled with bulk SQL on every run: ``--expired``
sessions (five eighths idle-expired, a quarter past their absolute expiry, an eighth revoked
eight days ago) with three spent tokens each, and ``--live`` live sessions with
``--live-spent`` each, in random physical order. Then, in a second process, one client refreshes its own session in a
closed loop through Django's test client (the whole stack, no HTTP) for ``--seconds`` without a
purge, then again while ``dualauth_purge`` runs; the report gives the purge's wall time, its
process's CPU time and the two latency medians. Extra arguments after ``--`` go to ``dualauth_purge``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from .common import ensure_database

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "example_project.settings")
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/dualauth_bench_purge")

ROOT = Path(__file__).resolve().parent.parent

FILL = """
TRUNCATE dualauth_rotatedrefreshtoken, dualauth_authsession;
DELETE FROM auth_user WHERE username LIKE 'purge-bench-%%';
INSERT INTO auth_user (password, is_superuser, username, first_name, last_name, email, is_staff,
                       is_active, date_joined)
SELECT '!', false, 'purge-bench-' || g, '', '', 'purge-bench-' || g || '@example.com', false, true, now()
FROM generate_series(1, 1000) g;
CREATE TEMP TABLE kinds AS
SELECT g, CASE WHEN g > %(expired)s THEN 'live'
               WHEN g %% 8 < 5 THEN 'idle' WHEN g %% 8 < 7 THEN 'absolute' ELSE 'revoked' END AS kind
FROM generate_series(1, %(expired)s + %(live)s) g ORDER BY random();
INSERT INTO dualauth_authsession (id, user_id, delivery, auth_methods, refresh_digest, generation,
    created_at, last_used_at, rotated_at, expires_at, absolute_expires_at, ip_address, user_agent,
    revoked_at, revoked_reason)
SELECT gen_random_uuid(), (SELECT min(id) FROM auth_user WHERE username LIKE 'purge-bench-%%') + g %% 1000,
       'bearer', '["pwd"]', md5('s' || g) || md5('t' || g), 3,
       now() - CASE kind WHEN 'idle' THEN interval '10 days' WHEN 'absolute' THEN interval '31 days'
                         WHEN 'revoked' THEN interval '9 days' ELSE interval '1 day' END,
       now() - interval '1 hour', now() - interval '1 hour',
       now() + CASE kind WHEN 'idle' THEN interval '-3 days' WHEN 'absolute' THEN interval '-1 day'
                         ELSE interval '6 days' END,
       now() + CASE kind WHEN 'absolute' THEN interval '-1 day' ELSE interval '20 days' END,
       '203.0.113.7', 'bench',
       CASE kind WHEN 'revoked' THEN now() - interval '8 days' END,
       CASE kind WHEN 'revoked' THEN 'logout' ELSE '' END
FROM kinds;
INSERT INTO dualauth_rotatedrefreshtoken (session_id, digest, generation, rotated_at)
SELECT s.id, md5('r' || s.refresh_digest || n) || md5('q' || s.refresh_digest || n), n, now()
FROM dualauth_authsession s
CROSS JOIN LATERAL generate_series(1, CASE WHEN s.expires_at > now() AND s.absolute_expires_at > now()
                                               AND s.revoked_at IS NULL THEN %(live_spent)s ELSE 3 END) n;
"""


def setup_database(expired: int, live: int, live_spent: int = 1) -> None:
    import psycopg

    cfg = ensure_database(os.environ["DATABASE_URL"])
    subprocess.check_call([sys.executable, "manage.py", "migrate", "-v", "0"], cwd=ROOT)  # noqa: S603
    with psycopg.connect(host=cfg["HOST"], port=cfg["PORT"] or 5432, user=cfg["USER"],
                         dbname=cfg["NAME"], autocommit=True) as conn:
        conn.execute(FILL % {"expired": expired, "live": live, "live_spent": live_spent})  # integers from argparse only
        conn.execute("VACUUM ANALYZE dualauth_authsession")
        conn.execute("VACUUM ANALYZE dualauth_rotatedrefreshtoken")
        conn.execute("CHECKPOINT")


def load(seconds: float) -> None:
    """Refresh one session in a closed loop for ``seconds``; print each latency (ms)."""
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.test import Client

    user_model = get_user_model()
    email = "purge-bench-load@example.com"
    user = user_model.objects.filter(username=email).first() or user_model(username=email, email=email)
    user.set_password("purge-bench-password")
    user.save()
    client = Client(HTTP_HOST="127.0.0.1", HTTP_X_AUTH_STRATEGY="bearer")
    body = client.post("/auth/login", {"email": email, "password": "purge-bench-password"},
                       content_type="application/json").json()
    token = body["refreshToken"]
    print("ready", flush=True)
    sys.stdin.readline()  # go
    end = time.perf_counter() + seconds
    while (start := time.perf_counter()) < end:
        r = client.post("/auth/refresh", {"refreshToken": token}, content_type="application/json")
        elapsed = (time.perf_counter() - start) * 1000
        if r.status_code != 200:
            raise SystemExit(f"refresh answered {r.status_code}: {r.content[:200]!r}")
        token = r.json()["refreshToken"]
        print(f"{elapsed:.3f}", flush=True)


def timed_load(seconds: float, during: list[str] | None) -> tuple[list[float], float | None, float | None, str]:
    proc = subprocess.Popen([sys.executable, "-m", "bench.purge", "--load", str(seconds)], cwd=ROOT,  # noqa: S603
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert proc.stdin and proc.stdout
    assert proc.stdout.readline().strip() == "ready"
    proc.stdin.write("go\n")
    proc.stdin.flush()
    purge_seconds, purge_cpu, output = None, None, ""
    if during is not None:
        t0 = time.perf_counter()
        purge = subprocess.Popen([sys.executable, "manage.py", "dualauth_purge", *during], cwd=ROOT,  # noqa: S603
                                 stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        assert purge.stdout
        output = purge.stdout.read()
        _, status, usage = os.wait4(purge.pid, 0)
        purge_seconds, purge_cpu = time.perf_counter() - t0, usage.ru_utime + usage.ru_stime
        if status:
            raise SystemExit(f"dualauth_purge failed: {output}")
        proc.terminate()  # the load measured only while the purge ran
    latencies = [float(line) for line in proc.stdout if line.strip()]
    proc.wait()
    return latencies, purge_seconds, purge_cpu, output


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--expired", type=int, default=40_000, help="purgeable sessions (3 spent tokens each)")
    parser.add_argument("--live", type=int, default=60_000, help="live sessions")
    parser.add_argument("--live-spent", type=int, default=1, help="spent tokens per live session")
    parser.add_argument("--seconds", type=float, default=10.0, help="length of the baseline load")
    parser.add_argument("--load", type=float, help=argparse.SUPPRESS)
    parser.add_argument("purge_args", nargs="*", help="arguments for dualauth_purge (after --)")
    args = parser.parse_args()
    if args.load is not None:
        load(args.load)
        return
    setup_database(args.expired, args.live, args.live_spent)
    baseline, _, _, _ = timed_load(args.seconds, None)
    during, purge_seconds, purge_cpu, output = timed_load(3600, args.purge_args)
    print(output.strip())
    print(f"dualauth_purge {' '.join(args.purge_args)}: {purge_seconds:.2f} s, {purge_cpu:.2f} s CPU "
          f"({args.expired} purgeable sessions, {3 * args.expired} spent tokens; {args.live} live sessions, "
          f"{args.live * args.live_spent} spent tokens)")
    for name, values in (("without purge", baseline), ("during purge", during)):
        print(f"refresh latency {name}: median {statistics.median(values):.2f} ms, "
              f"p90 {statistics.quantiles(values, n=10)[-1]:.2f} ms, n={len(values)}")


if __name__ == "__main__":
    main()
