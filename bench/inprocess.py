"""Parts 1, 2 and 4: in-process cost (Django's WSGIHandler) and SQL statements per request.

Run by bench/run.py in a subprocess per database; ``python -m bench.inprocess --part 1``.
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import time
from collections.abc import Callable
from typing import Any

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.settings")

from .common import fmt_us, fmt_x, log, ratio_summary, summary, table, write_json  # noqa: E402
from .contenders import BY_NAME, PASSWORD, Contender, contenders_for  # noqa: E402


class StatementCounter:
    """SQL statements of one request: data statements from CaptureQueriesContext, plus the
    transaction control Django does not log (BEGIN on PostgreSQL is implicit in the driver,
    COMMIT/ROLLBACK are driver calls), counted by wrapping the connection's methods."""

    TX_PREFIXES = ("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE SAVEPOINT")

    def __enter__(self) -> StatementCounter:
        from django.db import connections
        from django.test.utils import CaptureQueriesContext

        self.conn = conn = connections["default"]
        self.ctx = CaptureQueriesContext(conn)
        self.ctx.__enter__()
        self.begins = self.ends = 0
        set_autocommit, commit, rollback = conn.set_autocommit, conn.commit, conn.rollback

        def _set_autocommit(autocommit: bool, *args: Any, **kwargs: Any) -> Any:
            if not autocommit:
                self.begins += 1
            return set_autocommit(autocommit, *args, **kwargs)

        def _commit() -> Any:
            self.ends += 1
            return commit()

        def _rollback() -> Any:
            self.ends += 1
            return rollback()

        conn.set_autocommit, conn.commit, conn.rollback = _set_autocommit, _commit, _rollback
        return self

    def __exit__(self, *exc: Any) -> None:
        for name in ("set_autocommit", "commit", "rollback"):
            self.conn.__dict__.pop(name, None)
        self.ctx.__exit__(*exc)

    def result(self) -> dict[str, Any]:
        # Django logs BEGIN (SQLite) and COMMIT/ROLLBACK (both backends) itself; what it does not
        # log (PostgreSQL's implicit BEGIN) is added from the wrapped connection methods.
        sqls = [q["sql"] for q in self.ctx.captured_queries]
        upper = [s.upper() for s in sqls]
        data = [s for s, u in zip(sqls, upper, strict=True) if not u.startswith(self.TX_PREFIXES)]
        logged_begin = sum(u.startswith("BEGIN") for u in upper)
        logged_end = sum(u in ("COMMIT", "ROLLBACK") for u in upper)
        total = len(sqls) + max(0, self.begins - logged_begin) + max(0, self.ends - logged_end)
        return {"sql": len(data), "statements": total, "queries": [s[:160] for s in sqls],
                "begin": self.begins, "commit_rollback": self.ends}


def count_statements(fn: Callable[[], Any], n: int = 3) -> dict[str, Any]:
    results = []
    for _ in range(n):
        with StatementCounter() as counter:
            fn()
        results.append(counter.result())
    last = results[-1]
    return {"sql": statistics.median(r["sql"] for r in results),
            "statements": statistics.median(r["statements"] for r in results), "last": last}


def fmt_sql(c: dict[str, Any] | None) -> str:
    if not c:
        return "n/a"
    return f"{c['sql']:g} ({c['statements']:g})"


def run_rounds(fns: dict[str, Callable[[], int]], rounds: int, batch: int) -> dict[str, list[float]]:
    """Per round, every contender runs ``batch`` requests; the start rotates each round.
    Returns per-round mean cost in microseconds."""
    names = list(fns)
    out: dict[str, list[float]] = {n: [] for n in names}
    for r in range(rounds):
        k = r % len(names)
        for name in names[k:] + names[:k]:
            gc.collect()
            fn = fns[name]
            total = 0
            for _ in range(batch):
                total += fn()
            out[name].append(total / batch / 1000)
    return out


