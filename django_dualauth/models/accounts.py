"""Per-user account state (joined into the session query for the claims) and account-lifecycle tokens."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models


class AccountState(models.Model):
    """Optional row per user; its absence means every flag is False."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                                primary_key=True, related_name="dualauth_state")
    email_verified = models.BooleanField(default=False)
    two_factor_enabled = models.BooleanField(default=False, help_text="has a confirmed TOTP device")
    two_factor_required = models.BooleanField(
        default=False, help_text="must set up a second factor before any session (per-user policy)")
    login_provider = models.CharField(
        max_length=32, default="local",
        help_text="how the account was created: \"local\" or a sign-in provider (the loginProvider claim)")

    class Meta:
        verbose_name = "account state"

    def __str__(self) -> str:
        return f"account state of {self.user_id}"


class AccountTokenPurpose(models.TextChoices):
    VERIFY_EMAIL = "verify_email", "verify e-mail address"
    PASSWORD_RESET = "password_reset", "reset password"
    EMAIL_CHANGE = "email_change", "change e-mail address"


class AccountToken(models.Model):
    """A single-use token mailed for an account-lifecycle step, stored as a keyed digest.

    ``stamp`` is a digest of the account state the token depends on (password hash,
    address, active flag): when that state changes, every token sent before is void.
    ``email`` is the address the token was sent to (the new one for an e-mail change).
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                             related_name="dualauth_account_tokens")
    purpose = models.CharField(max_length=16, choices=AccountTokenPurpose.choices)
    token_digest = models.CharField(max_length=64, unique=True, editable=False)
    stamp = models.CharField(max_length=64, editable=False)
    email = models.EmailField(max_length=254)
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField(db_index=True)
    consumed_at = models.DateTimeField(null=True, blank=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)

    class Meta:
        verbose_name = "account token"
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.purpose} token for {self.user_id}"
