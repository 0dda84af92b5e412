"""A session is one login and one refresh-token family.

The session row holds the digest of the *current* refresh token; when it rotates, the
spent digest moves to :class:`RotatedRefreshToken` so that a replay of any ancestor is
recognised as reuse. No raw token is ever stored.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from ..types import Delivery

if TYPE_CHECKING:
    from django.contrib.auth.base_user import AbstractBaseUser


#: The admin's labels of :class:`~django_dualauth.types.Delivery`, the one list of names.
DELIVERY_CHOICES = [(Delivery.COOKIE.value, "Web (cookies)"), (Delivery.BEARER.value, "Native app (bearer)")]


class RevocationReason(models.TextChoices):
    LOGOUT = "logout", "Logout"
    LOGOUT_ALL = "logout_all", "Logout of all sessions"
    REUSE = "reuse_detected", "Refresh-token reuse detected"
    ADMIN = "admin", "Revoked by an administrator"
    USER_INACTIVE = "user_inactive", "User deactivated"
    SUPERSEDED = "superseded", "Replaced by a new login in the same browser"
    PASSWORD_CHANGED = "password_changed", "Password changed"
    FACTOR_CHANGED = "factor_changed", "Second factor added, removed or reset"
    ACCOUNT_DELETED = "account_deleted", "Account deleted by its owner"
    ACCOUNT_RECLAIMED = "account_reclaimed", "Address first proven: what was set up before it was reset"
    OTHER = "other", "Other"


class AuthSessionQuerySet(models.QuerySet["AuthSession"]):
    def active(self) -> AuthSessionQuerySet:
        now = timezone.now()
        return self.filter(revoked_at__isnull=True, expires_at__gt=now,
                           absolute_expires_at__gt=now)

    def for_user(self, user: AbstractBaseUser | int) -> AuthSessionQuerySet:
        # The stubs type `user` as the settings' model; any AUTH_USER_MODEL instance or its pk fits.
        return self.filter(user=user)  # type: ignore[misc]

    def purgeable(self, *, revoked_before: object) -> AuthSessionQuerySet:
        now = timezone.now()
        return self.filter(Q(expires_at__lte=now) | Q(absolute_expires_at__lte=now)
                           | Q(revoked_at__lte=revoked_before))


class AuthSession(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    # Indexed by dualauth_session_user_idx, whose first column it is.
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                             related_name="dualauth_sessions", db_index=False)
    delivery = models.CharField(max_length=8, choices=DELIVERY_CHOICES)
    auth_methods = models.JSONField(default=list, help_text="Authentication methods (RFC 8176 amr).")
    refresh_digest = models.CharField(max_length=64, editable=False)  # unique: see Meta
    generation = models.PositiveIntegerField(default=0, editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    last_used_at = models.DateTimeField(default=timezone.now)
    rotated_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(help_text="Idle expiry of the current refresh token.")
    absolute_expires_at = models.DateTimeField()
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=512, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_reason = models.CharField(max_length=32, blank=True, choices=RevocationReason.choices)

    objects = AuthSessionQuerySet.as_manager()

    class Meta:
        verbose_name = "session"
        # Every rotation writes a new row version into every index (the digest changes, so no
        # update is HOT): three indexes, each one a look-up needs. Uniqueness is a constraint,
        # not unique=True, which on PostgreSQL adds a second, LIKE-only index on the digest.
        # No index on an expiry: dualauth_purge walks the primary key in keyset pages instead.
        indexes = [
            models.Index(fields=["user", "revoked_at"], name="dualauth_session_user_idx"),
        ]
        constraints = [
            models.UniqueConstraint(fields=["refresh_digest"], name="dualauth_session_digest_uniq"),
        ]

    def __str__(self) -> str:
        return f"session {self.pk} ({self.delivery})"

    @property
    def is_revoked(self) -> bool:
        return self.revoked_at is not None

    def is_active(self, now: object | None = None) -> bool:
        now = now or timezone.now()
        return (self.revoked_at is None and self.expires_at > now  # type: ignore[operator]
                and self.absolute_expires_at > now)  # type: ignore[operator]


class RotatedRefreshToken(models.Model):
    """The digest of a refresh token that has been rotated away: presenting it again is reuse."""

    session = models.ForeignKey(AuthSession, on_delete=models.CASCADE,
                                related_name="rotated_tokens")
    digest = models.CharField(max_length=64, editable=False)  # unique: see Meta
    generation = models.PositiveIntegerField()
    rotated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = "rotated refresh token"
        constraints = [
            models.UniqueConstraint(fields=["digest"], name="dualauth_rotated_digest_uniq"),
        ]

    def __str__(self) -> str:
        return f"generation {self.generation} of {self.session_id}"
