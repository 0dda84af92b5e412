"""Per-prefix revocation modes for the benchmark (never part of the package).

``DUALAUTH_*`` settings are global. To serve the database, cache and cache + push revocation
modes from one settings module, the bench replaces the ``REVOCATION_CHECK`` property of the
settings object with one that first consults a context variable, and the per-process
``revocation_push`` value of ``conf.Snapshot`` with a property that reads another; this middleware sets both from the
URL prefix (``/dualauth-cache/``, ``/dualauth-push/``). A ContextVar is per thread, so the
threaded server of the concurrency probe is safe too.
"""

from __future__ import annotations

from contextvars import ContextVar
from typing import Any

_PREFIXES = {"/dualauth-cache/": ("cache", False), "/dualauth-push/": ("cache", True)}
_MODE: ContextVar[tuple[str, bool] | None] = ContextVar("bench_revocation_mode", default=None)


def install() -> None:
    from django_dualauth.conf import DualAuthSettings, Snapshot

    original = DualAuthSettings.REVOCATION_CHECK
    if getattr(original.fget, "_bench", False):
        return

    def revocation_check(self: Any) -> str:
        mode = _MODE.get()
        return mode[0] if mode is not None else original.fget(self)

    revocation_check._bench = True  # type: ignore[attr-defined]
    DualAuthSettings.REVOCATION_CHECK = property(revocation_check)  # type: ignore[method-assign, assignment]

    def push(self: Any) -> bool:
        mode = _MODE.get()
        return mode is not None and mode[1]

    Snapshot.revocation_push = property(push)  # type: ignore[assignment, method-assign]


class BenchRevocationModeMiddleware:
    def __init__(self, get_response: Any) -> None:
        self.get_response = get_response

    def __call__(self, request: Any) -> Any:
        path = request.path_info
        token = _MODE.set(_PREFIXES.get(path[:path.find("/", 1) + 1]))
        try:
            return self.get_response(request)
        finally:
            _MODE.reset(token)
