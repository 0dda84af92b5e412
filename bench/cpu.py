"""CPU accounting for part 3, read from ``/proc`` by the load generator (no Django here)."""

from __future__ import annotations

import os
import time
from pathlib import Path


class CPUMeter:
    """CPU seconds spent by the gunicorn workers, PostgreSQL's processes and the load generator
    (``/proc``, Linux only), and how busy the whole machine was, between two snapshots taken by
    the load generator around its timed window (so neither its start-up nor Python's is counted).

    It tells a slow handler from an idle machine: two sync workers wait on every database round
    trip and commit, and while both wait the cores idle."""

    def __init__(self, master: int) -> None:
        self.master = master
        self.hz = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
        self.available = Path("/proc/stat").exists()

    def snapshot(self) -> dict[str, float]:
        if not self.available:
            return {}
        snap = {"workers": 0.0, "postgres": 0.0}
        for pid in os.listdir("/proc"):
            if not pid.isdigit():
                continue
            try:
                stat = Path(f"/proc/{pid}/stat").read_text()
                comm = Path(f"/proc/{pid}/comm").read_text().strip()
            except OSError:  # exited meanwhile
                continue
            fields = stat.rsplit(")", 1)[1].split()
            cpu = (int(fields[11]) + int(fields[12])) / self.hz
            if int(fields[1]) == self.master:
                snap["workers"] += cpu
            elif comm.startswith("postgres"):
                snap["postgres"] += cpu
        snap["loadgen"] = time.process_time()  # this process: the load generator's threads
        ticks = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
        snap["machine_total"], snap["machine_idle"] = float(sum(ticks)), float(ticks[3] + ticks[4])
        return snap

    @staticmethod
    def per_request(before: dict[str, float], after: dict[str, float], count: int) -> dict[str, float]:
        """CPU ms per request of each kind of process, and the machine's busy share (0-1)."""
        if not before or not after or not count:
            return {}
        out = {k: (after[k] - before[k]) / count * 1000 for k in ("workers", "postgres", "loadgen")}
        total = after["machine_total"] - before["machine_total"]
        out["busy"] = 1 - (after["machine_idle"] - before["machine_idle"]) / total if total else float("nan")
        return out
