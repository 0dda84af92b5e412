"""Linking by proof of the mailbox (node-auth's ``link-request`` / ``link-verify``). No HTTP.

Two ways in, one mailed token (:class:`~django_dualauth.models.LinkToken`, a keyed digest, single
use by one conditional UPDATE, void once expired, once a newer one was sent for the same identity,
and once the account's password, address or active flag changed):

- after ``OAUTH_ACCOUNT_CONFLICT``: the sign-in had proven the provider identity (a verified
  id_token) and :func:`remember_conflict` kept it as a :class:`~django_dualauth.models.PendingLink`
  keyed by a digest of provider and address. A signed-out ``link-request {email, provider}``
  (:func:`conflict_link_mail`) mails the owner of that address a token; only their click links
  the provider account, and may sign them in.
- from a session, ``provider: "email"`` (:func:`mailbox_link_mail`): the token goes to ``email``
  and, verified, records that mailbox as an ``email`` linked account of the signed-in user
  (node-auth's e-mail identity). It is listed, never a way to sign in.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import TYPE_CHECKING, Any

from django.contrib.auth import get_user_model
from django.core.mail import EmailMultiAlternatives
from django.db import IntegrityError, transaction
from django.utils import timezone

from .. import audit
from ..conf import dualauth_settings
from ..crypto import digest, equal, looks_like_secret, new_secret
from ..exceptions import LinkTokenInvalid, OAuthAccountLinkedElsewhere
from ..models import LinkedAccount, LinkToken, PendingLink
from ..signals import social_account_linked
from ..types import ClientInfo, Delivery, IssuedTokens
from . import first_proof, login
from .claims import account_state, update_account_state
from .magic_links import AMR_EMAIL
from .users import active_user_by_email, email_of, normalize_address, render_mail, state_stamp

if TYPE_CHECKING:
    from ..types import User

__all__ = ["EMAIL_PROVIDER", "conflict_link_mail", "mailbox_link_mail", "remember_conflict", "verify_link"]

#: ``link-request``'s ``provider`` for a mailbox (node-auth's default); reserved as a provider name.
EMAIL_PROVIDER = "email"
TOKEN_PURPOSE = "link_token"
KEY_PURPOSE = "pending_link"
STAMP_PURPOSE = "link_token.stamp"

log = logging.getLogger("django_dualauth.social")


def _key(provider: str, address: str) -> str:
    return digest(f"{provider}\x00{normalize_address(address).casefold()}", KEY_PURPOSE)


def remember_conflict(provider: str, subject: str, email: str) -> None:
    """Keep the identity a verified id_token proved, whose address an account already has, for
    ``DUALAUTH_LINK_TOKEN_LIFETIME``. One DELETE (this key's expired rows) and one INSERT."""
    now = timezone.now()
    key = _key(provider, email)
    PendingLink.objects.filter(key=key, expires_at__lte=now).delete()
    PendingLink.objects.create(key=key, provider=provider, provider_account_id=subject, email=email[:254],
                               created_at=now, expires_at=now + dualauth_settings.LINK_TOKEN_LIFETIME)


def conflict_link_mail(email: str, provider: str, *, client: ClientInfo) -> EmailMultiAlternatives | None:
    """The linking mail to the active account with ``email``, for the latest pending identity of
    ``provider`` with that address; ``None`` (the caller answers the same) when either is missing."""
    pending = (PendingLink.objects.filter(key=_key(provider, email), expires_at__gt=timezone.now())
               .order_by("-created_at", "-pk").first())
    if pending is None:
        return None
    user = active_user_by_email(email)
    if user is None:
        return None
    return _issue(user, pending.provider, pending.provider_account_id, pending.email, email_of(user), client)


def mailbox_link_mail(user_id: Any, email: str, *, client: ClientInfo) -> EmailMultiAlternatives | None:
    """The mail to ``email`` that links it as an ``email`` account of the user ``user_id``;
    ``None`` for an inactive or unknown user."""
    user = get_user_model()._default_manager.filter(pk=user_id).first()
    if user is None or not user.is_active:
        return None
    address = normalize_address(email)
    return _issue(user, EMAIL_PROVIDER, address.casefold(), address, address, client)


def _issue(user: User, provider: str, subject: str, provider_email: str, to: str,
           client: ClientInfo) -> EmailMultiAlternatives:
    now = timezone.now()
    raw = new_secret()
    lifetime = dualauth_settings.LINK_TOKEN_LIFETIME
    with transaction.atomic():
        # A newer mail for the same identity voids the older link.
        LinkToken.objects.filter(user_id=user.pk, provider=provider, provider_account_id=subject,
                                 consumed_at__isnull=True).update(consumed_at=now)
        LinkToken.objects.create(user_id=user.pk, token_digest=digest(raw, TOKEN_PURPOSE), provider=provider,
                                 provider_account_id=subject, provider_email=provider_email[:254], email=to[:254],
                                 stamp=state_stamp(user, STAMP_PURPOSE), created_at=now, expires_at=now + lifetime,
                                 ip_address=client.ip_address)
    url = dualauth_settings.LINK_VERIFY_URL.replace("{token}", raw)
    return render_mail("link_account", to, {
        "user": user, "url": url, "email": to, "provider": provider, "provider_email": provider_email,
        "mailbox": provider == EMAIL_PROVIDER, "lifetime_minutes": int(lifetime.total_seconds() // 60)})


def verify_link(raw: object, *, delivery: Delivery | None, client: ClientInfo,
                ) -> tuple[LinkedAccount, IssuedTokens | login.LoginChallengeIssued | None]:
    """Link the token's identity to its account; with a ``delivery``, also sign in (the session
    or the 2FA challenge, through the login module) when the token was mailed to the account's own
    address. Returns the link and the outcome (``None`` without a sign-in).

    One transaction: the token is spent by a conditional UPDATE (exactly one of any number of
    concurrent requests wins); a mailed link to the account's own address is a first proof of it
    (what was set up before goes, as after a magic link) and marks it verified. Raises
    :class:`LinkTokenInvalid` (one answer for every failure of the token) and
    :class:`OAuthAccountLinkedElsewhere` (the provider account signs in another user by now)."""
    if not looks_like_secret(raw):
        raise LinkTokenInvalid()
    now = timezone.now()
    token_digest = digest(raw, TOKEN_PURPOSE)
    outcome: IssuedTokens | login.LoginChallengeIssued | None = None
    with transaction.atomic():
        spent = LinkToken.objects.filter(token_digest=token_digest, consumed_at__isnull=True,
                                         expires_at__gt=now).update(consumed_at=now)
        token = LinkToken.objects.select_related("user", "user__dualauth_state").filter(
            token_digest=token_digest).first() if spent == 1 else None
        if token is None or not token.user.is_active or not equal(token.stamp, state_stamp(token.user,
                                                                                             STAMP_PURPOSE)):
            raise LinkTokenInvalid()
        user = token.user
        own_mailbox = normalize_address(token.email).casefold() == normalize_address(email_of(user)).casefold()
        if own_mailbox and not account_state(user).email_verified:
            first_proof.reset_before_first_proof(user, proof=first_proof.PROOF_MAGIC_LINK)
            update_account_state(user, email_verified=True)
        link, created = _link(user, token, now)
        if token.provider != EMAIL_PROVIDER:
            PendingLink.objects.filter(key=_key(token.provider, token.provider_email)).delete()
        if delivery is not None and own_mailbox:
            # The mailbox was proven, as by a magic link: the same ``amr``.
            outcome = login.sign_in(user, first_factor=AMR_EMAIL, delivery=delivery, client=client)
    if created:
        social_account_linked.send(sender=LinkedAccount, user=user, provider=link.provider,
                                   provider_account_id=link.provider_account_id, created=False, how="mailbox")
    audit.record("auth.social.linked", user=str(user.pk), provider=link.provider, how="mailbox",
                 signed_in=outcome is not None or None)
    return link, outcome


def _link(user: User, token: LinkToken, now: datetime) -> tuple[LinkedAccount, bool]:
    existing = LinkedAccount.objects.filter(provider=token.provider,
                                            provider_account_id=token.provider_account_id).first()
    if existing is not None:
        if existing.user_id != user.pk:
            raise OAuthAccountLinkedElsewhere()
        return existing, False
    try:
        with transaction.atomic():  # a savepoint: PostgreSQL aborts the transaction on a conflict
            return LinkedAccount.objects.create(
                user=user, provider=token.provider, provider_account_id=token.provider_account_id,
                email=token.provider_email, linked_at=now), True
    except IntegrityError:  # a parallel sign-in or link took it first
        raise OAuthAccountLinkedElsewhere() from None
