"""Revocation markers in the shared cache, for the zero-query ``REVOCATION_CHECK = "cache"`` mode.

Markers are written on every revocation whatever the mode, so switching modes never
resurrects a revoked session. A marker lives as long as any access token of the session can.
With ``REVOCATION_PUSH`` each revocation is also published, and each process answers from
the markers it remembers (:mod:`.revocation_push`).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from django.core.cache import caches

from ..conf import dualauth_settings, per_process
from . import revocation_push

__all__ = ["mark_revoked", "is_revoked"]

logger = logging.getLogger("django_dualauth")

_PREFIX = "dualauth:revoked:"


# The alias is resolved once (the setting is read on every cache-mode request otherwise); the
# cache object itself is still fetched from ``caches`` each time, which keeps Django's one
# instance per thread (and per async context).
_cache_alias = per_process(lambda: dualauth_settings.REVOCATION_CACHE)
_push = per_process(lambda: dualauth_settings.REVOCATION_CHECK == "cache" and dualauth_settings.REVOCATION_PUSH)


@per_process
def _ttl() -> int:
    return int((dualauth_settings.ACCESS_TOKEN_LIFETIME + dualauth_settings.JWT_LEEWAY)
               .total_seconds()) + 60


def mark_revoked(session_ids: Iterable[object]) -> None:
    """Publish revocations to the shared cache. A cache outage is logged, not raised: the
    database row is already revoked, and the cache mode falls back to the database when the
    cache cannot answer."""
    sids = [str(sid) for sid in session_ids]
    if not sids:
        return
    if _push():
        revocation_push.view_for(_cache_alias(), _ttl()).note_revoked(sids)
    try:
        cache = caches[_cache_alias()]
        cache.set_many({f"{_PREFIX}{sid}": 1 for sid in sids}, timeout=_ttl())
        if _push():  # after the markers: a process that hears of it reads them already set
            revocation_push.redis_client(cache).publish(revocation_push.channel_name(cache), " ".join(sids))
    except Exception:  # the cache client's own errors vary by backend
        logger.exception("dualauth: could not publish %d revocation(s) to the cache", len(sids))


def _read_marker(session_id: str) -> bool | None:
    try:
        return caches[_cache_alias()].get(f"{_PREFIX}{session_id}") is not None
    except Exception:
        logger.warning("dualauth: revocation cache unavailable, falling back to the database")
        return None


def is_revoked(session_id: str) -> bool | None:
    """True or False from the cache (or, with push, from this process's view of it); None
    when the cache cannot answer."""
    if _push():
        return revocation_push.view_for(_cache_alias(), _ttl()).is_revoked(session_id, _read_marker)
    return _read_marker(session_id)
