"""Per-prefix DUALAUTH_REVOCATION_CHECK for the benchmark (never part of the package).

``DUALAUTH_*`` settings are global. To serve the database and the cache revocation modes from one
settings module, the bench replaces the ``REVOCATION_CHECK`` property of the settings object with
one that first consults a context variable, which this middleware sets for ``/dualauth-cache/``.
A ContextVar is per thread, so the threaded server of the concurrency probe is safe too.
"""

from __future__ import annotations

from contextvars import ContextVar
from typing import Any

CACHE_PREFIX = "/dualauth-cache/"
_MODE: ContextVar[str | None] = ContextVar("bench_revocation_mode", default=None)


def install() -> None:
    from django_dualauth.conf import DualAuthSettings

    original = DualAuthSettings.REVOCATION_CHECK
    if getattr(original.fget, "_bench", False):
        return

    def revocation_check(self: Any) -> str:
        mode = _MODE.get()
        return mode if mode is not None else original.fget(self)

    revocation_check._bench = True  # type: ignore[attr-defined]
    DualAuthSettings.REVOCATION_CHECK = property(revocation_check)  # type: ignore[method-assign, assignment]


class BenchRevocationModeMiddleware:
    def __init__(self, get_response: Any) -> None:
        self.get_response = get_response

    def __call__(self, request: Any) -> Any:
        token = _MODE.set("cache" if request.path_info.startswith(CACHE_PREFIX) else None)
        try:
            return self.get_response(request)
        finally:
            _MODE.reset(token)
