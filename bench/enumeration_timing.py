"""Does the response time of a "request" endpoint tell whether an account exists? (issue 15, item 11)

For ``forgot-password``, ``magic-link/send`` and ``send-verification-email`` (signed out), it
sends requests for known and unknown addresses in one shuffled order (interleaved, so drift
and noise of a shared machine fall on both kinds alike), times each one in-process through the
whole Django stack (middleware, DRF, the view, the rate limits), and reports per endpoint the
medians, the share of known samples slower than the unknown median, and a two-sided
Mann-Whitney U test (scipy) with its effect size (the probability that a known sample is slower
than an unknown one: 0.5 means no difference).

Mails leave through the default thread-pool dispatcher (``dispatch_in_thread``). After each
request the script waits for that pool to finish what the request handed it, so that one
sample's background work never lands in the next sample: what is measured is the request path.

    .venv/bin/python -m bench.enumeration_timing                  # SQLite file in the temp directory
    .venv/bin/python -m bench.enumeration_timing --db postgres    # database BENCH_PG_NAME, dropped after
    .venv/bin/python -m bench.enumeration_timing --samples 400 --json out.json

Needs scipy (``pip install -e . --group bench``). Not a test: timings are evidence, not a verdict.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import shutil
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ENDPOINTS = ("forgot-password", "magic-link/send", "send-verification-email")
PG_NAME = os.environ.get("BENCH_PG_NAME", "dualauth_enumeration_bench")


def _configure(db: str, sqlite_path: str) -> None:
    import django
    from django.conf import settings

    if db == "postgres":
        database = {"ENGINE": "django.db.backends.postgresql", "NAME": PG_NAME, "USER": "postgres",
                    "HOST": "127.0.0.1", "PORT": "5432", "CONN_MAX_AGE": None}
    else:
        database = {"ENGINE": "django.db.backends.sqlite3", "NAME": sqlite_path, "CONN_MAX_AGE": None,
                    "OPTIONS": {"transaction_mode": "IMMEDIATE", "timeout": 10,
                                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"}}
    settings.configure(
        SECRET_KEY="bench-" + "e" * 60, DEBUG=False, ALLOWED_HOSTS=["testserver"], USE_TZ=True,
        ROOT_URLCONF="bench.enumeration_urls", DEFAULT_AUTO_FIELD="django.db.models.BigAutoField",
        INSTALLED_APPS=["django.contrib.auth", "django.contrib.contenttypes", "django.contrib.sessions",
                        "rest_framework",
                        "django_otp", "django_otp.plugins.otp_totp", "django_dualauth"],
        MIDDLEWARE=["django.middleware.security.SecurityMiddleware",
                    "django.contrib.sessions.middleware.SessionMiddleware",
                    "django.middleware.common.CommonMiddleware", "django.middleware.csrf.CsrfViewMiddleware",
                    "django.contrib.auth.middleware.AuthenticationMiddleware"],
        TEMPLATES=[{"BACKEND": "django.template.backends.django.DjangoTemplates", "APP_DIRS": True}],
        DATABASES={"default": database},
        CACHES={"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}},
        PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"],  # no endpoint here hashes
        EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend",
        LOGGING={"version": 1, "disable_existing_loggers": False,
                 "loggers": {"django": {"level": "ERROR"}, "django_dualauth": {"level": "ERROR"}}},
        SILENCED_SYSTEM_CHECKS=["dualauth.W001", "dualauth.W002", "dualauth.W004", "dualauth.E005",
                                "dualauth.E007", "django_ratelimit.E003", "django_ratelimit.W001"],
        DUALAUTH_COOKIE_SECURE=False,
        DUALAUTH_MAGIC_LINK_ENABLED=True,
        DUALAUTH_MAGIC_LINK_URL="https://app.example/magic-link?token={token}",
        DUALAUTH_PASSWORD_RESET_URL="https://app.example/reset-password?token={token}",
        DUALAUTH_VERIFY_EMAIL_URL="https://app.example/verify-email?token={token}",
        DUALAUTH_MESSAGE_DISPATCHER="bench.enumeration_timing.tracked_dispatch",
        # The limits stay on (same cache work for both kinds), too high to trigger.
        DUALAUTH_RATE_LIMITS={"account_ip": "1000000/m", "account_email": "1000000/m",
                              "magic_link_ip": "1000000/m", "magic_link_email": "1000000/m"},
    )
    django.setup()


# --- the default dispatcher, with a count of what is still running ------------------------------

_pending = 0
_idle = threading.Condition()


def tracked_dispatch(send: Any) -> None:
    """``dispatch_in_thread`` (the default) that also counts the jobs not finished yet."""
    global _pending
    from django_dualauth import messaging

    def job() -> None:
        global _pending
        try:
            send()
        finally:
            with _idle:
                _pending -= 1
                _idle.notify_all()

    with _idle:
        _pending += 1
    messaging.dispatch_in_thread(job)


def wait_idle(timeout: float = 30.0) -> None:
    with _idle:
        if not _idle.wait_for(lambda: _pending == 0, timeout=timeout):
            raise RuntimeError("the message pool did not finish within 30 s")


# --- statistics -------------------------------------------------------------------------------

def _analyse(known: list[float], unknown: list[float]) -> dict[str, Any]:
    from scipy.stats import mannwhitneyu

    u, p = mannwhitneyu(known, unknown, alternative="two-sided")
    unknown_median = statistics.median(unknown)
    return {
        "n_known": len(known), "n_unknown": len(unknown),
        "median_known_ms": statistics.median(known), "median_unknown_ms": unknown_median,
        "p10_known_ms": _pct(known, 10), "p90_known_ms": _pct(known, 90),
        "p10_unknown_ms": _pct(unknown, 10), "p90_unknown_ms": _pct(unknown, 90),
        "known_slower_than_unknown_median": sum(k > unknown_median for k in known) / len(known),
        "mann_whitney_u": float(u), "p_value": float(p),
        # Common-language effect size: P(known sample > unknown sample).
        "p_known_slower": float(u) / (len(known) * len(unknown)),
    }


def _pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


# --- the run ----------------------------------------------------------------------------------

def _prepare(n_addresses: int) -> tuple[list[str], list[str]]:
    from django.contrib.auth.hashers import make_password
    from django.contrib.auth.models import User
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)
    hashed = make_password("bench-password-123")
    known = [f"known{i}@bench.example" for i in range(n_addresses)]
    User.objects.bulk_create([User(username=e, email=e, password=hashed) for e in known])
    unknown = [f"unknown{i}@bench.example" for i in range(n_addresses)]
    return known, unknown


def run(samples: int, warmup: int, n_addresses: int, seed: int) -> dict[str, Any]:
    from django.core import mail
    from django.test import Client

    known, unknown = _prepare(n_addresses)
    client = Client()
    rng = random.Random(seed)
    plan = [(endpoint, kind) for endpoint in ENDPOINTS for kind in ("known", "unknown")
            for _ in range(samples)]
    rng.shuffle(plan)
    warm = [(endpoint, kind) for endpoint in ENDPOINTS for kind in ("known", "unknown") for _ in range(warmup)]
    rng.shuffle(warm)
    times: dict[str, dict[str, list[float]]] = {e: {"known": [], "unknown": []} for e in ENDPOINTS}
    mail.outbox = []
    for i, (endpoint, kind) in enumerate(warm + plan):
        email = rng.choice(known if kind == "known" else unknown)
        start = time.perf_counter_ns()
        response = client.post(f"/auth/{endpoint}", {"email": email}, content_type="application/json")
        elapsed = (time.perf_counter_ns() - start) / 1e6
        if response.status_code != 202:
            raise RuntimeError(f"{endpoint} answered {response.status_code}: {response.content!r}")
        wait_idle()
        if i >= len(warm):
            times[endpoint][kind].append(elapsed)
    # Sanity: one mail per known request, none for an unknown address.
    sent: dict[str, int] = {}
    for m in mail.outbox:
        if not m.to[0].startswith("known"):
            raise RuntimeError(f"a mail went to an unknown address: {m.to}")
        sent[m.subject] = sent.get(m.subject, 0) + 1
    print(f"# mails sent: {sent} (expected {samples + warmup} of each)", file=sys.stderr)
    return {endpoint: _analyse(t["known"], t["unknown"]) for endpoint, t in times.items()}


def _create_pg() -> None:
    import psycopg

    with psycopg.connect("host=127.0.0.1 port=5432 user=postgres dbname=postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{PG_NAME}"')
        conn.execute(f'CREATE DATABASE "{PG_NAME}"')


def _drop_pg() -> None:
    import psycopg
    from django.db import connections

    connections.close_all()
    with psycopg.connect("host=127.0.0.1 port=5432 user=postgres dbname=postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{PG_NAME}" WITH (FORCE)')


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", choices=("sqlite", "postgres"), default="sqlite",
                        help="SQLite file in the temp directory, or PostgreSQL database $BENCH_PG_NAME "
                             f"(now {PG_NAME!r}) on 127.0.0.1:5432, created and dropped by the run")
    parser.add_argument("--samples", type=int, default=300, help="timed requests per endpoint and kind")
    parser.add_argument("--warmup", type=int, default=30, help="untimed requests per endpoint and kind first")
    parser.add_argument("--addresses", type=int, default=50, help="known (and unknown) addresses to cycle")
    parser.add_argument("--seed", type=int, default=15)
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args(argv)

    tmp = tempfile.mkdtemp(prefix="dualauth-enum-")
    sqlite_path = os.path.join(tmp, "bench.sqlite3")
    if args.db == "postgres":
        _create_pg()
    _configure(args.db, sqlite_path)
    try:
        results = run(args.samples, args.warmup, args.addresses, args.seed)
    finally:
        wait_idle()
        if args.db == "postgres":
            _drop_pg()
        from django.db import connections

        connections.close_all()
        shutil.rmtree(tmp, ignore_errors=True)
    import django_dualauth

    meta = {"db": args.db, "samples": args.samples, "python": platform.python_version(),
            "package": os.path.dirname(django_dualauth.__file__), "time": time.strftime("%Y-%m-%d %H:%M:%S")}
    print(f"# {meta}")
    print("| endpoint | median known (ms) | median unknown (ms) | known > unknown median | "
          "P(known slower) | Mann-Whitney p |")
    print("|---|---|---|---|---|---|")
    for endpoint, r in results.items():
        print(f"| `{endpoint}` | {r['median_known_ms']:.2f} | {r['median_unknown_ms']:.2f} | "
              f"{r['known_slower_than_unknown_median']:.0%} | {r['p_known_slower']:.2f} | {r['p_value']:.2g} |")
    if args.json:
        args.json.write_text(json.dumps({"meta": meta, "results": results}, indent=2))
    return 0


if __name__ == "__main__":
    # Run as the importable module: DUALAUTH_MESSAGE_DISPATCHER names bench.enumeration_timing, and
    # under ``-m`` this file would otherwise be a second module with its own job count.
    import importlib

    sys.exit(importlib.import_module("bench.enumeration_timing").main())
