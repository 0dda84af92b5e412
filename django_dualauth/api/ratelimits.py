"""Every rate limit of the package: scopes, keys and the django-ratelimit calls.

Rates come from ``DUALAUTH_RATE_LIMITS`` per request. Counters live in the cache named
by django-ratelimit's ``RATELIMIT_USE_CACHE`` (Redis in production, so that every app
process shares them). Keys are hashed by django-ratelimit; no raw e-mail is stored.
"""

from __future__ import annotations

import unicodedata
from typing import Any

from django_ratelimit.core import get_usage

from ..conf import dualauth_settings
from ..exceptions import RateLimited

__all__ = ["normalize_identifier", "hit", "check", "record"]


def normalize_identifier(value: str) -> str:
    """NFKC + casefold + strip: the one normalisation for identifier-keyed limits."""
    return unicodedata.normalize("NFKC", value).casefold().strip()


def _usage(request: Any, scope: str, value: str, *, increment: bool) -> dict[str, Any] | None:
    rate = dualauth_settings.RATE_LIMITS.get(scope)
    if not rate or not value:
        return None
    http = getattr(request, "_request", request)
    return get_usage(http, group=f"dualauth.{scope}", key=lambda group, req: value, rate=rate,
                     increment=increment)


def hit(request: Any, scope: str, value: str) -> None:
    """Count this request and refuse it (429) when over the limit."""
    usage = _usage(request, scope, value, increment=True)
    if usage and usage["should_limit"]:
        raise RateLimited(usage["time_left"])


def check(request: Any, scope: str, value: str) -> None:
    """Refuse (429) when the recorded events already reach the limit; counts nothing."""
    usage = _usage(request, scope, value, increment=False)
    if usage and (usage["should_limit"] or usage["count"] >= usage["limit"]):
        raise RateLimited(usage["time_left"])


def record(request: Any, scope: str, value: str) -> None:
    """Count an event (a failed login) without refusing this request."""
    _usage(request, scope, value, increment=True)