class Driver:
    def __init__(self) -> None:
        from .wsgi_transport import WSGITransport

        self.t = WSGITransport()

    def login(self, c: Contender, user: int) -> dict[str, Any]:
        st = c.new_state(self.t.host, user)
        r = self.t.send(c.login_request(st))
        if r.status != 200:
            raise RuntimeError(f"{c.name} login: {r.status} {r.body[:300]!r}")
        c.on_login(st, r)
        return st

    def get(self, c: Contender, st: dict[str, Any]) -> int:
        r = self.t.send(c.get_request(st))
        if r.status != 200:
            raise RuntimeError(f"{c.name} GET: {r.status} {r.body[:300]!r}")
        return r.elapsed_ns

    def refresh(self, c: Contender, st: dict[str, Any]) -> int:
        r = self.t.send(c.refresh_request(st))
        if r.status != 200:
            raise RuntimeError(f"{c.name} refresh: {r.status} {r.body[:300]!r}")
        c.on_refresh(st, r)
        return r.elapsed_ns

    def timed_login(self, c: Contender, user: int) -> int:
        st = c.new_state(self.t.host, user)
        r = self.t.send(c.login_request(st))
        if r.status != 200:
            raise RuntimeError(f"{c.name} login: {r.status} {r.body[:300]!r}")
        return r.elapsed_ns

    def login_overhead(self, c: Contender, user: int, verifies: list[int]) -> int:
        """Login cost minus the time spent inside Argon2 verify during that same request."""
        ARGON2_INSIDE.update(ns=0, calls=0)
        elapsed = self.timed_login(c, user)
        verifies.append(ARGON2_INSIDE["calls"])
        return elapsed - ARGON2_INSIDE["ns"]


ARGON2_INSIDE = {"ns": 0, "calls": 0}


def instrument_argon2() -> None:
    """Time every Argon2 verify (bench process only), so login overhead is measured per request."""
    from django.contrib.auth.hashers import Argon2PasswordHasher

    verify = Argon2PasswordHasher.verify
    if getattr(verify, "_bench", False):
        return

    def timed_verify(self: Any, password: str, encoded: str) -> bool:
        t0 = time.perf_counter_ns()
        try:
            return verify(self, password, encoded)
        finally:
            ARGON2_INSIDE["ns"] += time.perf_counter_ns() - t0
            ARGON2_INSIDE["calls"] += 1

    timed_verify._bench = True  # type: ignore[attr-defined]
    Argon2PasswordHasher.verify = timed_verify  # type: ignore[method-assign]


