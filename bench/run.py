"""``python -m bench.run [--parts 1,2,3,4,5] [--quick] [--db sqlite|postgres]`` (``make bench``).

Each part runs in its own process (its own settings: SQLite or PostgreSQL + Redis); each prints
one Markdown table and writes JSON to bench/results/. This script adds the machine line and the
targets of issue 3, and writes bench/results/report-<stamp>.md and latest.json.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from .common import RESULTS, log, machine, machine_line, table, write_json

ROOT = Path(__file__).resolve().parent.parent


def run_part(module: str, args: list[str], db: str) -> None:
    env = {**os.environ, "BENCH_DB": db, "DJANGO_SETTINGS_MODULE": "bench.settings"}
    proc = subprocess.run([sys.executable, "-m", module, *args], cwd=ROOT, env=env)  # noqa: S603
    if proc.returncode != 0:
        raise SystemExit(f"{module} {' '.join(args)} failed ({proc.returncode})")


def load(stamp: str, part: int) -> dict[str, Any] | None:
    path = RESULTS / f"part{part}-{stamp}.json"
    return json.loads(path.read_text()) if path.exists() else None


def _verdict(ok: bool | None) -> str:
    return "n/a" if ok is None else ("met" if ok else "**missed**")


def targets(parts: dict[int, dict[str, Any]]) -> list[list[str]]:
    rows: list[list[str]] = []
    p1 = parts.get(1) or parts.get(2)
    for key in (1, 2):
        p = parts.get(key)
        if not p:
            continue
        where = "SQLite" if p["db"] == "sqlite" else "PostgreSQL"
        r = p["rows"]
        for mode in ("dualauth-cookie", "dualauth-bearer"):
            x, sql = r[mode]["get_x_simplejwt"], r[mode]["get_sql"]["statements"]
            rows.append([f"GET default mode ({mode}), {where}: ≤1 SQL, cost ≤ simplejwt",
                         f"{sql:g} SQL; {x:.2f}× simplejwt", _verdict(sql <= 1 and x <= 1.0)])
        for mode in ("dualauth-cache", "dualauth-push"):
            if mode not in r:
                continue  # push needs Redis: not in the SQLite part
            c = r[mode]
            measured = f"{c['get_sql']['statements']:g} SQL; {c['get_x_bare']:.2f}× bare"
            if mode == "dualauth-cache" and "dualauth-push" in r:
                # On Redis the cache mode pushes by default; this row is that default turned off.
                rows.append([f"GET cache mode with push turned off ({mode}), {where} (not the default on "
                             "Redis)", measured + " (one Redis round trip per request)", "info"])
                continue
            rows.append([f"GET cache mode ({mode}), {where}: 0 SQL, ≤1.5× bare view", measured,
                         _verdict(c["get_sql"]["statements"] == 0 and c["get_x_bare"] <= 1.5)])
        for mode in ("dualauth-cookie", "dualauth-bearer", "dualauth-cache"):
            ref = r[mode]
            speed = 1 / ref["refresh_x_simplejwt"]
            stmts = ref["refresh_sql"]["statements"]
            sj = r["simplejwt"]["refresh_sql"]["statements"]
            ok_sql = stmts <= 6
            if p["db"] == "postgres":
                rows.append([f"refresh {mode}, {where}: ≤6 statements, ≥3× simplejwt throughput",
                             f"{stmts:g} statements (simplejwt {sj:g}); {speed:.2f}× simplejwt",
                             _verdict(ok_sql and speed >= 3)])
            else:
                rows.append([f"refresh {mode}, {where}: ≤6 statements",
                             f"{stmts:g} statements (simplejwt {sj:g}); {speed:.2f}× simplejwt (info)",
                             _verdict(ok_sql)])
        worst = max(r[m]["login_overhead_pct"]["median"] for m in ("dualauth-cookie", "dualauth-bearer"))
        rows.append([f"login overhead above one Argon2 verify, {where}: ≤5%", f"{worst:.1f}% (worst mode)",
                     _verdict(worst <= 5)])
    p3 = parts.get(3)
    if p3:
        for mode in ("dualauth-cache", "dualauth-push"):
            if mode in p3["kinds"]["get"]:
                g = p3["kinds"]["get"][mode]["x_simplejwt"]
                rows.append([f"GET cache mode ({mode}), gunicorn: ≥1.5× simplejwt req/s", f"{g:.2f}×",
                             _verdict(g >= 1.5)])
        for mode in ("dualauth-cookie", "dualauth-bearer", "dualauth-cache"):
            row = p3["kinds"]["refresh"][mode]
            x = row["x_simplejwt"]
            cpu = row.get("cpu_x_simplejwt")
            measured = f"{x:.2f}×" + (f" (server CPU per refresh: {cpu:.2f}× less)" if cpu else "")
            rows.append([f"refresh {mode}, gunicorn: ≥3× simplejwt req/s", measured,
                         _verdict(None if math.isnan(x) else x >= 3)])
    p4 = parts.get(4)
    if p4:
        last = p4["by_size"][str(p4["sizes"][-1])]["rows"]
        for k, row in last.items():
            if "control" in k:
                continue
            corrected = row.get("x_first_over_control", row["x_first"])
            rows.append([f"scale {k}: {p4['sizes'][-1]:,} within 1.2× of {p4['sizes'][0]:,}",
                         f"{corrected:.2f}× over the control's drift ({row['x_first']:.2f}× raw)",
                         _verdict(corrected <= 1.2)])
    p5 = parts.get(5)
    if p5:
        for name, row in p5["rows"].items():
            if name.startswith("dualauth"):
                rows.append([f"probe {name}: exactly one success per run", ", ".join(map(str, row["successes"])),
                             _verdict(all(s == 1 for s in row["successes"]))])
    del p1
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--parts", default="1,2,3,4,5")
    ap.add_argument("--quick", action="store_true", help="a fast smoke run (few rounds, small sizes)")
    ap.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite",
                    help="database of part 1 (part 2 is part 1 on PostgreSQL + Redis)")
    ap.add_argument("--report", metavar="STAMP",
                    help="run nothing: rebuild the report of run STAMP from its JSON files")
    args = ap.parse_args()
    parts = [] if args.report else [int(p) for p in args.parts.split(",") if p.strip()]
    stamp = args.report or time.strftime("%Y%m%d-%H%M%S")
    quick = ["--quick"] if args.quick else []
    info = machine()
    latest = RESULTS / "latest.json"
    saved = json.loads(latest.read_text()) if args.report and latest.exists() else {}
    if saved.get("stamp") == stamp:
        info = saved["machine"]  # the machine as it was during that run
    log("machine:", machine_line(info))
    for part in parts:
        log(f"=== part {part} ===")
        if part == 1:
            run_part("bench.inprocess", ["--part", "2" if args.db == "postgres" else "1", "--stamp", stamp, *quick],
                     args.db)
        elif part == 2:
            run_part("bench.inprocess", ["--part", "2", "--stamp", stamp, *quick], "postgres")
        elif part == 4:
            run_part("bench.inprocess", ["--part", "4", "--stamp", stamp, *quick], "postgres")
    server_parts = [str(p) for p in parts if p in (3, 5)]
    if server_parts:
        log(f"=== parts {','.join(server_parts)} ===")
        run_part("bench.server", ["--parts", ",".join(server_parts), "--stamp", stamp, *quick], "postgres")
    loaded = {p: d for p in (1, 2, 3, 4, 5) if (d := load(stamp, p))}
    target_rows = targets(loaded)
    md = [f"Machine: {machine_line(info)}", ""]
    md += [loaded[p]["markdown"] + "\n" for p in sorted(loaded)]
    if target_rows:
        md += ["### Targets (issue 3)\n", table(["target", "measured", "verdict"], target_rows)]
    report = "\n".join(md) + "\n"
    (RESULTS / f"report-{stamp}.md").write_text(report)
    write_json("latest.json", {"stamp": stamp, "quick": args.quick, "machine": info, "parts": loaded,
                               "targets": target_rows})
    print("\n" + report)
    log(f"wrote {RESULTS / f'report-{stamp}.md'} and {RESULTS / 'latest.json'}")


if __name__ == "__main__":
    main()
