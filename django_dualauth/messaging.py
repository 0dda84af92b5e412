"""Getting mails and SMS off the request path.

``DUALAUTH_MESSAGE_DISPATCHER`` is called with a zero-argument ``send`` callable. The
default runs it on a small thread pool, so a slow SMTP server or SMS provider never holds a
worker. Point the setting at your task queue in production (the callable must then pickle
``send`` or re-create it), or at :func:`dispatch_now` in tests.

:func:`dispatch_built` hands over the *building* of the message as well (the account
look-up, the token row, the rendering): the request endpoints that answer the same whether
an account exists use it, so their request path does the same work for a known and an
unknown address and its duration tells nothing (ENUM-02).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import ParamSpec, Protocol

from django.db import close_old_connections

from .conf import dualauth_settings

__all__ = ["dispatch", "dispatch_built", "dispatch_in_thread", "dispatch_now"]

logger = logging.getLogger("django_dualauth")
_pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="dualauth-messages")


def _run(send: Callable[[], object]) -> None:
    try:
        send()
    except Exception:  # a failed delivery must not surface as a 500 or reveal the account
        logger.exception("dualauth: message delivery failed")


def dispatch_now(send: Callable[[], object]) -> None:
    _run(send)


def _run_in_thread(send: Callable[[], object]) -> None:
    # A job may use the database (dispatch_built): treat it like a request, which opens the
    # thread's connection when needed and closes it when CONN_MAX_AGE says so or it broke.
    close_old_connections()
    try:
        _run(send)
    finally:
        close_old_connections()


def dispatch_in_thread(send: Callable[[], object]) -> None:
    _pool.submit(_run_in_thread, send)


def dispatch(send: Callable[[], object]) -> None:
    dualauth_settings.MESSAGE_DISPATCHER(send)


class _Sendable(Protocol):
    def send(self) -> object: ...


_P = ParamSpec("_P")


def _build_and_send(build: Callable[..., _Sendable | None], args: tuple[object, ...],
                    kwargs: dict[str, object]) -> None:
    message = build(*args, **kwargs)
    if message is not None:
        message.send()


def dispatch_built(build: Callable[_P, _Sendable | None], *args: _P.args, **kwargs: _P.kwargs) -> None:
    """Dispatch ``build(*args, **kwargs)`` and the sending of the message it returns (if any).

    ``build`` runs off the request path, with the dispatcher: pass a module-level function and
    picklable arguments (a user's pk, not the user) so that a task queue can carry the job.
    """
    dispatch(functools.partial(_build_and_send, build, args, kwargs))
