"""Passwordless credentials: magic links and SMS phone devices. Secrets are stored
only as keyed digests."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django_otp.models import Device, ThrottlingMixin


class MagicLinkPurpose(models.TextChoices):
    LOGIN = "login", "log in"
    TWO_FACTOR = "2fa", "second factor"


class MagicLink(models.Model):
    """One e-mailed link. Single use, short-lived, void once a newer link of the same purpose
    is sent, and void when the user's password, e-mail address or active flag changed since
    (``stamp`` is a digest of that state)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                             related_name="dualauth_magic_links")
    purpose = models.CharField(max_length=8, choices=MagicLinkPurpose.choices)
    token_digest = models.CharField(max_length=64, unique=True, editable=False)
    challenge = models.ForeignKey("dualauth.LoginChallenge", null=True, blank=True, on_delete=models.CASCADE,
                                  related_name="magic_links", help_text="the pending login a 2FA link completes")
    stamp = models.CharField(max_length=64, editable=False)
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField(db_index=True)
    consumed_at = models.DateTimeField(null=True, blank=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True, help_text="who asked for it")

    class Meta:
        verbose_name = "magic link"
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.purpose} link for {self.user_id}"


class SMSDevice(ThrottlingMixin, Device):  # type: ignore[misc]  # django-otp ships no types
    """A phone number able to receive one-time codes: a django-otp device.

    ``confirmed`` becomes true only after the user typed a code sent to it, so an unverified
    number is never used to log in. The current code is stored as a keyed digest with its
    expiry and attempt count; sending a new code voids the previous one.
    """

    number = models.CharField(max_length=16, help_text="E.164, e.g. +14155550123")
    code_digest = models.CharField(max_length=64, blank=True, editable=False)
    code_expires_at = models.DateTimeField(null=True, blank=True)
    code_attempts = models.PositiveSmallIntegerField(default=0)
    last_sent_at = models.DateTimeField(null=True, blank=True)

    #: django-otp's delay factor (1, 2, 4 ... seconds times this after wrong codes); the
    #: service layer sets it from ``DUALAUTH_SMS_THROTTLE_FACTOR`` (models read no settings).
    throttle_factor = 1

    class Meta(Device.Meta):  # type: ignore[misc]
        verbose_name = "SMS device"

    def get_throttle_factor(self) -> int:
        return self.throttle_factor
