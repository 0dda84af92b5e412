"""Social sign-in: the provider accounts linked to users, and the single-use nonces of sign-ins."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models


class LinkedAccount(models.Model):
    """A provider account (``provider`` + its ``sub``) that signs a user in.

    ``provider`` is the configured name (``DUALAUTH_SOCIAL_PROVIDERS``), ``provider_account_id``
    the id_token's ``sub`` (stable per provider; never the e-mail, which can change hands).
    ``email`` is the address the provider last asserted, for display only.

    ``provider_token`` is the provider's refresh token (Apple's, from the code exchange),
    **encrypted** (``crypto.seal_token``: Fernet under ``DUALAUTH_SOCIAL_TOKEN_KEYS``), never
    raw; ``provider_token_client_id`` the client id it was issued to (Apple's revocation names
    it). Deleting the row (an unlink, the user's deletion) queues its revocation
    (:class:`ProviderTokenRevocation`).
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                             related_name="dualauth_linked_accounts")
    provider = models.CharField(max_length=32)
    provider_account_id = models.CharField(max_length=255)
    email = models.CharField(max_length=254, blank=True)
    linked_at = models.DateTimeField()
    last_used_at = models.DateTimeField(null=True, blank=True)
    provider_token = models.TextField(blank=True, default="")
    provider_token_client_id = models.CharField(max_length=255, blank=True, default="")

    class Meta:
        verbose_name = "linked account"
        constraints = [models.UniqueConstraint(fields=["provider", "provider_account_id"],
                                               name="dualauth_linked_account_unique")]
        indexes = [models.Index(fields=["user"], name="dualauth_linked_user_idx")]

    def __str__(self) -> str:
        return f"{self.provider} account of {self.user_id}"


class OAuthNoncePurpose(models.TextChoices):
    NATIVE = "native", "native id_token exchange"
    #: Reserved for the redirect flow (state, PKCE verifier and return URL live in its own row).
    REDIRECT = "redirect", "redirect flow"


class OAuthNonce(models.Model):
    """A nonce handed out for one sign-in with ``provider``, stored as a keyed digest.

    Used once: the exchange consumes it with one conditional UPDATE (``consumed_at IS NULL AND
    expires_at > now``), which exactly one of any number of concurrent requests wins, in any
    number of processes.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    provider = models.CharField(max_length=32)
    purpose = models.CharField(max_length=16, choices=OAuthNoncePurpose.choices, default=OAuthNoncePurpose.NATIVE)
    digest = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField(db_index=True)
    consumed_at = models.DateTimeField(null=True, blank=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)

    class Meta:
        verbose_name = "sign-in nonce"

    def __str__(self) -> str:
        return f"{self.provider} nonce {self.pk}"


class OAuthFlow(models.TextChoices):
    WEB = "web", "web (cookie session)"
    APP = "app", "native app (one-time code)"
    #: Linking from a signed-in session (``POST oauth/<provider>/link/start``): no session is issued.
    LINK = "link", "link to the signed-in account"


class OAuthState(models.Model):
    """One redirect-flow sign-in, from ``GET oauth/<provider>`` to its callback (and, for an app,
    to the redemption of its one-time code).

    Only digests are stored: of the ``state`` (the look-up key), of the value of the browser's
    binding cookie, and of the app's one-time code. The PKCE verifier and the nonce are derived
    from the raw state (``crypto.derive_secret``), so neither is stored. Each step spends the row
    with one conditional UPDATE (``consumed_at``, then ``code_consumed_at``), which exactly one of
    any number of concurrent requests wins.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    provider = models.CharField(max_length=32)
    state_digest = models.CharField(max_length=64, unique=True)
    browser_digest = models.CharField(max_length=64)
    flow = models.CharField(max_length=8, choices=OAuthFlow.choices)
    return_url = models.CharField(max_length=2048)
    app_code_challenge = models.CharField(max_length=128, blank=True)
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField(db_index=True)
    consumed_at = models.DateTimeField(null=True, blank=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    # The app flow's one-time code, set by a successful callback. In the link flow, ``user`` is the
    # signed-in account from the start, and the code_* fields hold the single-use link ticket that
    # the browser brings to ``GET oauth/<provider>`` (where the binding cookie is planted).
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, null=True, blank=True,
                             related_name="+")
    code_digest = models.CharField(max_length=64, null=True, blank=True, unique=True)
    code_expires_at = models.DateTimeField(null=True, blank=True)
    code_consumed_at = models.DateTimeField(null=True, blank=True)
    #: The link flow's session (``AuthSession`` id): it must still be live at the callback.
    link_session_id = models.UUIDField(null=True, blank=True)
    # An app's link flow (``app_code_challenge`` set): the callback links nothing but keeps the
    # verified identity here, and the code_* fields then hold the one-time code that the app
    # redeems at ``oauth/<provider>/link/finish`` from the session that started the link.
    # ``link_provider_token`` is the provider's refresh token, sealed (``crypto.seal_token``).
    link_subject = models.CharField(max_length=255, blank=True, default="")
    link_email = models.CharField(max_length=254, blank=True, default="")
    link_email_verified = models.BooleanField(default=False)
    link_provider_token = models.TextField(blank=True, default="")
    link_provider_token_client_id = models.CharField(max_length=255, blank=True, default="")

    class Meta:
        verbose_name = "redirect-flow state"

    def __str__(self) -> str:
        return f"{self.provider} {self.flow} sign-in {self.pk}"


