"""A per-process view of the revocation markers, kept current by Redis pub/sub.

With ``DUALAUTH_REVOCATION_PUSH`` (cache mode on a Redis cache), every revocation is published
on a channel as well as written as a marker, and every process subscribes. A process remembers
the markers it has read, so most requests are answered from memory instead of a Redis round trip.

Contract of :meth:`View.is_revoked`:

* "revoked" is remembered for as long as the marker lives (revocations are final);
* "not revoked" is answered from memory only if
  - the subscription was confirmed before the marker was read, and the connection has not been
    lost or re-established since (messages may have been missed: everything but revocations is
    forgotten),
  - the subscription answered a PING sent less than ``TRUST_WINDOW`` seconds ago (a connection
    that died silently, with no reset, is not trusted for longer than that),
  - the answer is younger than ``MAX_AGE`` seconds (a bound for any failure not foreseen here);
* messages already received are applied before every answer, so a revocation published before
  the request reached this process's socket is never missed;
* otherwise the marker is read, exactly as without push; ``None`` (cache unavailable, or not
  trusted to hold every recent revocation) is passed through, and the caller falls back to the
  database;
* a lost subscription (or one that cannot be opened) sends :data:`subscription_lost`: the cache may
  have lost markers with it (a restart), so :mod:`.revocation` stops trusting its "not revoked"
  until it has republished them from the database.

No thread is started: the subscription is polled (one ``poll(2)`` call, under a microsecond)
on each check, and the process's first check connects it. A forked child opens its own.
"""

from __future__ import annotations

import logging
import os
import select
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from typing import Any

from django.core.cache import caches
from django.core.signals import setting_changed
from django.dispatch import Signal

from .._seam.redis_connection import redis_client, socket_of

__all__ = ["CHANNEL", "View", "channel_name", "redis_client", "subscription_lost", "view_for"]

logger = logging.getLogger("django_dualauth")

CHANNEL = "dualauth:revocations"
PING_EVERY = 1.0  # seconds between PINGs while checks keep coming
TRUST_WINDOW = 3.0  # "not revoked" is trusted while a PING this recent has been answered
RESET_AFTER = 5.0  # a PING unanswered this long: the connection is dropped and reopened
RETRY_AFTER = 1.0  # after a failed (re)connection, checks read the marker this long
MAX_AGE = 30.0  # a remembered "not revoked" is read again after this long, whatever happens
MAX_ENTRIES = 100_000  # memory bound: past it the view starts again from empty

#: Sent (``alias=``) when a subscription is lost or cannot be opened: messages, and perhaps the
#: cache's markers with them (a restart), may be gone.
subscription_lost = Signal()


def channel_name(cache: Any) -> str:
    """The channel, under the cache's KEY_PREFIX and VERSION (projects sharing a Redis stay apart)."""
    return str(cache.make_key(CHANNEL))


