"""Whether the caller's session began with a sign-in moments ago. No HTTP.

Some changes are allowed without a proof in the body only right after a sign-in, within
``DUALAUTH_FRESH_SIGN_IN_WINDOW`` (setting a first password). The sign-in time is the session's
(the refresh-token family's) creation: a refresh rotates the token and moves ``last_used_at``,
never ``created_at``, so refreshing cannot make an old session fresh.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from django.utils import timezone

from ..conf import dualauth_settings
from ..exceptions import ReauthenticationRequired
from ..models import AuthSession

__all__ = ["signed_in_at", "require_fresh_sign_in"]


def signed_in_at(session_id: object, user_id: int | str) -> datetime | None:
    """When the session ``session_id`` of ``user_id`` began (its sign-in), or ``None`` for a
    malformed id, another user's session, a revoked one, or none. One query."""
    try:
        pk = uuid.UUID(str(session_id))
    except ValueError:
        return None
    started: datetime | None = (AuthSession.objects.filter(pk=pk, user_id=user_id, revoked_at__isnull=True)
                                .values_list("created_at", flat=True).first())
    return started


def require_fresh_sign_in(session_id: object, user_id: int | str, *, accepted: tuple[str, ...] = ()) -> None:
    """Raise :class:`ReauthenticationRequired` (naming ``accepted``) unless the session began
    within ``DUALAUTH_FRESH_SIGN_IN_WINDOW``."""
    started = signed_in_at(session_id, user_id)
    if started is None or not timezone.now() - dualauth_settings.FRESH_SIGN_IN_WINDOW <= started:
        raise ReauthenticationRequired(accepted, "Sign in again, then make this change right away")
