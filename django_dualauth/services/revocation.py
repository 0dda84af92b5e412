"""Revocation markers in the shared cache, for the zero-query ``REVOCATION_CHECK = "cache"`` mode.

Markers are written on every revocation whatever the mode, so switching modes never
resurrects a revoked session. A marker lives as long as any access token of the session can.
With ``REVOCATION_PUSH`` each revocation is also published, and each process answers from
the markers it remembers (:mod:`.revocation_push`).

"No marker" means "not revoked" only while the cache holds the marker of every session revoked
within a marker's lifetime. Two things break that: a marker write that failed (the cache was
unreachable) and a cache that lost its keys (a restart without persistence, a flush, an
eviction). Hence the contract of :func:`is_revoked`:

* the key ``dualauth:revocations:complete`` (no expiry) is written only by :func:`republish`,
  after the markers: a cache without it (an emptied one) is trusted by no process;
* a process that has seen the cache fail (a write, a read, its push subscription) forgets what it
  remembered as not revoked, and trusts the cache again only after it has itself republished,
  from a start later than the failure;
* :func:`republish` reads the sessions revoked within a marker's lifetime from the database
  (the truth), writes the markers that are missing (and publishes them with push, with this
  process's own revocations whose message may have been lost), then the key;
* while the cache is not trusted, "no marker" is ``None``: the caller checks the database.

In normal operation this costs nothing more: the key is read in the same round trip as the
marker. An outage costs each process one query when the cache answers again (plus the database
check of the requests it answers meanwhile).
"""

from __future__ import annotations

import logging
import os
import secrets
import threading
import time
from collections.abc import Iterable
from datetime import timedelta
from typing import Any

from django.core.cache import caches
from django.core.signals import setting_changed
from django.utils import timezone

from ..conf import snapshot
from ..models import AuthSession
from . import revocation_push

__all__ = ["COMPLETE_KEY", "mark_revoked", "is_revoked", "republish", "forget_failures"]

logger = logging.getLogger("django_dualauth")

_PREFIX = "dualauth:revoked:"
COMPLETE_KEY = "dualauth:revocations:complete"
_PROOF_PREFIX = "dualauth:revocations:republishing:"
_BATCH = 500  # markers read and written per cache call during a republication
RETRY_AFTER = 1.0  # seconds between republication attempts that failed


