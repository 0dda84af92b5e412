"""The redis-py client behind a Django cache, and the socket of a redis-py connection."""

from __future__ import annotations

import socket
from typing import Any

from ..conf import snapshot

__all__ = ["redis_client", "socket_of"]


def redis_client(cache: Any) -> Any:
    """The redis-py client behind a django-redis or Django ``RedisCache``; None for other caches.

    django-redis offers it publicly (``cache.client.get_client``); Django's own backend only
    through its private ``_cache``. No reference path: without it pub/sub has no client there."""
    client = getattr(cache, "client", None)  # django-redis
    if client is not None and hasattr(client, "get_client"):
        return client.get_client(write=True)
    inner = getattr(cache, "_cache", None)  # django.core.cache.backends.redis.RedisCache
    if inner is not None and hasattr(inner, "get_client"):
        return inner.get_client(None, write=True)
    return None


def socket_of(connection: Any) -> socket.socket | None:
    """The connected socket of ``connection`` (private ``_sock`` in redis-py), to wait on with
    poll(2); or None: then the caller asks ``connection.can_read()``, redis-py's public (slower)
    way to know the same. None too with ``DUALAUTH_PRIVATE_SPEEDUPS`` off (the reference path)."""
    if not snapshot().private_speedups:
        return None
    return getattr(connection, "_sock", None)