def part_inprocess(quick: bool, db: str) -> dict[str, Any]:
    from django.contrib.auth.hashers import get_hasher, make_password

    d = Driver()
    CONTENDERS = contenders_for(db)  # noqa: N806
    rounds, get_batch, ref_batch = (3, 30, 10) if quick else (15, 200, 50)
    login_rounds, login_batch = (2, 1) if quick else (20, 3)

    names = [c.name for c in CONTENDERS]
    get_states = {c.name: d.login(c, 1) if c.can_login else c.new_state(d.t.host) for c in CONTENDERS}
    ref_names = [c.name for c in CONTENDERS if c.can_refresh]
    ref_states = {n: d.login(BY_NAME[n], 2) for n in ref_names}
    log(f"[part {'2' if db == 'postgres' else '1'}] warming up")
    for c in CONTENDERS:
        for _ in range(20):
            d.get(c, get_states[c.name])
    for n in ref_names:
        for _ in range(5):
            d.refresh(BY_NAME[n], ref_states[n])

    counts: dict[str, dict[str, Any]] = {n: {} for n in names}
    for c in CONTENDERS:
        counts[c.name]["get"] = count_statements(lambda c=c: d.get(c, get_states[c.name]))
        if c.can_refresh:
            counts[c.name]["refresh"] = count_statements(lambda c=c: d.refresh(c, ref_states[c.name]))
        if c.can_login:
            counts[c.name]["login"] = count_statements(lambda c=c: d.timed_login(c, 3), n=1)

    log("  timing authenticated GET")
    get_t = run_rounds({c.name: (lambda c=c: d.get(c, get_states[c.name])) for c in CONTENDERS},
                       rounds, get_batch)
    log("  timing refresh")
    ref_t = run_rounds({n: (lambda n=n: d.refresh(BY_NAME[n], ref_states[n])) for n in ref_names},
                       rounds, ref_batch)

    hasher = get_hasher("argon2")
    encoded = make_password(PASSWORD)

    def argon2_verify() -> int:
        t0 = time.perf_counter_ns()
        assert hasher.verify(PASSWORD, encoded)
        return time.perf_counter_ns() - t0

    log("  timing login")
    instrument_argon2()
    login_fns: dict[str, Callable[[], int]] = {"argon2": argon2_verify}
    verifies: dict[str, list[int]] = {}
    for i, c in enumerate(c for c in CONTENDERS if c.can_login):
        verifies[c.name] = []
        login_fns[c.name] = lambda c=c, i=i: d.login_overhead(c, 10 + i, verifies[c.name])
    login_t = run_rounds(login_fns, login_rounds, login_batch)

    rows: dict[str, dict[str, Any]] = {}
    for c in CONTENDERS:
        n = c.name
        row: dict[str, Any] = {"label": c.label,
                               "get_us": summary(get_t[n]),
                               "get_x_bare": ratio_summary(get_t[n], get_t["bare"]),
                               "get_x_simplejwt": ratio_summary(get_t[n], get_t["simplejwt"]),
                               "get_sql": counts[n].get("get")}
        if c.can_refresh:
            row["refresh_us"] = summary(ref_t[n])
            row["refresh_x_simplejwt"] = ratio_summary(ref_t[n], ref_t["simplejwt"])
            row["refresh_sql"] = counts[n].get("refresh")
        if c.can_login:
            # login_t holds the cost outside Argon2 (measured inside each request); the percentage
            # is against the stand-alone Argon2 verify of the same round.
            row["login_overhead_ms"] = summary([v / 1000 for v in login_t[n]])
            row["login_overhead_pct"] = summary([100 * a / b for a, b in zip(login_t[n], login_t["argon2"],
                                                                              strict=True)])
            row["argon2_verifies_per_login"] = sorted(set(verifies[n]))
            row["login_sql"] = counts[n].get("login")
        rows[n] = row
    return {"db": db, "rounds": rounds, "get_batch": get_batch, "refresh_batch": ref_batch,
            "login_rounds": login_rounds, "login_batch": login_batch,
            "argon2_ms": summary([v / 1000 for v in login_t["argon2"]]), "rows": rows}


def render_inprocess(res: dict[str, Any], title: str) -> str:
    headers = ["contender", "GET µs median (min–max)", "GET ×bare", "GET ×simplejwt", "GET SQL (all stmts)",
               "refresh µs median (min–max)", "refresh ×simplejwt", "refresh SQL (all stmts)",
               "login overhead ms (% of Argon2)", "login SQL (all stmts)"]
    body = []
    for row in res["rows"].values():
        lo = row.get("login_overhead_ms")
        login = (f"{lo['median']:.2f} ({row['login_overhead_pct']['median']:.1f}%)" if lo else "n/a")
        body.append([row["label"], fmt_us(row["get_us"]), fmt_x(row["get_x_bare"]), fmt_x(row["get_x_simplejwt"]),
                     fmt_sql(row["get_sql"]), fmt_us(row.get("refresh_us")), fmt_x(row.get("refresh_x_simplejwt")),
                     fmt_sql(row.get("refresh_sql")), login, fmt_sql(row.get("login_sql"))])
    a = res["argon2_ms"]
    note = (f"\n\nOne Argon2 verify (Django's default parameters): {a['median']:.1f} ms median "
            f"({a['min']:.1f}–{a['max']:.1f}). Login overhead = the login request's time minus the time spent "
            "inside Argon2 verify in that same request (every login ran exactly one verify), as % of the "
            "stand-alone verify. "
            f"{res['rounds']} rounds × {res['get_batch']} GETs / {res['refresh_batch']} refreshes per contender; "
            f"login {res['login_rounds']} rounds × {res['login_batch']}. SQL = data statements; "
            "in parentheses every statement sent, with BEGIN/COMMIT/ROLLBACK/SAVEPOINT.")
    return f"### {title}\n\n" + table(headers, body) + note


