"""``sessions/cleanup``: a user deletes their own ended sessions, except the evidence. No HTTP.

A session row that ended through its owner's ordinary action (a logout, a logout of every
device, a new sign-in in the same browser) or that simply expired unrevoked tells nothing an
investigation needs, so its owner may clear it from the device list. A row revoked for any
other reason stays until ``dualauth_purge``'s retention (``--revoked-days``) removes it: reuse
detection, a staff revocation, a deactivation, a password or factor change, a reclaimed
address. Those are what a theft leaves behind; whoever holds a stolen access token must not be
able to wipe them, and a user reviewing an incident needs them.
"""

from __future__ import annotations

from django.db.models import Q
from django.utils import timezone

from .. import audit
from ..models import AuthSession
from ..models.sessions import RevocationReason
from ..types import UserRef

__all__ = ["CLEARABLE_REASONS", "delete_ended_sessions"]

#: Revocations the owner may clear: their own ordinary endings, nothing to investigate.
CLEARABLE_REASONS: frozenset[str] = frozenset({
    RevocationReason.LOGOUT, RevocationReason.LOGOUT_ALL, RevocationReason.SUPERSEDED})


def delete_ended_sessions(user: UserRef, *, current: str | None) -> int:
    """Delete ``user``'s sessions that expired unrevoked or were revoked for a
    :data:`CLEARABLE_REASONS` reason; never ``current`` (the caller's session id), never another
    user's. Returns how many sessions were deleted (their spent tokens go with them)."""
    now = timezone.now()
    expired = Q(expires_at__lte=now) | Q(absolute_expires_at__lte=now)
    ended = (Q(revoked_at__isnull=True) & expired) | Q(revoked_at__isnull=False,
                                                       revoked_reason__in=CLEARABLE_REASONS)
    doomed = AuthSession.objects.filter(ended, user_id=user.pk)  # by pk: a TokenUser will do
    if current is not None:
        doomed = doomed.exclude(pk=current)
    _, per_model = doomed.delete()
    deleted = per_model.get(AuthSession._meta.label, 0)
    audit.record("auth.sessions.cleaned", user=str(user.pk), deleted=deleted)
    return deleted
