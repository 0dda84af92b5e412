"""Parts 3 and 5: gunicorn on 127.0.0.1 (PostgreSQL + Redis) and a load generator process.

``python -m bench.server --parts 3,5 [--quick]`` (BENCH_DB=postgres is set by bench/run.py).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.settings")

from .common import fmt_x, log, ratio_summary, summary, table, write_json  # noqa: E402
from .contenders import Contender, Req, contenders_for  # noqa: E402

CONTENDERS = contenders_for("postgres")  # parts 3 and 5 always run on PostgreSQL + Redis
from .http_transport import HTTPTransport  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


@contextmanager
def gunicorn(extra: list[str]) -> Any:
    port = free_port()
    cmd = [sys.executable, "-m", "gunicorn", "bench.wsgi:application", "-w", "2", "-b", f"{HOST}:{port}",
           "--log-level", "warning", "--graceful-timeout", "5", *extra]
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "bench.settings"}
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env)  # noqa: S603
    try:
        deadline = time.time() + 30
        while True:
            try:
                t = HTTPTransport(HOST, port, timeout=2)
                if t.send(Req("GET", "/bare/api/me", {})).status == 200:
                    t.close()
                    break
            except OSError:
                pass
            if time.time() > deadline or proc.poll() is not None:
                raise RuntimeError("gunicorn did not start")
            time.sleep(0.2)
        yield port, proc.pid
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def login(c: Contender, port: int, user: int) -> dict[str, Any]:
    t = HTTPTransport(HOST, port)
    st = c.new_state(t.host, user)
    if c.can_login:
        r = t.send(c.login_request(st))
        if r.status != 200:
            raise RuntimeError(f"{c.name} login over HTTP: {r.status} {r.body[:300]!r}")
        c.on_login(st, r)
    t.close()
    return st


def loadgen(port: int, c: Contender, kind: str, states: list[dict[str, Any]], duration: float,
            master: int | None = None) -> dict[str, Any]:
    spec = {"host": HOST, "port": port, "contender": c.name, "kind": kind, "duration": duration,
            "states": states, "master": master}
    proc = subprocess.run([sys.executable, "-m", "bench.loadgen"], input=json.dumps(spec), text=True,
                          capture_output=True, cwd=ROOT, timeout=duration + 120)
    if proc.returncode != 0:
        raise RuntimeError(f"loadgen failed: {proc.stderr[-2000:]}")
    return json.loads(proc.stdout)


def part_server(quick: bool) -> dict[str, Any]:
    # Many short rounds rather than a few long ones: each ratio is a median of per-round ratios,
    # and the VM drifts within seconds, so more pairs give a steadier median for the same time.
    rounds, duration, chains = (1, 1.5, 4) if quick else (12, 2.5, 4)
    out: dict[str, Any] = {"rounds": rounds, "duration_s": duration, "chains": chains, "workers": 2,
                           "worker_class": "sync", "kinds": {}}
    with gunicorn([]) as (port, master):
        for kind in ("get", "refresh"):
            contenders = [c for c in CONTENDERS if kind == "get" or c.can_refresh]
            base = 20 if kind == "get" else 40
            states = {c.name: [login(c, port, base + i) for i in range(chains)] for c in contenders}
            for c in contenders:  # warm both workers (the chains move on)
                states[c.name] = loadgen(port, c, kind, states[c.name], 0.5 if not quick else 0.2)["states"]
            per: dict[str, list[dict[str, Any]]] = {c.name: [] for c in contenders}
            for r in range(rounds):
                k = r % len(contenders)
                for c in contenders[k:] + contenders[:k]:
                    log(f"[part 3] {kind} {c.name} round {r + 1}/{rounds}")
                    res = loadgen(port, c, kind, states[c.name], duration, master)
                    states[c.name] = res.pop("states")
                    per[c.name].append(res)
            rows = {}
            for c in contenders:
                rps = [x["rps"] for x in per[c.name]]
                row = {"label": c.label, "rps": summary(rps),
                       "p50_ms": summary([x["p50_ms"] for x in per[c.name]]),
                       "p99_ms": summary([x["p99_ms"] for x in per[c.name]]),
                       "errors": sum(x["errors"] for x in per[c.name]), "raw": per[c.name]}
                cpus = [x["cpu"] for x in per[c.name] if x.get("cpu")]
                if cpus:
                    row["cpu_ms"] = {k: statistics.median(x[k] for x in cpus) for k in cpus[0]}
                if len(cpus) == rounds and all(x.get("cpu") for x in per["simplejwt"]):
                    # Server CPU (workers + PostgreSQL) per request, simplejwt's over ours per round:
                    # what req/s would show on a machine that never waits and hosts no client.
                    row["cpu_x_simplejwt"] = ratio_summary([1 / _server_cpu(x) for x in per[c.name]],
                                                           [1 / _server_cpu(x) for x in per["simplejwt"]])
                if "bare" in per:
                    row["x_bare"] = ratio_summary(rps, [x["rps"] for x in per["bare"]])
                row["x_simplejwt"] = ratio_summary(rps, [x["rps"] for x in per["simplejwt"]])
                rows[c.name] = row
            out["kinds"][kind] = rows
    return out


def _server_cpu(x: dict[str, Any]) -> float:
    return float(x["cpu"]["workers"] + x["cpu"]["postgres"]) or float("inf")


def render_server(res: dict[str, Any]) -> str:
    headers = ["contender", "GET req/s median (min–max)", "GET ×bare", "GET ×simplejwt", "GET p50 / p99 ms",
               "refresh req/s median (min–max)", "refresh ×simplejwt", "refresh p50 / p99 ms", "errors"]
    body = []
    for name, row in res["kinds"]["get"].items():
        ref = res["kinds"]["refresh"].get(name)

        def rps(r: dict[str, Any] | None) -> str:
            if not r:
                return "n/a"
            s = r["rps"]
            return f"{s['median']:.0f} ({s['min']:.0f}–{s['max']:.0f})"

        def lat(r: dict[str, Any] | None) -> str:
            return f"{r['p50_ms']['median']:.1f} / {r['p99_ms']['median']:.1f}" if r else "n/a"

        body.append([row["label"], rps(row), fmt_x(row.get("x_bare")), fmt_x(row["x_simplejwt"]), lat(row),
                     rps(ref), fmt_x(ref["x_simplejwt"]) if ref else "n/a", lat(ref),
                     row["errors"] + (ref["errors"] if ref else 0)])
    note = (f"\n\ngunicorn, {res['workers']} {res['worker_class']} workers on 127.0.0.1, PostgreSQL + Redis; "
            f"load generator in a second process: {res['chains']} threads (closed loop, one connection "
            f"and one independent chain each; a raw-socket client, light on the CPU it shares with the "
            f"server; sync workers close every connection), {res['duration_s']:g} s per contender per round, "
            f"{res['rounds']} rounds round-robin. ×ratios are of requests per second (higher is better).")
    return "### Part 3: gunicorn, requests per second\n\n" + table(headers, body) + note + render_cpu(res)


def render_cpu(res: dict[str, Any]) -> str:
    """Where each request's CPU went, and how much of the machine was busy (medians of rounds)."""
    def cell(r: dict[str, Any] | None) -> str:
        cpu = (r or {}).get("cpu_ms")
        if not cpu:
            return "n/a"
        return (f"{cpu['workers']:.2f} / {cpu['postgres']:.2f} / {cpu['loadgen']:.2f} "
                f"({cpu['busy'] * 100:.0f}%)")

    def less(r: dict[str, Any] | None) -> str:
        return fmt_x(r["cpu_x_simplejwt"]) if r and "cpu_x_simplejwt" in r else "n/a"

    refresh = res["kinds"]["refresh"]
    rows = [[row["label"], cell(row), less(row), cell(refresh.get(name)), less(refresh.get(name))]
            for name, row in res["kinds"]["get"].items()]
    if all(r[1] == "n/a" for r in rows):
        return ""
    headers = ["contender", "GET: CPU ms per request, workers / PostgreSQL / load generator (machine busy)",
               "GET: server CPU ×simplejwt", "refresh: CPU ms, as for GET", "refresh: server CPU ×simplejwt"]
    return ("\n\nCPU per request, from `/proc` (medians of the rounds). A machine less than fully busy "
            "is waiting: two sync workers block on each database round trip and commit, and while both "
            "wait, the cores idle. Server CPU ×simplejwt is simplejwt's CPU per request (workers + "
            "PostgreSQL) over this contender's, the median of per-round ratios (higher is better): the "
            "request rate ratio a machine would show if it never waited and the load generator ran "
            "elsewhere.\n\n" + table(headers, rows))


