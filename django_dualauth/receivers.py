"""Receivers connected in ``AppConfig.ready()``."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from .models import AuthSession
from .models.sessions import RevocationReason
from .services import revocation
from .services.sessions import revoke_all_sessions


@receiver(post_save, sender=settings.AUTH_USER_MODEL, dispatch_uid="dualauth_user_deactivated")
def revoke_sessions_of_inactive_user(sender: Any, instance: Any, created: bool, **kwargs: Any) -> None:
    """Deactivating a user ends all of their sessions at once, in every revocation mode."""
    if not created and getattr(instance, "is_active", True) is False:
        revoke_all_sessions(instance, reason=RevocationReason.USER_INACTIVE)


@receiver(post_delete, sender=AuthSession, dispatch_uid="dualauth_session_deleted")
def publish_deleted_session(sender: Any, instance: AuthSession, **kwargs: Any) -> None:
    """A deleted session (user deleted, admin delete) is revoked for the cache mode too."""
    if instance.revoked_at is None:
        revocation.mark_revoked([instance.pk])