class PendingLink(models.Model):
    """A provider identity proven by a verified id_token whose address an account already had
    (the ``OAUTH_ACCOUNT_CONFLICT`` answer), kept for ``link-request`` to mail that account's owner.

    ``key`` is a keyed digest of the provider name and the normalised address, so the table holds
    no look-up by raw address. It links nothing by itself: only the owner's click on the mailed
    link does (:class:`LinkToken`).
    """

    key = models.CharField(max_length=64, db_index=True)
    provider = models.CharField(max_length=32)
    provider_account_id = models.CharField(max_length=255)
    email = models.CharField(max_length=254, blank=True)
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField(db_index=True)

    class Meta:
        verbose_name = "pending link"

    def __str__(self) -> str:
        return f"pending {self.provider} link {self.pk}"


class LinkToken(models.Model):
    """A mailed, single-use token (stored as a keyed digest) that links ``provider`` +
    ``provider_account_id`` to ``user`` once the mailbox's owner POSTs it to ``link-verify``.

    Spent by one conditional UPDATE; void once expired or once the account state it was issued
    against changed (``stamp``: password, address, active flag).
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                             related_name="dualauth_link_tokens")
    token_digest = models.CharField(max_length=64, unique=True)
    provider = models.CharField(max_length=32)
    provider_account_id = models.CharField(max_length=255)
    provider_email = models.CharField(max_length=254, blank=True)
    #: The address the token was mailed to (the account's own, or the mailbox linked as ``email``).
    email = models.CharField(max_length=254)
    stamp = models.CharField(max_length=64)
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField(db_index=True)
    consumed_at = models.DateTimeField(null=True, blank=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)

    class Meta:
        verbose_name = "link token"
        indexes = [models.Index(fields=["user"], name="dualauth_link_token_user_idx")]

    def __str__(self) -> str:
        return f"{self.provider} link token {self.pk}"


class ProviderTokenRevocation(models.Model):
    """A provider refresh token to revoke at the provider (Apple's ``auth/revoke``), queued in the
    transaction that deleted its linked account and tried after the commit.

    ``token`` is encrypted as on :class:`LinkedAccount`. A successful revocation deletes the row;
    a failed one (the provider down) keeps it, with ``attempts`` and ``last_error`` (the
    provider's error code or the failure's kind, never the token), for
    ``manage.py dualauth_revoke_provider_tokens`` to retry. ``user_id`` is the former owner's
    primary key as text, for the audit trail only (the user may be gone).
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    provider = models.CharField(max_length=32)
    client_id = models.CharField(max_length=255)
    token = models.TextField()
    user_id = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField()
    attempts = models.PositiveIntegerField(default=0)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=200, blank=True)

    class Meta:
        verbose_name = "pending provider token revocation"

    def __str__(self) -> str:
        return f"{self.provider} token revocation {self.pk}"
