"""Getting mails and SMS off the request path.

``DUALAUTH_MESSAGE_DISPATCHER`` is called with a zero-argument ``send`` callable. The
default runs it on a small thread pool, so a request for a magic link or an SMS code takes
the same time whether or not the account exists (ENUM-02) and a slow SMTP server or SMS
provider never holds a worker. Point the setting at your task queue in production (the
callable must then pickle ``send`` or re-create it), or at :func:`dispatch_now` in tests.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from .conf import dualauth_settings

__all__ = ["dispatch", "dispatch_in_thread", "dispatch_now"]

logger = logging.getLogger("django_dualauth")
_pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="dualauth-messages")


def _run(send: Callable[[], Any]) -> None:
    try:
        send()
    except Exception:  # a failed delivery must not surface as a 500 or reveal the account
        logger.exception("dualauth: message delivery failed")


def dispatch_now(send: Callable[[], Any]) -> None:
    _run(send)


def dispatch_in_thread(send: Callable[[], Any]) -> None:
    _pool.submit(_run, send)


def dispatch(send: Callable[[], Any]) -> None:
    dualauth_settings.MESSAGE_DISPATCHER(send)
