"""Per-user authentication state that the token claims need, joined into the session query."""

from __future__ import annotations

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

    class Meta:
        verbose_name = "account state"

    def __str__(self) -> str:
        return f"account state of {self.user_id}"