# --- part 4: scale -----------------------------------------------------------------------------

#: Part 4's control: timed in the same rounds as the GETs, it touches no session table.
CONTROL = "GET bare DRF view (control: reads no session)"

FILL_SQL = """
WITH u AS (SELECT array_agg(id ORDER BY id) AS ids, count(*)::int AS n FROM auth_user),
s AS (
  INSERT INTO dualauth_authsession (id, user_id, delivery, auth_methods, refresh_digest, generation,
      created_at, last_used_at, rotated_at, expires_at, absolute_expires_at, ip_address, user_agent,
      revoked_at, revoked_reason)
  SELECT gen_random_uuid(), u.ids[1 + (g %% u.n)], 'bearer', '["pwd"]'::jsonb,
         encode(sha256(('bench-fill-' || g)::bytea), 'hex'), 1, now(), now(), now(),
         now() + interval '7 days', now() + interval '30 days', '127.0.0.1', 'bench-fill', NULL, ''
  FROM generate_series(%s::int, %s::int) AS g, u
  RETURNING id, refresh_digest)
INSERT INTO dualauth_rotatedrefreshtoken (session_id, digest, generation, rotated_at)
SELECT id, encode(sha256(('bench-spent-' || refresh_digest)::bytea), 'hex'), 0, now() FROM s
"""


def fill_sessions(target: int) -> float:
    """Bring dualauth_authsession to ``target`` rows (one spent token each) with one INSERT ... SELECT."""
    from django.db import connection

    t0 = time.perf_counter()
    with connection.cursor() as cur:
        cur.execute("SELECT count(*) FROM dualauth_authsession")
        have = cur.fetchone()[0]
        if target > have:
            cur.execute("SET synchronous_commit TO off")
            cur.execute("SET maintenance_work_mem TO '256MB'")
            cur.execute(FILL_SQL, [have + 1, target])
            cur.execute("SET synchronous_commit TO on")
        cur.execute("VACUUM ANALYZE dualauth_authsession")
        cur.execute("VACUUM ANALYZE dualauth_rotatedrefreshtoken")
        # Write the fill's dirty pages now, not while the next size is being timed.
        cur.execute("CHECKPOINT")
    return time.perf_counter() - t0