class _Trust:
    """This process's record of cache failures, and whether it has republished since. Thread-safe."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.republishing = threading.Lock()
        self.failures = 0  # cache failures seen by this process
        self.cleared = 0  # the failure count that the latest republication started after
        self.retry_at = 0.0
        self.unannounced: set[str] = set()  # revoked here, the message perhaps never sent

    def failed(self, unannounced: Iterable[str] = ()) -> None:
        with self.lock:
            self.failures += 1
            self.unannounced.update(unannounced)

    def take_unannounced(self) -> list[str]:
        with self.lock:
            taken, self.unannounced = list(self.unannounced), set()
        return taken

    def clean(self) -> bool:
        return self.cleared == self.failures

    def reset(self) -> None:
        with self.lock:
            self.failures = self.cleared = 0
            self.retry_at = 0.0
            self.unannounced = set()


_trust = _Trust()


def _new_locks_in_child() -> None:
    # A lock held by another thread at fork() would stay held in the child for ever.
    _trust.lock, _trust.republishing = threading.Lock(), threading.Lock()


if hasattr(os, "register_at_fork"):  # not on Windows
    os.register_at_fork(after_in_child=_new_locks_in_child)


def _publish(cache: Any, sids: list[str]) -> None:
    if snapshot().revocation_push:  # after the markers: a process that hears of it reads them already set
        revocation_push.redis_client(cache).publish(revocation_push.channel_name(cache), " ".join(sids))


def mark_revoked(session_ids: Iterable[object]) -> None:
    """Publish revocations to the shared cache. A cache outage is logged, not raised: the
    database row is already revoked, this process stops trusting the cache's "not revoked"
    until it has republished from the database, and the cache mode checks the database meanwhile."""
    sids = [str(sid) for sid in session_ids]
    if not sids:
        return
    snap = snapshot()
    if snap.revocation_push:
        _view().note_revoked(sids)
    try:
        cache = caches[snap.revocation_cache_alias]
        cache.set_many({f"{_PREFIX}{sid}": 1 for sid in sids}, timeout=snap.revocation_ttl)
        _publish(cache, sids)
    except Exception:  # the cache client's own errors vary by backend
        _failed(sids)
        logger.exception("dualauth: could not publish %d revocation(s) to the cache; "
                         "checking the database until they are republished", len(sids))


def _failed(unannounced: Iterable[str] = ()) -> None:
    """This process saw the cache fail: with push, it forgets what it remembered as not revoked too."""
    _trust.failed(unannounced)
    if snapshot().revocation_push:
        _view().forget_not_revoked()


def republish() -> int:
    """Write the marker of every session revoked within a marker's lifetime that the cache lacks,
    then the key that says the cache is complete; with push, publish those markers and this
    process's revocations whose message may not have gone out. Returns how many markers were
    missing. One query (``revoked_at`` is the second column of ``dualauth_session_user_idx``);
    raises what the cache or the database raises, and a cache that lost its keys meanwhile (a
    key written first proves that it did not) raises RuntimeError."""
    with _trust.lock:
        started_after = _trust.failures
    unannounced = _trust.take_unannounced()
    try:
        return _republish(started_after, unannounced)
    except Exception:
        _trust.failed(unannounced)  # to be announced by the next attempt
        raise


def _republish(started_after: int, unannounced: list[str]) -> int:
    snap = snapshot()
    cache, ttl = caches[snap.revocation_cache_alias], snap.revocation_ttl
    proof = f"{_PROOF_PREFIX}{secrets.token_hex(8)}"
    cache.set(proof, 1, timeout=ttl)
    since = timezone.now() - timedelta(seconds=ttl)
    sids = [str(pk) for pk in AuthSession.objects.filter(revoked_at__gte=since).order_by()
            .values_list("pk", flat=True)]
    missing = 0
    for start in range(0, len(sids), _BATCH):
        keys = {f"{_PREFIX}{sid}": sid for sid in sids[start:start + _BATCH]}
        found = cache.get_many(list(keys))
        lacking = [sid for key, sid in keys.items() if key not in found]
        if lacking:
            cache.set_many({f"{_PREFIX}{sid}": 1 for sid in lacking}, timeout=ttl)
            _publish(cache, lacking)
            missing += len(lacking)
    for start in range(0, len(unannounced), _BATCH):  # their markers may be there, their messages not
        _publish(cache, unannounced[start:start + _BATCH])
    cache.set(COMPLETE_KEY, 1, timeout=None)
    if cache.get(proof) is None:  # emptied meanwhile: the key may sit in a cache without markers
        cache.delete(COMPLETE_KEY)
        raise RuntimeError("the revocation cache lost its keys during the republication")
    cache.delete(proof)
    with _trust.lock:
        _trust.cleared = max(_trust.cleared, started_after)
    if missing:
        logger.warning("dualauth: republished %d revocation(s) the cache had lost", missing)
    return missing


def _try_republish() -> None:
    """One republication at a time per process; the others check the database meanwhile."""
    if time.monotonic() < _trust.retry_at or not _trust.republishing.acquire(blocking=False):
        return
    try:
        republish()
    except Exception:
        _trust.retry_at = time.monotonic() + RETRY_AFTER
        logger.warning("dualauth: could not republish revocations; checking the database meanwhile",
                       exc_info=True)
    finally:
        _trust.republishing.release()


def _read_marker(session_id: str) -> bool | None:
    marker = f"{_PREFIX}{session_id}"
    try:
        found = caches[snapshot().revocation_cache_alias].get_many([marker, COMPLETE_KEY])  # one round trip
    except Exception:
        _failed()
        logger.warning("dualauth: revocation cache unavailable, falling back to the database")
        return None
    if marker in found:
        return True
    if COMPLETE_KEY in found and _trust.clean():
        return False
    _try_republish()  # this request is still checked in the database: its read predates it
    return None


def _view() -> revocation_push.View:
    snap = snapshot()
    return revocation_push.view_for(snap.revocation_cache_alias, snap.revocation_ttl)


def is_revoked(session_id: str) -> bool | None:
    """True or False from the cache (or, with push, from this process's view of it); None
    when the cache cannot answer or cannot be trusted to hold every recent revocation."""
    answer = _view().is_revoked(session_id, _read_marker) if snapshot().revocation_push else _read_marker(session_id)
    if answer is False and not _trust.clean():  # with push, remembered from before a failure
        _try_republish()
        return None
    return answer


def forget_failures(**kwargs: Any) -> None:
    """Start this process's record of cache failures afresh (a new configuration, a new cache)."""
    _trust.reset()


def _subscription_lost(alias: str, **kwargs: Any) -> None:
    if alias == snapshot().revocation_cache_alias:  # the view has already forgotten its "not revoked" answers
        _trust.failed()


setting_changed.connect(forget_failures, dispatch_uid="dualauth_forget_revocation_cache_failures")
revocation_push.subscription_lost.connect(_subscription_lost, dispatch_uid="dualauth_revocation_subscription_lost")
