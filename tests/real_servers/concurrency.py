"""The one barrier helper of the concurrency tests: callables run in threads of their own (each
with its own database connection), released together by a barrier.

A barrier that waits forever, or a join that gives up silently, turns a thread stuck on a lock
into a hang or into a ``None`` result that a lenient assertion may pass; here both are bounded,
and a thread still alive after the join fails the test.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any

from django.db import connection

__all__ = ["BARRIER_TIMEOUT", "JOIN_TIMEOUT", "N", "race", "together"]

#: Threads of a same-work race (enough to overlap on two cores, few enough for a loaded machine).
N = 12
#: Seconds a thread waits at the barrier for the others to start (a loaded 2-core machine).
BARRIER_TIMEOUT = 60.0
#: Seconds the caller waits for every thread to end once released.
JOIN_TIMEOUT = 120.0


def together(work: Sequence[Callable[[], Any]]) -> list[Any]:
    """Run each callable of ``work`` in its own thread, released together; returns each one's
    result or the exception it raised, in order. Fails when a thread has not ended in time."""
    barrier = threading.Barrier(len(work))
    results: list[Any] = [None] * len(work)

    def run(i: int) -> None:
        try:
            barrier.wait(timeout=BARRIER_TIMEOUT)
            results[i] = work[i]()
        except Exception as exc:  # noqa: BLE001 - the outcome is what the tests assert on
            results[i] = exc
        finally:
            connection.close()  # the thread's own connection, never left open for the next test

    threads = [threading.Thread(target=run, args=(i,), daemon=True) for i in range(len(work))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=JOIN_TIMEOUT)
    assert not any(thread.is_alive() for thread in threads), "a racing thread did not end"
    return results


def race(n: int, work: Callable[[], Any]) -> list[Any]:
    """``work`` run ``n`` times at once (see :func:`together`)."""
    return together([work] * n)
