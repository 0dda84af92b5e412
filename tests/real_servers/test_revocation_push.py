"""``DUALAUTH_REVOCATION_PUSH`` on the real Redis: each process answers "revoked?" from memory,
and Redis pub/sub tells every process of a revocation made by another.

Each test removes one protection's reason to exist: a revocation published by another process
(a real one), one published while the marker is being read, a lost subscription (messages
missed), a silent one (no PONG), an answer past its age, and a forked child.
"""

from __future__ import annotations

import os
import select
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import redis
from django.core.cache import caches
from django.utils import timezone

from django_dualauth.conf import snapshot
from django_dualauth.models import AuthSession
from django_dualauth.services import revocation, revocation_push

pytestmark = [pytest.mark.redis, pytest.mark.django_db]

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def push(settings: Any) -> Iterator[None]:
    settings.DUALAUTH_REVOCATION_CHECK = "cache"
    settings.DUALAUTH_REVOCATION_PUSH = True
    yield
    revocation_push._drop_views()


@pytest.fixture
def reads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every marker read (a Redis round trip) the check makes."""
    seen: list[str] = []
    original = revocation._read_marker

    def counting(sid: str) -> bool | None:
        seen.append(sid)
        return original(sid)

    monkeypatch.setattr(revocation, "_read_marker", counting)
    return seen


def view() -> revocation_push.View:
    snap = snapshot()
    return revocation_push.view_for(snap.revocation_cache_alias, snap.revocation_ttl)


def sid() -> str:
    return str(uuid.uuid4())


def settle(v: revocation_push.View, timeout: float = 2.0) -> None:
    """Wait until the subscription is confirmed (the first check opens it)."""
    deadline = time.monotonic() + timeout
    revocation.is_revoked(sid())  # a check reads what the subscription received (or lost)
    while not v._trusted(revocation_push._now()):
        assert time.monotonic() < deadline, "the subscription was never confirmed"
        time.sleep(0.01)
        revocation.is_revoked(sid())


def heard(v: revocation_push.View, s: str, timeout: float = 10.0) -> bool:
    """Whether the subscription delivers the revocation of ``s`` within ``timeout`` seconds.

    Redis has written the message to this process's socket when the other process's PUBLISH
    returns, but the kernel may hand it over a moment later: a check made at once could find
    the socket still empty and (correctly) read the marker instead. So this drains the
    subscription, as every check does, until the message is applied, without reading a marker.
    """
    deadline = time.monotonic() + timeout
    while True:
        with v.lock:
            v._drain(revocation_push._now())
            hit = v.known.get(s)
        if hit is not None and hit[0]:
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.01)


def revoke_in_another_process(*sids: str) -> None:
    """``mark_revoked`` run by a separate Python process with the same settings."""
    code = ("import django; django.setup(); from django.conf import settings; "
            "settings.DUALAUTH_REVOCATION_CHECK = 'cache'; settings.DUALAUTH_REVOCATION_PUSH = True; "
            "from django_dualauth.services import revocation; "
            f"revocation.mark_revoked({list(sids)!r})")
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings_services"}
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, check=True, timeout=60)


def test_a_remembered_answer_costs_no_round_trip(push: None, reads: list[str]) -> None:
    settle(view())
    s = sid()
    reads.clear()
    assert [revocation.is_revoked(s) for _ in range(5)] == [False] * 5
    assert reads == [s]  # read once, then answered from memory


def test_a_revocation_in_another_process_reaches_this_one(push: None, reads: list[str]) -> None:
    settle(view())
    s, other = sid(), sid()
    assert revocation.is_revoked(s) is False
    assert revocation.is_revoked(other) is False
    reads.clear()

    revoke_in_another_process(s)

    assert heard(view(), s), "the other process's revocation never arrived on the subscription"
    assert revocation.is_revoked(s) is True
    assert reads == []  # learned from the message, not by reading the marker
    # Checked after the read count: on a loaded machine the other process can outlast the
    # 3-second trust window, and then "not revoked" is rightly read from the marker again.
    assert revocation.is_revoked(other) is False


def test_messages_that_arrive_together_are_all_applied(push: None) -> None:
    settle(view())
    sids = [sid() for _ in range(3)]
    assert [revocation.is_revoked(s) for s in sids] == [False] * 3
    publisher = revocation_push.redis_client(caches["default"])
    channel = revocation_push.channel_name(caches["default"])
    # Three messages sent in one pipeline, which Redis writes to the subscriber together: one
    # recv reads them all, and the client buffers what poll(2) can no longer see.
    with publisher.pipeline(transaction=False) as pipe:
        for s in sids:
            pipe.publish(channel, s)
        pipe.execute()
    v = view()
    readable, _, _ = select.select([v.pubsub.connection._sock], [], [], 10.0)
    assert readable, "the messages never arrived"
    assert [revocation.is_revoked(s) for s in sids] == [True] * 3


def test_this_process_revocation_is_known_before_its_message_returns(push: None, reads: list[str]) -> None:
    settle(view())
    s = sid()
    assert revocation.is_revoked(s) is False
    revocation.mark_revoked([s])
    reads.clear()
    with pytest.MonkeyPatch.context() as mp:  # its own message has not come back yet
        mp.setattr(revocation_push.View, "_readable", lambda self: False)
        assert revocation.is_revoked(s) is True
    assert reads == []


def test_a_revocation_heard_while_the_marker_is_read_is_not_overwritten(
        push: None, monkeypatch: pytest.MonkeyPatch) -> None:
    v = view()
    settle(v)
    s = sid()
    original = revocation._read_marker
    publisher = revocation_push.redis_client(caches["default"])

    def read_while_revoked_elsewhere(target: str) -> bool | None:
        answer = original(target)  # False: not revoked yet
        publisher.publish(revocation_push.channel_name(caches["default"]), target)
        time.sleep(0.05)
        v.is_revoked(sid(), original)  # another thread's check applies the message meanwhile
        return answer

    monkeypatch.setattr(revocation, "_read_marker", read_while_revoked_elsewhere)
    assert revocation.is_revoked(s) is True
    monkeypatch.setattr(revocation, "_read_marker", original)
    assert revocation.is_revoked(s) is True


def kill_subscription(v: revocation_push.View) -> None:
    host, port = v.pubsub.connection._sock.getsockname()[:2]
    killed = revocation_push.redis_client(caches["default"]).client_kill_filter(_id=None, addr=f"{host}:{port}")
    assert killed == 1
    time.sleep(0.05)


def write_marker_only(s: str) -> None:
    """A revocation this process never hears of (as if made while it was not subscribed)."""
    caches["default"].set(f"dualauth:revoked:{s}", 1, timeout=60)


def test_a_lost_subscription_forgets_every_not_revoked_answer(push: None, reads: list[str]) -> None:
    v = view()
    settle(v)
    s = sid()
    assert revocation.is_revoked(s) is False
    kill_subscription(v)
    write_marker_only(s)

    settle(v, timeout=5)  # notices the loss, waits RETRY_AFTER, subscribes again
    reads.clear()
    assert revocation.is_revoked(s) is True  # the old "not revoked" was not kept
    assert reads == [s]


def test_an_answer_read_across_a_lost_subscription_is_not_remembered(
        push: None, reads: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    v = view()
    settle(v)
    s = sid()
    original = revocation._read_marker

    def read_then_lose_the_subscription(target: str) -> bool | None:
        answer = original(target)
        kill_subscription(v)
        monkeypatch.setattr(revocation, "_read_marker", original)
        settle(v, timeout=5)  # other threads' checks notice the loss and subscribe again
        write_marker_only(target)  # revoked while this process was not listening
        return answer

    monkeypatch.setattr(revocation, "_read_marker", read_then_lose_the_subscription)
    assert revocation.is_revoked(s) is False  # true when it was read
    assert revocation.is_revoked(s) is True


def test_an_answer_read_before_the_subscription_is_confirmed_is_not_remembered(
        push: None, monkeypatch: pytest.MonkeyPatch) -> None:
    revocation_push._drop_views()  # this process has not subscribed yet
    s = sid()
    original, readable = revocation._read_marker, revocation_push.View._readable
    # The SUBSCRIBE's confirmation has not arrived when the check starts (on loopback it may
    # come within microseconds, so its arrival is held back until the marker has been read).
    monkeypatch.setattr(revocation_push.View, "_readable", lambda self: False)

    def read_then_revoked_unheard(target: str) -> bool | None:
        answer = original(target)
        write_marker_only(target)  # a revocation that may predate the subscription
        monkeypatch.setattr(revocation_push.View, "_readable", readable)
        time.sleep(0.05)  # the confirmation arrives meanwhile
        return answer

    monkeypatch.setattr(revocation, "_read_marker", read_then_revoked_unheard)
    assert revocation.is_revoked(s) is False
    monkeypatch.setattr(revocation, "_read_marker", original)
    assert view()._trusted(revocation_push._now())
    assert revocation.is_revoked(s) is True


def test_a_reconnect_made_by_redis_py_itself_makes_the_view_start_over(push: None, reads: list[str]) -> None:
    v = view()
    settle(v)
    s = sid()
    assert revocation.is_revoked(s) is False
    first = v.pubsub
    v._on_connect(first.connection)  # what redis-py calls when it reconnects and resubscribes
    reads.clear()
    # Markers may have gone with the connection (a restart): the database answers until this
    # process has republished the recent revocations, which this check does.
    assert revocation.is_revoked(s) is None
    assert reads == [s]
    assert v.pubsub is not first
    assert revocation.is_revoked(s) is False


def cache_down(*args: Any, **kwargs: Any) -> None:
    raise ConnectionError("the cache is down")


def test_a_remembered_answer_is_not_trusted_after_a_cache_failure_until_republished(
        push: None, reads: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    settle(view())
    s, live = sid(), sid()
    assert revocation.is_revoked(s) is False  # both remembered
    assert revocation.is_revoked(live) is False
    write_marker_only(s)  # revoked by a process whose message never came (the cache failing)
    with monkeypatch.context() as mp:  # this process sees the cache fail too
        mp.setattr(type(caches["default"]), "set_many", cache_down)
        revocation.mark_revoked([sid()])
    reads.clear()

    assert revocation.is_revoked(s) is True  # forgotten, so the marker is read
    assert revocation.is_revoked(live) is None  # "not revoked" untrusted: the database; republished
    assert revocation.is_revoked(live) is False
    assert reads == [s, live, live]


def test_a_revocation_whose_message_was_lost_is_announced_by_the_republication(
        push: None, user: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    settle(view())
    far = timezone.now() + timedelta(days=1)
    session = AuthSession.objects.create(user=user, delivery="bearer", refresh_digest=uuid.uuid4().hex,
                                         expires_at=far, absolute_expires_at=far)
    AuthSession.objects.filter(pk=session.pk).update(revoked_at=timezone.now(), revoked_reason="logout")
    listener = revocation_push.redis_client(caches["default"]).pubsub(ignore_subscribe_messages=True)
    listener.subscribe(revocation_push.channel_name(caches["default"]))
    try:
        with monkeypatch.context() as mp:  # the marker is written, the connection dies before the PUBLISH
            mp.setattr(revocation, "_publish", cache_down)
            revocation.mark_revoked([session.pk])
        assert caches["default"].get(f"dualauth:revoked:{session.pk}") == 1
        assert revocation.is_revoked(sid()) is None  # this check republishes

        deadline, heard_of = time.monotonic() + 10, set()
        while str(session.pk) not in heard_of and time.monotonic() < deadline:
            message = listener.get_message(timeout=0.5)
            if message is not None:
                heard_of.update(message["data"].decode().split())
        assert str(session.pk) in heard_of  # another process that remembered it as live now knows
    finally:
        listener.close()


class Clock:
    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.monotonic() + self.offset


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    c = Clock()
    monkeypatch.setattr(revocation_push, "_now", c)
    return c


def test_a_silent_subscription_is_trusted_for_the_window_only_then_reopened(
        push: None, reads: list[str], clock: Clock, monkeypatch: pytest.MonkeyPatch) -> None:
    v = view()
    settle(v)
    s = sid()
    assert revocation.is_revoked(s) is False
    monkeypatch.setattr(v.pubsub, "ping", lambda *a, **k: None)  # no PONG ever comes back
    reads.clear()

    clock.offset += revocation_push.TRUST_WINDOW - 0.5
    assert revocation.is_revoked(s) is False
    assert reads == []  # still inside the window
    clock.offset += 1.0
    assert revocation.is_revoked(s) is False
    assert reads == [s]  # past it: the marker is read
    first = v.pubsub
    clock.offset += revocation_push.RESET_AFTER
    revocation.is_revoked(s)
    assert v.pubsub is not first  # the unanswered PING made it reconnect
    assert v.generation >= 1


def test_a_remembered_answer_is_read_again_after_max_age(push: None, reads: list[str], clock: Clock) -> None:
    v = view()
    settle(v)
    s = sid()
    assert revocation.is_revoked(s) is False
    reads.clear()
    for _ in range(int(revocation_push.MAX_AGE) + 1):  # live PINGs keep the subscription trusted
        clock.offset += 1.0
        revocation.is_revoked(sid())
        time.sleep(0.005)
        revocation.is_revoked(sid())
    reads.clear()
    assert revocation.is_revoked(s) is False
    assert reads == [s]


def test_a_forked_child_opens_its_own_subscription(push: None) -> None:
    parent = view()
    settle(parent)
    s = sid()
    revocation.mark_revoked([s])
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child reports through its exit code
        code = 1
        try:
            child = view()
            code = 0 if (child is not parent and child.pid == os.getpid()
                         and revocation.is_revoked(s) is True and child.pubsub is not parent.pubsub) else 2
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert revocation.is_revoked(s) is True  # the parent's subscription is untouched


def test_push_is_on_by_default_in_cache_mode_on_redis(settings: Any, reads: list[str]) -> None:
    settings.DUALAUTH_REVOCATION_CHECK = "cache"  # DUALAUTH_REVOCATION_PUSH left unset
    assert not hasattr(settings, "DUALAUTH_REVOCATION_PUSH")
    try:
        settle(view())
        s = sid()
        reads.clear()
        assert [revocation.is_revoked(s) for _ in range(5)] == [False] * 5
        assert reads == [s]  # read once, then answered from memory
        revoke_in_another_process(s)
        assert heard(view(), s), "the other process's revocation never arrived on the subscription"
        assert revocation.is_revoked(s) is True
        assert reads == [s]  # the revocation arrived as a message
    finally:
        revocation_push._drop_views()


def test_with_push_turned_off_every_check_reads_the_marker(settings: Any, reads: list[str]) -> None:
    settings.DUALAUTH_REVOCATION_CHECK = "cache"
    settings.DUALAUTH_REVOCATION_PUSH = False
    s = sid()
    assert [revocation.is_revoked(s) for _ in range(3)] == [False] * 3
    assert reads == [s, s, s]


def test_an_unreachable_redis_falls_back_to_the_database(push: None, settings: Any) -> None:
    settings.CACHES = {"default": {**settings.CACHES["default"], "LOCATION": "redis://127.0.0.1:1/0",
                                   "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 0.2}}}
    assert revocation.is_revoked(sid()) is None
    assert not view()._trusted(revocation_push._now())


def test_redis_client_is_found_for_both_redis_backends() -> None:
    from django.core.cache.backends.redis import RedisCache

    builtin = RedisCache("redis://127.0.0.1:6379/3", {})
    assert isinstance(revocation_push.redis_client(builtin), redis.Redis)
    assert isinstance(revocation_push.redis_client(caches["default"]), redis.Redis)
