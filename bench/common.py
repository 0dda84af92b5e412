"""Statistics, Markdown tables, the machine line and result files (no Django here)."""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"
PACKAGES = ["Django", "djangorestframework", "django-dualauth", "djangorestframework-simplejwt",
            "django-rest-knox", "dj-rest-auth", "PyJWT", "argon2-cffi", "psycopg", "django-redis",
            "gunicorn"]


def summary(values: list[float]) -> dict[str, float]:
    return {"median": statistics.median(values), "min": min(values), "max": max(values), "n": len(values)}


def ratio_summary(num: list[float], den: list[float]) -> float:
    """Median of the per-round ratios (same rounds, so drift cancels)."""
    ratios = [a / b for a, b in zip(num, den, strict=True) if b]
    return statistics.median(ratios) if ratios else float("nan")


def fmt_us(s: dict[str, float] | None) -> str:
    if not s:
        return "n/a"
    return f"{s['median']:.0f} ({s['min']:.0f}–{s['max']:.0f})"


def fmt_x(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.2f}×"


def table(headers: list[str], rows: list[list[Any]]) -> str:
    out = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    out += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(out)


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))
    return ordered[k]


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def _cmd(args: list[str]) -> str:
    try:
        return subprocess.run(args, capture_output=True, text=True, timeout=5).stdout.strip()  # noqa: S603
    except (OSError, subprocess.SubprocessError):
        return "n/a"


def machine() -> dict[str, Any]:
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "missing"
    return {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "cores": os.cpu_count(),
        "cpu": _cpu_model(),
        "python": platform.python_version(),
        "os": platform.platform(),
        "postgresql": _cmd(["psql", "-h", "127.0.0.1", "-U", "postgres", "-Atc", "show server_version"]),
        "redis": _cmd(["redis-cli", "info", "server"]).split("redis_version:")[-1].split()[0]
        if "redis_version:" in _cmd(["redis-cli", "info", "server"]) else "n/a",
        "packages": versions,
    }


def machine_line(m: dict[str, Any]) -> str:
    pk = ", ".join(f"{k} {v}" for k, v in m["packages"].items())
    return (f"{m['date']}; {m['cores']} cores ({m['cpu']}); Python {m['python']}; "
            f"PostgreSQL {m['postgresql']}; Redis {m['redis']}; {pk}")


def write_json(name: str, data: Any) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / name
    path.write_text(json.dumps(data, indent=2, default=str))
    return path


def log(*args: Any) -> None:
    print(*args, file=sys.stderr, flush=True)


def ensure_database(url: str) -> dict[str, Any]:
    """Create the PostgreSQL database of ``url`` if it does not exist; returns its parsed settings."""
    import dj_database_url
    import psycopg

    cfg = dj_database_url.parse(url)
    with psycopg.connect(host=cfg["HOST"], port=cfg["PORT"] or 5432, user=cfg["USER"], dbname="postgres",
                         autocommit=True) as admin:
        if not admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", (cfg["NAME"],)).fetchone():
            admin.execute(f'CREATE DATABASE "{cfg["NAME"]}"')
    return dict(cfg)
