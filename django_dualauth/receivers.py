"""Receivers connected in ``AppConfig.ready()``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.conf import settings
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from .models import AuthSession, LinkedAccount
from .models.sessions import RevocationReason
from .services import revocation, social_tokens
from .services.sessions import revoke_all_sessions

if TYPE_CHECKING:
    from django.contrib.auth.base_user import AbstractBaseUser

    from .types import User


@receiver(post_save, sender=settings.AUTH_USER_MODEL, dispatch_uid="dualauth_user_deactivated")
def revoke_sessions_of_inactive_user(sender: type[AbstractBaseUser], instance: User, created: bool,
                                     **kwargs: object) -> None:
    """Deactivating a user ends all of their sessions at once, in every revocation mode."""
    if not created and getattr(instance, "is_active", True) is False:
        revoke_all_sessions(instance, reason=RevocationReason.USER_INACTIVE)


@receiver(post_delete, sender=AuthSession, dispatch_uid="dualauth_session_deleted")
def publish_deleted_session(sender: type[AuthSession], instance: AuthSession, **kwargs: object) -> None:
    """A deleted session (user deleted, admin delete) is revoked for the cache mode too."""
    if instance.revoked_at is None:
        revocation.mark_revoked([instance.pk])


@receiver(post_delete, sender=LinkedAccount, dispatch_uid="dualauth_linked_account_deleted")
def revoke_provider_token(sender: type[LinkedAccount], instance: LinkedAccount, **kwargs: object) -> None:
    """A deleted link that holds a provider token (an unlink, or its user deleted by any path:
    ``DELETE account``, the staff API, the admin) queues the token's revocation in the deleting
    transaction, sent after the commit (App Store guideline 5.1.1(v))."""
    if instance.provider_token:
        social_tokens.queue_revocation(instance)
