"""The second factor's own state: pending challenges and recovery codes.

TOTP devices themselves are django-otp's ``TOTPDevice``; these models hold what django-otp
does not: the temp token of a half-finished login (stored as a digest) and hashed,
single-use recovery codes (django-otp's ``StaticToken`` keeps codes in plaintext).
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models


class ChallengePurpose(models.TextChoices):
    LOGIN = "login", "second factor due"
    SETUP = "setup", "second factor must be set up"


class LoginChallenge(models.Model):
    """A login whose first factor passed and whose second is due (``purpose=login``), or
    a user whom policy forces to set up 2FA before any session (``purpose=setup``).

    The temp token handed to the client is an opaque secret; only its digest is stored. It
    is never a JWT, so no code path can mistake it for an access token.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                             related_name="dualauth_challenges")
    purpose = models.CharField(max_length=8, choices=ChallengePurpose.choices)
    token_digest = models.CharField(max_length=64, unique=True, editable=False)
    delivery = models.CharField(max_length=8)
    methods = models.JSONField(default=list, help_text="second-factor methods offered")
    first_factors = models.JSONField(default=list, help_text="amr values already proven")
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField(db_index=True)
    consumed_at = models.DateTimeField(null=True, blank=True)
    failed_attempts = models.PositiveSmallIntegerField(default=0)
    ip_address = models.GenericIPAddressField(null=True, blank=True)

    class Meta:
        verbose_name = "two-factor challenge"
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.purpose} challenge for {self.user_id}"


class RecoveryCode(models.Model):
    """One single-use recovery code, stored as a keyed digest of its normalised form."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                             related_name="dualauth_recovery_codes")
    digest = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "recovery code"

    def __str__(self) -> str:
        return f"recovery code of {self.user_id}"