def part_scale(quick: bool) -> dict[str, Any]:
    from django.db import connection

    d = Driver()
    sizes = [1_000, 20_000] if quick else [1_000, 100_000, 1_000_000]
    rounds, get_batch, ref_batch = (3, 30, 10) if quick else (11, 200, 50)
    kinds = {CONTROL: ("get", "bare"),
             "GET dualauth-bearer (db check)": ("get", "dualauth-bearer"),
             "GET dualauth-cache (cache check)": ("get", "dualauth-cache"),
             "refresh dualauth-bearer": ("refresh", "dualauth-bearer"),
             "refresh dualauth-cookie": ("refresh", "dualauth-cookie")}
    out: dict[str, Any] = {"sizes": sizes, "rounds": rounds, "fill_seconds": {}, "by_size": {}}
    for size in sizes:
        log(f"[part 4] filling to {size:,} sessions")
        out["fill_seconds"][size] = fill_sessions(size)
        with connection.cursor() as cur:
            cur.execute("SELECT count(*) FROM dualauth_authsession")
            actual = cur.fetchone()[0]
            cur.execute("SELECT pg_total_relation_size('dualauth_authsession') "
                        "+ pg_total_relation_size('dualauth_rotatedrefreshtoken')")
            nbytes = cur.fetchone()[0]
        states = {label: d.login(BY_NAME[name], 4) if BY_NAME[name].can_login else BY_NAME[name].new_state(d.t.host)
                  for label, (_, name) in kinds.items()}
        fns: dict[str, Callable[[], int]] = {}
        for label, (kind, name) in kinds.items():
            c = BY_NAME[name]
            fns[label] = ((lambda c=c, s=states[label]: d.get(c, s)) if kind == "get"
                          else (lambda c=c, s=states[label]: d.refresh(c, s)))
        for fn in fns.values():
            for _ in range(10):
                fn()
        counts = {label: count_statements(fn) for label, fn in fns.items()}
        timings: dict[str, list[float]] = {label: [] for label in kinds}
        get_labels = [k for k, v in kinds.items() if v[0] == "get"]
        ref_labels = [k for k, v in kinds.items() if v[0] == "refresh"]
        timings.update(run_rounds({k: fns[k] for k in get_labels}, rounds, get_batch))
        timings.update(run_rounds({k: fns[k] for k in ref_labels}, rounds, ref_batch))
        out["by_size"][size] = {"sessions": actual, "table_bytes": nbytes,
                                "rows": {k: {"us": summary(timings[k]), "raw": timings[k], "sql": counts[k]}
                                         for k in kinds}}
    first = out["by_size"][sizes[0]]["rows"]
    for size in sizes:
        rows = out["by_size"][size]["rows"]
        for k, row in rows.items():
            row["x_first"] = row["us"]["median"] / first[k]["us"]["median"]
        for row in rows.values():
            # The sizes are timed one after the other, minutes apart; the bare view, which reads
            # no session, shows how much the machine itself drifted in between.
            row["x_first_over_control"] = row["x_first"] / rows[CONTROL]["x_first"]
    return out



def render_scale(res: dict[str, Any]) -> str:
    sizes = res["sizes"]
    headers = ["measurement"] + [f"{s:,} sessions: µs median (min–max)" for s in sizes] + \
              [f"×{sizes[0]:,} at {sizes[-1]:,}", "the same over the control's drift", "SQL (all stmts)"]
    kinds = list(res["by_size"][sizes[0]]["rows"])
    body = []
    for k in kinds:
        cells = [fmt_us(res["by_size"][s]["rows"][k]["us"]) for s in sizes]
        last = res["by_size"][sizes[-1]]["rows"][k]
        body.append([k, *cells, fmt_x(last["x_first"]), fmt_x(last.get("x_first_over_control")),
                     fmt_sql(last["sql"])])
    fills = ", ".join(f"{s:,}: {res['fill_seconds'][s]:.1f} s "
                      f"({res['by_size'][s]['table_bytes'] / 2**20:.0f} MiB)" for s in sizes)
    return ("### Part 4: scale (PostgreSQL, Redis cache)\n\n" + table(headers, body)
            + f"\n\nBulk fill (INSERT ... SELECT generate_series, one spent token per session), cumulative "
              f"time and table+index size: {fills}; each fill ends with VACUUM ANALYZE and CHECKPOINT. "
              f"{res['rounds']} rounds per size. The sizes are timed minutes apart; the bare view, "
              "timed in the same rounds as the GETs and reading no session, shows how much the machine "
              "itself drifted, and the column before SQL divides it out.")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--part", type=int, required=True, choices=[1, 2, 4])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--stamp", default=time.strftime("%Y%m%d-%H%M%S"))
    args = ap.parse_args()
    from django.conf import settings

    from .setup_db import prepare

    prepare()
    db = settings.BENCH_DB
    if args.part in (1, 2):
        res = part_inprocess(args.quick, db)
        title = ("Part 1: in-process, SQLite + local-memory cache" if db == "sqlite"
                 else "Part 2: in-process, PostgreSQL + Redis cache")
        md = render_inprocess(res, title)
    else:
        res = part_scale(args.quick)
        md = render_scale(res)
    res["markdown"] = md
    res["quick"] = args.quick
    write_json(f"part{args.part}-{args.stamp}.json", res)
    print(md, flush=True)


if __name__ == "__main__":
    main()