class View:
    """One process's remembered markers and its subscription. Thread-safe."""

    def __init__(self, alias: str, ttl: float) -> None:
        self.alias, self.ttl = alias, ttl
        self.pid = os.getpid()
        self.lock = threading.Lock()
        self.known: dict[str, tuple[bool, float]] = {}  # sid -> (revoked, remembered until)
        self.generation = 0  # bumped whenever messages may have been missed
        self.pubsub: Any = None
        self.poller: Any = None
        self.reconnected = False
        self.subscribed = False
        self.alive_at = float("-inf")  # send time of the latest answered PING (or SUBSCRIBE)
        self.pings: deque[float] = deque()  # send times of unanswered PINGs, oldest first
        self.retry_at = 0.0

    # --- the check ----------------------------------------------------------------------
    def is_revoked(self, sid: str, read_marker: Callable[[str], bool | None]) -> bool | None:
        now = _now()
        with self.lock:
            self._drain(now)
            hit = self.known.get(sid)
            if hit is not None and (hit[0] or (hit[1] > now and self._trusted(now))):
                return hit[0]
            generation = self.generation if self._trusted(now) else None
        answer = read_marker(sid)
        if answer is None:
            return None
        with self.lock:
            now = _now()
            self._drain(now)
            hit = self.known.get(sid)
            if hit is not None and hit[0]:
                return True  # published while the marker was being read
            if answer:
                self._remember(sid, True, now + self.ttl)
            elif generation is not None and generation == self.generation:
                self._remember(sid, False, now + MAX_AGE)
        return answer

    def note_revoked(self, sids: Iterable[str]) -> None:
        """This process's own revocations: remembered at once, before any message comes back."""
        until = _now() + self.ttl
        with self.lock:
            for sid in sids:
                self._remember(sid, True, until)

    def forget_not_revoked(self) -> None:
        """Forget every remembered "not revoked" (the cache failed: revocations may be missing)."""
        with self.lock:
            self.generation += 1
            self.known = {sid: hit for sid, hit in self.known.items() if hit[0]}

    def close(self) -> None:
        with self.lock:
            self._reset(_now(), retry=0.0)

    # --- internals (called with the lock held) -------------------------------------------
    def _remember(self, sid: str, revoked: bool, until: float) -> None:
        if len(self.known) >= MAX_ENTRIES:
            self.known.clear()  # a forgotten marker is only read again
        self.known[sid] = (revoked, until)

    def _trusted(self, now: float) -> bool:
        return self.subscribed and now - self.alive_at < TRUST_WINDOW

    def _reset(self, now: float, retry: float = RETRY_AFTER) -> None:
        if self.pubsub is not None:
            try:
                self.pubsub.close()
            except Exception:  # noqa: S110 - the connection is being thrown away anyway
                pass
        self.pubsub = self.poller = None
        self.subscribed = False
        self.pings.clear()
        self.generation += 1
        self.known = {sid: hit for sid, hit in self.known.items() if hit[0]}
        self.retry_at = now + retry

    def _connect(self, now: float) -> None:
        cache = caches[self.alias]
        client = redis_client(cache)
        if client is None:
            raise RuntimeError(f"the cache {self.alias!r} is not Redis")
        pubsub = client.pubsub()
        self.pubsub, self.reconnected = pubsub, False
        pubsub.subscribe(channel_name(cache))
        # redis-py reconnects a pub/sub connection by itself and subscribes again; messages sent
        # in between are lost, so a second connect must make the view start over.
        pubsub.connection.register_connect_callback(self._on_connect)
        self.pings.append(now)  # the SUBSCRIBE's confirmation answers like a PING
        sock = socket_of(pubsub.connection)  # None: can_read() instead
        if sock is not None and hasattr(select, "poll"):  # no poll(2) on Windows
            self.poller = select.poll()
            self.poller.register(sock, select.POLLIN | select.POLLERR | select.POLLHUP)

    def _on_connect(self, connection: Any) -> None:
        self.reconnected = True

    def _readable(self) -> bool:
        if self.poller is not None:
            return bool(self.poller.poll(0))
        return bool(self.pubsub.connection.can_read(timeout=0))

    def _drain(self, now: float) -> None:
        if self.pubsub is None:
            if now < self.retry_at:
                return
            try:
                self._connect(now)
            except Exception:
                logger.warning("dualauth: cannot subscribe to revocations; reading markers instead")
                self._lost(now)
                return
        try:
            if self._readable():
                # Until None: redis-py may have buffered more messages than the socket shows.
                while (message := self.pubsub.get_message(timeout=0)) is not None:
                    self._apply(message, now)
            if self.reconnected:
                raise ConnectionError("the subscription reconnected")
            if self.subscribed and not self.pings and now - self.alive_at >= PING_EVERY:
                self.pubsub.ping()
                self.pings.append(now)
            if self.pings and now - self.pings[0] > RESET_AFTER:
                raise ConnectionError("the subscription stopped answering")
        except Exception:
            logger.warning("dualauth: revocation subscription lost; reading markers until it is back")
            self._lost(now)

    def _lost(self, now: float) -> None:
        self._reset(now)
        subscription_lost.send(sender=View, alias=self.alias)

    def _apply(self, message: dict[str, Any], now: float) -> None:
        kind = message.get("type")
        if kind == "message":
            data = message["data"]
            text = data.decode() if isinstance(data, bytes) else str(data)
            until = now + self.ttl
            for sid in text.split():
                self._remember(sid, True, until)
        elif kind in ("pong", "subscribe") and self.pings:
            self.alive_at = self.pings.popleft()
            if kind == "subscribe":
                self.subscribed = True


_now = time.monotonic  # a name of this module's own, so that tests can move the clock


_views: dict[tuple[str, float], View] = {}
_views_lock = threading.Lock()


def view_for(alias: str, ttl: float) -> View:
    """This process's view for ``alias`` (a new one after fork or a settings change)."""
    key = (alias, ttl)
    found = _views.get(key)
    if found is not None and found.pid == os.getpid():
        return found
    with _views_lock:
        found = _views.get(key)
        if found is None or found.pid != os.getpid():
            found = _views[key] = View(alias, ttl)
        return found


def _drop_views(**kwargs: Any) -> None:
    with _views_lock:
        views = list(_views.values())
        _views.clear()
    for v in views:
        if v.pid == os.getpid():
            v.close()


setting_changed.connect(_drop_views, dispatch_uid="dualauth_drop_revocation_views")
