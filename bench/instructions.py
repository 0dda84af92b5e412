"""Instructions per request, counted by valgrind's callgrind: a cost that the VM's drift does not move.

``python -m bench.instructions [--kinds refresh,get] [--contenders a,b] [--db sqlite|postgres]
[--arm today|realistic]``

On a shared two-core VM the timed parts drift by ±30% from one round to the next, which hides
a change of a few percent. Callgrind counts the instructions a process executes, whatever the
machine is doing (the same count twice, to 0.2%, for the same code). Each measurement runs the
in-process request path of part 1 (Django's WSGI handler, no server) twice under callgrind,
with 20 and with 120 requests after the same set-up and warm-up, and reports the difference
over 100: the set-up cancels out.

What it does not see: the kernel (sockets, the database server's own work on PostgreSQL) and
time spent waiting. So it compares in-process costs and checks a change before and after; it
replaces no timed part. SQLite (the default) is exactly repeatable; on PostgreSQL psycopg's
waits make counts vary by up to ~10% between runs. Needs ``valgrind`` (Debian's package).
Each measurement takes about a minute and a half, two processes at a time.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from .common import fmt_x, log, table, write_json

ROOT = Path(__file__).resolve().parent.parent
FEW, MANY, WARM = 20, 120, 20  # --few/--many/--warm change them (a quicker, coarser count)
DEFAULT_CONTENDERS = ["simplejwt", "dualauth-cookie", "dualauth-bearer", "dualauth-cache"]


GAP = 3.5  # seconds: the realistic arm's idle gap between two requests of a session (> TRUST_WINDOW)


def child(contender: str, kind: str, n: int, arm: str = "today", many: int = MANY, warm: int = WARM) -> None:
    """Set up, log in, warm up, then make ``n`` requests (run under callgrind by the parent).

    ``today``: one session, one token, ``api/me`` (reads ``user.pk`` only), back to back.
    ``realistic``: one session per request (every request presents a token never seen
    before, of another user), ``api/profile`` (reads ``user.email`` and ``user.username`` too: the
    username is not in the token's claims), and push mode's clock
    moved ``GAP`` seconds forward before each request, as after an idle gap (no sleeping under
    callgrind). Both runs log in the same ``warm + many`` sessions, so the set-up cancels out.
    """
    if kind.startswith("signin:"):  # the sign-in scenarios (bench/signin_scenarios.py)
        from .signin_scenarios import run

        run(kind.split(":", 1)[1], n, many, warm)
        return
    from django.conf import settings

    from . import setup_db

    # The login is not what is counted: a fast hasher keeps the set-up short under valgrind.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    realistic = arm == "realistic"
    setup_db.N_USERS = warm + many if realistic else 5
    setup_db.prepare(fresh=True)  # configures Django too
    from .contenders import BY_NAME
    from .inprocess import Driver
    from .middleware import install

    install()
    # The set-up's objects out of the collector's sight: otherwise a full collection, which scans
    # the whole heap, lands in the 120-request run and not in the 20-request one (or the other way
    # round) as allocation history shifts, and moves the difference by ~15 %.
    import gc

    gc.collect()
    gc.freeze()
    d = Driver()
    c = BY_NAME[contender]
    step = d.refresh if kind == "refresh" else d.get
    if not realistic:
        st = d.login(c, 2) if c.can_login else c.new_state(d.t.host)
        for _ in range(warm + n):
            step(c, st)
        return
    from django_dualauth.services import revocation_push

    states = [d.login(c, i) if c.can_login else c.new_state(d.t.host, i) for i in range(warm + many)]
    clock, offset = revocation_push._now, [0.0]
    revocation_push._now = lambda: clock() + offset[0]  # the module's own hook for moving its clock
    profile = c.get_request
    c.get_request = lambda st: _profile(profile(st))  # type: ignore[method-assign]
    for st in states[:warm + n]:
        offset[0] += GAP
        step(c, st)


def _profile(req: Any) -> Any:
    req.path = req.path.replace("/api/me", "/api/profile")
    return req


def _count(contender: str, kind: str, n: int, db: str, slot: str, arm: str,  # noqa: PLR0913
           many: int | None = None) -> int:
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "bench.settings", "BENCH_DB": db,
           "PYTHONHASHSEED": "0"}
    with tempfile.TemporaryDirectory() as tmp:
        env["BENCH_SQLITE_PATH"] = os.path.join(tmp, "bench.sqlite3")
        # two counts run side by side; BENCH_PG_PREFIX keeps two checkouts' databases apart
        env["BENCH_PG_NAME"] = f"{os.environ.get('BENCH_PG_PREFIX', 'dualauth_bench_cg')}{slot}"
        cmd = ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null",
               sys.executable, "-m", "bench.instructions", "--child", contender, kind, str(n), arm,
               str(many or MANY), str(WARM)]
        proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)  # noqa: S603
    found = re.search(r"Collected : (\d+)", proc.stderr)
    if proc.returncode != 0 or not found:
        raise RuntimeError(f"callgrind {contender} {kind} failed: {proc.stderr[-2000:]}")
    return int(found.group(1))


def per_request(contender: str, kind: str, db: str, arm: str = "today", few_many: tuple[int, int] | None = None,
                ) -> int:
    n_few, n_many = few_many or (FEW, MANY)
    with ThreadPoolExecutor(2) as pool:
        few = pool.submit(_count, contender, kind, n_few, db, "a", arm, n_many)
        many = pool.submit(_count, contender, kind, n_many, db, "b", arm, n_many)
        return (many.result() - few.result()) // (n_many - n_few)


def signin(db: str, scenarios: list[str]) -> dict[str, Any]:
    """Instructions per request of each sign-in scenario (bench/signin_scenarios.py)."""
    from .signin_scenarios import FEW_MANY_OVERRIDE, KEY_ENV, signing_key_file

    counts: dict[str, int] = {}
    with tempfile.TemporaryDirectory() as tmp:
        os.environ[KEY_ENV] = signing_key_file(tmp)  # one key for both runs of every scenario
        for name in scenarios:
            log(f"[instructions] signin {name}")
            counts[name] = per_request("dualauth-bearer", f"signin:{name}", db,
                                       few_many=FEW_MANY_OVERRIDE.get(name))
    return {"db": db, "few": FEW, "many": MANY, "warm": WARM, "kinds": ["signin"], "scenarios": scenarios,
            "counts": counts, "few_many": {k: FEW_MANY_OVERRIDE.get(k, (FEW, MANY)) for k in scenarios}}


def render_signin(res: dict[str, Any]) -> str:
    from .signin_scenarios import SCENARIOS

    counts = res["counts"]
    ref = counts.get("session")
    body = [[name, f"{n:,}", fmt_x(n / ref) if ref else "n/a",
             "{}/{}".format(*res["few_many"][name]), SCENARIOS[name]] for name, n in counts.items()]
    text = (f"### Instructions per sign-in (callgrind, in-process, {res['db']})\n\n"
            + table(["scenario", "instructions per request", "×session", "runs", "what one request is"], body))
    notes = []
    if "idtoken" in counts and ref:
        notes.append(f"id_token sign-in above the session issue: {counts['idtoken'] - ref:,} instructions "
                     f"({counts['idtoken'] / ref:.2f}×).")
    if "idtoken" in counts and "password" in counts:
        notes.append(f"password login over id_token sign-in: {counts['password'] / counts['idtoken']:.1f}×.")
    return text + "\n\n" + " ".join(notes) + (
        "\n\nEach count is the difference between the two runs' requests over their difference (runs: "
        "few/many). No key-set fetch and no connection to the provider happened during the requests "
        "(the scenarios refuse any).")


def render(res: dict[str, Any]) -> str:
    kinds = res["kinds"]
    headers = ["contender"] + [h for k in kinds for h in (f"{k}: instructions per request", f"{k}: ×simplejwt")]
    body = []
    for name in res["contenders"]:
        row = [name]
        for k in kinds:
            n = res["counts"][k].get(name)
            ref = res["counts"][k].get("simplejwt")
            row += [f"{n:,}" if n else "n/a", fmt_x(n / ref) if n and ref else "n/a"]
        body.append(row)
    arm = " realistic arm" if res.get("arm") == "realistic" else ""
    return (f"### Instructions per request (callgrind, in-process, {res['db']}{arm})\n\n" + table(headers, body)
            + f"\n\nThe difference between {MANY} and {FEW} requests after the same set-up, over "
            f"{MANY - FEW}. Lower is better; ×simplejwt is this count over simplejwt's.")


def main() -> None:
    global FEW, MANY, WARM  # noqa: PLW0603 - --few/--many/--warm, read by _count and render
    if len(sys.argv) == 8 and sys.argv[1] == "--child":
        child(sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5], int(sys.argv[6]), int(sys.argv[7]))
        return
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("--kinds", default="refresh",
                    help="refresh, get or both (comma-separated); or signin (the sign-in scenarios)")
    ap.add_argument("--scenarios", default="",
                    help="with --kinds signin: some of bench/signin_scenarios.py's SCENARIOS (default all)")
    ap.add_argument("--contenders", default=",".join(DEFAULT_CONTENDERS))
    ap.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    ap.add_argument("--arm", choices=["today", "realistic"], default="today",
                    help="realistic: a new token of another user per request, a view that reads "
                    "user.email and user.username, push mode after idle gaps of 3.5 s (see child())")
    ap.add_argument("--few", type=int, default=FEW)
    ap.add_argument("--many", type=int, default=MANY)
    ap.add_argument("--warm", type=int, default=WARM, help="requests after the set-up, not counted")
    args = ap.parse_args()
    FEW, MANY, WARM = args.few, args.many, args.warm
    if shutil.which("valgrind") is None:
        raise SystemExit("valgrind is not installed (Debian: apt-get install valgrind)")
    from .contenders import contenders_for

    kinds = [k for k in args.kinds.split(",") if k]
    if kinds == ["signin"]:
        from .signin_scenarios import SCENARIOS

        chosen = [n for n in args.scenarios.split(",") if n] or list(SCENARIOS)
        if unknown_scenarios := [n for n in chosen if n not in SCENARIOS]:
            raise SystemExit(f"unknown sign-in scenarios: {', '.join(unknown_scenarios)}")
        res_signin = signin(args.db, chosen)
        path = write_json(f"instructions-signin-{args.db}.json", res_signin)
        print(render_signin(res_signin))
        log(f"wrote {path}")
        return
    if not kinds or set(kinds) - {"refresh", "get"}:
        raise SystemExit("--kinds takes refresh, get or both")
    served = {c.name: c for c in contenders_for(args.db)}
    names = [n for n in args.contenders.split(",") if n]
    if unknown := [n for n in names if n not in served]:
        raise SystemExit(f"not served on {args.db}: {', '.join(unknown)} (push needs --db postgres)")
    res: dict[str, Any] = {"db": args.db, "arm": args.arm, "few": FEW, "many": MANY, "warm": WARM,
                           "kinds": kinds, "contenders": names, "counts": {}}
    for kind in kinds:
        res["counts"][kind] = {}
        for name in names:
            if kind == "refresh" and not served[name].can_refresh:
                continue
            log(f"[instructions] {kind} {name}")
            res["counts"][kind][name] = per_request(name, kind, args.db, args.arm)
    path = write_json(f"instructions-{args.db}{'-realistic' if args.arm == 'realistic' else ''}.json", res)
    print(render(res))
    log(f"wrote {path}")


if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.settings")
    main()