def probe_once(port: int, c: Contender, user: int, n: int = 20) -> dict[str, Any]:
    st = login(c, port, user)
    req = c.refresh_request(st)
    barrier = threading.Barrier(n)
    statuses: list[int] = []
    lock = threading.Lock()

    def shoot() -> None:
        t = HTTPTransport(HOST, port)
        t.conn.connect()
        barrier.wait()
        try:
            status = t.send(req).status
        except Exception:
            status = 0
        with lock:
            statuses.append(status)
        t.close()

    threads = [threading.Thread(target=shoot) for _ in range(n)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    hist: dict[str, int] = {}
    for s in statuses:
        hist[str(s)] = hist.get(str(s), 0) + 1
    return {"successes": statuses.count(200), "statuses": hist}


def part_probe(quick: bool) -> dict[str, Any]:
    runs = 2 if quick else 5
    out: dict[str, Any] = {"runs": runs, "concurrent": 20, "server": "gunicorn -w 2 -k gthread --threads 16",
                           "rows": {}}
    with gunicorn(["-k", "gthread", "--threads", "16"]) as (port, _):
        for c in CONTENDERS:
            if not c.can_refresh:
                continue
            results = []
            for i in range(runs):
                log(f"[part 5] {c.name} run {i + 1}/{runs}")
                results.append(probe_once(port, c, 60 + i))
            out["rows"][c.name] = {"label": c.label, "runs": results,
                                   "successes": [r["successes"] for r in results]}
    return out


def render_probe(res: dict[str, Any]) -> str:
    headers = ["contender", "successes per run", "status codes (all runs)", "exactly one every run"]
    body = []
    for row in res["rows"].values():
        hist: dict[str, int] = {}
        for r in row["runs"]:
            for k, v in r["statuses"].items():
                hist[k] = hist.get(k, 0) + v
        body.append([row["label"], ", ".join(map(str, row["successes"])),
                     ", ".join(f"{k}×{v}" for k, v in sorted(hist.items())),
                     "yes" if all(s == 1 for s in row["successes"]) else "**no**"])
    note = (f"\n\n{res['concurrent']} threads, each with its connection already open, released together by a "
            f"barrier, present the same refresh token; {res['runs']} runs per contender, a fresh login each; "
            f"server: {res['server']} (threads so that the requests really overlap), PostgreSQL + Redis.")
    return "### Part 5: concurrency probe (20 simultaneous refreshes of one token)\n\n" + table(headers, body) + note


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--parts", default="3,5")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--stamp", default=time.strftime("%Y%m%d-%H%M%S"))
    args = ap.parse_args()
    parts = {int(p) for p in args.parts.split(",")}
    from .setup_db import prepare

    prepare()
    from django.db import connections

    connections.close_all()
    for part, run, render in ((3, part_server, render_server), (5, part_probe, render_probe)):
        if part in parts:
            res = run(args.quick)
            res["markdown"] = render(res)
            res["quick"] = args.quick
            write_json(f"part{part}-{args.stamp}.json", res)
            print(res["markdown"], flush=True)


if __name__ == "__main__":
    main()
