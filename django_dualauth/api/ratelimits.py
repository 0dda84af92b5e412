"""Every rate limit of the package: scopes, keys and the django-ratelimit calls.

Every check of a password or a code runs inside :class:`guarded_check`, which charges a
per-IP and a per-account budget of failures (NIST SP 800-63B §5.2.2, OWASP ASVS 5 V6.3).

Rates come from ``DUALAUTH_RATE_LIMITS`` per request. Counters live in the cache named
by django-ratelimit's ``RATELIMIT_USE_CACHE`` (Redis in production, so that every app
process shares them). Keys are hashed by django-ratelimit; no raw e-mail is stored.
"""

from __future__ import annotations

import logging
import time
import unicodedata
from typing import Any, Literal

from django.core.cache import caches
from django_ratelimit import core as ratelimit_core
from django_ratelimit.core import get_usage

from .. import audit
from ..conf import dualauth_settings
from ..exceptions import (
    DualAuthError,
    InvalidCredentials,
    InvalidTwoFactorCode,
    RateLimited,
    ReauthenticationFailed,
    ServiceUnavailable,
    SMSCodeInvalid,
    TooManyAttempts,
)
from ..services import proofs
from .base import client_ip_key

__all__ = ["normalize_identifier", "hit", "check", "record", "guarded_check", "FailureBudget", "PROOF_BUDGETS",
           "FAILED_PROOFS"]

logger = logging.getLogger("django_dualauth")


def normalize_identifier(value: str) -> str:
    """NFKC + casefold + strip: the one normalisation for identifier-keyed limits."""
    return unicodedata.normalize("NFKC", value).casefold().strip()


def _usage(request: Any, scope: str, value: str, *, increment: bool) -> dict[str, Any] | None:
    rate = dualauth_settings.RATE_LIMITS.get(scope)
    if not rate or not value:
        return None
    http = getattr(request, "_request", request)
    try:
        usage: dict[str, Any] | None = get_usage(http, group=f"dualauth.{scope}", key=lambda group, req: value,
                                                 rate=rate, increment=increment)
        return usage
    except Exception:  # the cache client's connection errors vary by backend
        _cache_unavailable(scope)
        return None


def _cache_unavailable(scope: str) -> None:
    # django-ratelimit's own rule for a cache that cannot count: open (no limit) only
    # when RATELIMIT_FAIL_OPEN says so; closed is a 503, not a 500 and not a false 429.
    logger.warning("dualauth: rate-limit cache unavailable (scope %s)", scope)
    if dualauth_settings.RATELIMIT_FAIL_OPEN:
        return None
    raise ServiceUnavailable() from None


def _exceeded(scope: str, usage: dict[str, Any]) -> RateLimited:
    audit.record("auth.ratelimit.exceeded", level=logging.WARNING, scope=scope)  # the key may be an e-mail
    return RateLimited(usage["time_left"])


def hit(request: Any, scope: str, value: str) -> None:
    """Count this request and refuse it (429) when over the limit."""
    usage = _usage(request, scope, value, increment=True)
    if usage and usage["should_limit"]:
        raise _exceeded(scope, usage)


def check(request: Any, scope: str, value: str, *more: tuple[str, str]) -> None:
    """Refuse (429) when the recorded events already reach the limit; counts nothing.

    ``more`` adds (scope, value) pairs checked with the same one cache read."""
    pairs = [(scope, value), *more]
    for (name, _), usage in zip(pairs, _peek(request, pairs), strict=True):
        if usage and (usage["should_limit"] or usage["count"] >= usage["limit"]):
            raise _exceeded(name, usage)


def _peek(request: Any, pairs: list[tuple[str, str]]) -> list[dict[str, Any] | None]:
    """django-ratelimit's usage of each (scope, value) without counting, in one cache read.

    ``get_usage(increment=False)`` first ``add()``s a zero counter, then reads it: two round
    trips to Redis per check. This reads the same counters (django-ratelimit's own window and
    key functions) with one ``get_many()``; a missing counter is zero, as the ``add`` would have
    made it. Should those functions change, ``get_usage`` is used as before."""
    found: list[tuple[str, int, int] | None] = []
    try:
        for scope, value in pairs:
            rate = dualauth_settings.RATE_LIMITS.get(scope)
            if not rate or not value:
                found.append(None)
                continue
            limit, period = ratelimit_core._split_rate(rate)
            window = ratelimit_core._get_window(value, period)
            found.append((ratelimit_core._make_cache_key(f"dualauth.{scope}", window, rate, value,
                                                         ratelimit_core.ALL), limit, window))
    except Exception:  # a django-ratelimit release without these helpers
        return [_usage(request, scope, value, increment=False) for scope, value in pairs]
    keys = [f[0] for f in found if f is not None]
    if not keys:
        return [None] * len(pairs)
    try:
        counts = caches[dualauth_settings.RATELIMIT_USE_CACHE].get_many(keys)
    except Exception:  # the cache client's connection errors vary by backend
        _cache_unavailable(pairs[0][0])  # raises unless RATELIMIT_FAIL_OPEN
        return [None] * len(pairs)
    now = int(time.time())
    out: list[dict[str, Any] | None] = []
    for f in found:
        if f is None:
            out.append(None)
            continue
        key, limit, window = f
        count = counts.get(key, 0)
        out.append({"count": count, "limit": limit, "should_limit": count > limit, "time_left": window - now})
    return out


