"""One row per e-mail address held by an account: the unique key the app owns, whatever the
user model, on which registrations and e-mail changes to one address serialise."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class EmailClaim(models.Model):
    """An address (as ``key``, a digest of its normalised form) claimed by ``user``.

    Inserted first in every registration and e-mail-change transaction: a second transaction
    claiming the same address waits for the first and then fails on the unique key. The user
    table stays the source of truth: a claim whose user no longer has the address (changed
    outside the app) is stale and is taken over; users without a claim (created before
    migration 0008, by the admin or a script) are found by the existence check that follows.
    ``user`` is empty only inside the registration transaction that inserts it.
    """

    id = models.BigAutoField(primary_key=True)
    key = models.CharField(max_length=64, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.CASCADE,
                             related_name="dualauth_email_claims")
    created_at = models.DateTimeField()

    class Meta:
        verbose_name = "e-mail address claim"
        constraints = [models.UniqueConstraint(fields=["key"], name="dualauth_email_claim_key")]

    def __str__(self) -> str:
        return f"e-mail address claim of {self.user_id}"
