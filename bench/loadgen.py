"""Bounded load generator, run as a separate process: ``python -m bench.loadgen < spec.json``.

One thread per chain (state), each with its own connection (kept alive where the server allows),
requests back to back for ``duration`` seconds (a closed loop: at most one request in flight per
thread), through the lean ``RawHTTPTransport``.
Prints JSON: count, errors, rps, p50/p99 latency (ms) and the chains' final states.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from typing import Any

from .common import percentile
from .contenders import BY_NAME
from .cpu import CPUMeter
from .http_transport import RawHTTPTransport


def worker(spec: dict[str, Any], st: dict[str, Any], deadline: float, out: dict[str, Any]) -> None:
    c = BY_NAME[spec["contender"]]
    t = RawHTTPTransport(spec["host"], spec["port"])
    lat: list[float] = []
    errors = 0
    statuses: dict[int, int] = {}
    while time.perf_counter() < deadline:
        req = c.get_request(st) if spec["kind"] == "get" else c.refresh_request(st)
        try:
            r = t.send(req)
        except Exception:  # connection reset etc.: count it and go on
            errors += 1
            continue
        statuses[r.status] = statuses.get(r.status, 0) + 1
        if r.status != 200:
            errors += 1
            if spec["kind"] == "refresh":
                break  # a broken chain cannot go on
            continue
        lat.append(r.elapsed_ns / 1e6)
        if spec["kind"] == "refresh":
            c.on_refresh(st, r)
    t.close()
    out.update(lat=lat, errors=errors, statuses=statuses, state=st)


def main() -> None:
    spec = json.load(sys.stdin)
    outs: list[dict[str, Any]] = [{} for _ in spec["states"]]
    meter = CPUMeter(spec["master"]) if spec.get("master") else None
    before = meter.snapshot() if meter else {}
    start = time.perf_counter()
    deadline = start + spec["duration"]
    threads = [threading.Thread(target=worker, args=(spec, st, deadline, out))
               for st, out in zip(spec["states"], outs, strict=True)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    elapsed = time.perf_counter() - start
    after = meter.snapshot() if meter else {}
    lat = [v for o in outs for v in o["lat"]]
    statuses: dict[str, int] = {}
    for o in outs:
        for k, v in o["statuses"].items():
            statuses[str(k)] = statuses.get(str(k), 0) + v
    json.dump({"count": len(lat), "errors": sum(o["errors"] for o in outs), "elapsed": elapsed,
               "rps": len(lat) / elapsed, "p50_ms": percentile(lat, 50), "p99_ms": percentile(lat, 99),
               "statuses": statuses, "states": [o["state"] for o in outs],
               "cpu": CPUMeter.per_request(before, after, len(lat) + sum(o["errors"] for o in outs))},
              sys.stdout)


if __name__ == "__main__":
    main()