def record(request: Any, scope: str, value: str) -> dict[str, Any] | None:
    """Count an event (a failed login) without refusing this request; returns the usage."""
    return _usage(request, scope, value, increment=True)


class FailureBudget:
    """A budget of refused attempts per key, checked only where a refusal would cost work.

    :meth:`admit` refuses (429) once the budget is spent: call it before the work only a
    refused attempt does. Leaving the ``with`` block through one of ``failures`` (or
    :class:`RateLimited`) counts one failure; a failure that finds the budget already spent is
    answered 429 in its place, so that refusals beyond the budget look alike whether or not
    :meth:`admit` was reached. Attempts that succeed are neither checked nor counted.
    """

    def __init__(self, request: Any, scope: str, value: str, *failures: type[Exception]) -> None:
        self.request, self.scope, self.value, self.failures = request, scope, value, failures
        self._admitted = self._refused = False

    def admit(self) -> None:
        """Refuse (429) when the budget is spent; reads the counter once per block."""
        if self._admitted:
            return
        self._admitted = True
        try:
            check(self.request, self.scope, self.value)
        except DualAuthError:  # 429, or 503 from a cache that cannot answer
            self._refused = True  # the budget's own refusal is not counted again
            raise

    def __enter__(self) -> FailureBudget:
        return self

    def __exit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> Literal[False]:
        if self._refused or exc is None or not isinstance(exc, (*self.failures, RateLimited)):
            return False
        usage = record(self.request, self.scope, self.value)
        if usage and usage["should_limit"] and not isinstance(exc, RateLimited):
            raise _exceeded(self.scope, usage) from None
        return False


#: What each kind of password or code check charges: (per-IP scope, per-account scope).
#: ``login`` and ``sms_login`` key the account by the normalised address the caller typed, so an
#: unknown address is counted like a known one; the others by the user's pk, one budget per
#: account (``account_user``) shared by every re-authentication and second factor.
PROOF_BUDGETS: dict[str, tuple[str, str]] = {
    "login": ("login_ip", "login_email"),
    "sms_login": ("sms_verify_ip", "sms_verify_email"),
    "second_factor": ("2fa_ip", "account_user"),
    "sms_code": ("sms_verify_ip", "account_user"),
    "reauthentication": ("reauth_ip", "account_user"),
}

#: The answers that mean "a wrong password or code": each one is charged to both budgets.
FAILED_PROOFS: tuple[type[DualAuthError], ...] = (
    InvalidCredentials, ReauthenticationFailed, InvalidTwoFactorCode, SMSCodeInvalid, TooManyAttempts)


class guarded_check:  # noqa: N801 - used as a ``with`` statement, like a function
    """``with guarded_check(request, kind, account):`` around every check of a password or code.

    Refuses (429 ``RATE_LIMITED`` with ``Retry-After``) before the check, even of the right
    proof, once the client IP's or the account's budget of failures for ``kind``
    (:data:`PROOF_BUDGETS`) is spent. ``account`` is the account key when the caller knows it
    (the signed-in user's pk, or the normalised address of a login); on a temp-token path it is
    ``None`` and the check itself names the user (:func:`services.proofs.attempt`), whose budget
    is then read before the proof is looked at. Leaving the block with one of
    :data:`FAILED_PROOFS` charges one failure to each budget; a failure that overspends one
    (concurrent guesses) is answered 429 in its place. Successes are neither checked twice nor
    counted, and reset nothing. A cache that cannot count is a 503 (``RATELIMIT_FAIL_OPEN``).
    """

    def __init__(self, request: Any, kind: str, account: object | None = None) -> None:
        self.request = request
        self.ip_scope, self.account_scope = PROOF_BUDGETS[kind]
        self.ip = client_ip_key(request)
        self.account = None if account is None else str(account)
        self._refused = False
        self._guard = proofs.guarded_by(self)

    def _check(self, first: tuple[str, str], *more: tuple[str, str]) -> None:
        try:
            check(self.request, *first, *more)
        except DualAuthError:  # 429, or 503 from a cache that cannot answer: not a failure to count
            self._refused = True
            raise

    def admit(self, user_id: object | None) -> None:
        """:class:`services.proofs.Budget`: learn the account from the check that names it."""
        if self.account is None and user_id is not None:
            self.account = str(user_id)
            self._check((self.account_scope, self.account))

    def __enter__(self) -> guarded_check:
        pairs = [(self.ip_scope, self.ip)]
        if self.account is not None:
            pairs.append((self.account_scope, self.account))
        self._check(*pairs)  # one cache read for both
        self._guard.__enter__()
        return self

    def __exit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> Literal[False]:
        self._guard.__exit__()
        if self._refused or not isinstance(exc, FAILED_PROOFS):
            return False
        spent = [(scope, usage) for scope, value in ((self.ip_scope, self.ip), (self.account_scope, self.account))
                 if value is not None and (usage := record(self.request, scope, value)) and usage["should_limit"]]
        if spent and not isinstance(exc, RateLimited):
            raise _exceeded(*spent[0]) from None
        return False
