"""Provider tokens of linked accounts: Apple's authorization-code exchange, its refresh token kept
encrypted at rest, and the token's revocation when the link or the account goes. No HTTP of its
own: the provider is reached through ``gateways`` (bounded timeouts, no redirects).

**The exchange** (:func:`.social.exchange_authorization_code`) hands over a
:class:`ProviderToken`; :func:`store` keeps its refresh token, sealed (``crypto.seal_token``),
on the :class:`LinkedAccount`.

**The revocation** (App Store guideline 5.1.1(v)): deleting a :class:`LinkedAccount` that holds a
token (an unlink; the user's deletion, whichever way, cascades to it) queues a
:class:`ProviderTokenRevocation` row *in the deleting transaction*
(:func:`queue_revocation`, from a ``post_delete`` receiver), and :func:`attempt` runs after the
commit, off the request path (``DUALAUTH_MESSAGE_DISPATCHER``): a deletion never waits on Apple,
and never fails because Apple is down. A revocation that
fails stays queued (``attempts``, ``last_error``) for ``manage.py dualauth_revoke_provider_tokens``
(:func:`retry_pending`), run from cron; a refused one (Apple's 4xx: an already revoked or foreign
token) is final and dropped. Logs and signals never carry the token.
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Literal

from django.db import transaction
from django.utils import timezone

from .. import audit, messaging
from ..conf import snapshot
from ..crypto import open_token, reseal_token, seal_token
from ..gateways import CodeExchangeRefused, ProviderUnreachable, revoke_token
from ..models import LinkedAccount, OAuthState, ProviderTokenRevocation
from ..signals import provider_token_revoked

__all__ = ["Outcome", "ProviderToken", "ResealCount", "attempt", "queue_revocation", "reseal_all", "retry_pending",
           "send", "store"]

log = logging.getLogger("django_dualauth.social")


@dataclass(frozen=True)
class ProviderToken:
    """A refresh token the provider issued to ``client_id`` (raw: held in memory only until sealed)."""

    client_id: str
    refresh_token: str


def store(provider: str, subject: str, token: ProviderToken) -> None:
    """Keep ``token`` sealed on the linked account ``provider`` + ``subject`` (inside the sign-in's
    transaction).
    A token already kept is replaced, not revoked: Apple's revocation ends the user's whole
    authorization of the app, which would void the new token too."""
    LinkedAccount.objects.filter(provider=provider, provider_account_id=subject).update(
        provider_token=seal_token(token.refresh_token), provider_token_client_id=token.client_id)


# --- revocation ------------------------------------------------------------------------------------

def queue_revocation(link: LinkedAccount) -> None:
    """Queue the revocation of the token ``link`` held, in the transaction that deletes it, and
    attempt it once that transaction commits (nothing is sent if it rolls back), off the request
    path through ``DUALAUTH_MESSAGE_DISPATCHER`` as mails are: a slow Apple never holds the
    response. The row is the durable record; the dispatched call carries only its key."""
    row = ProviderTokenRevocation.objects.create(
        provider=link.provider, client_id=link.provider_token_client_id, token=link.provider_token,
        user_id=str(link.user_id), created_at=timezone.now())
    transaction.on_commit(functools.partial(messaging.dispatch, functools.partial(attempt, row.pk)), robust=True)


#: What :func:`send` made of one queued revocation: revoked at the provider (row deleted), dropped
#: for good (refused, or its key retired: row deleted), still queued (row kept), or already gone.
Outcome = Literal["revoked", "dropped", "queued", "gone"]


def attempt(pk: Any) -> bool:
    """Send one queued revocation; True once done (revoked, or refused for good: dropped). Never
    raises for the provider's sake: a failure is logged, recorded on the row and kept."""
    return send(pk) != "queued"


def send(pk: Any) -> Outcome:
    """:func:`attempt`, saying which way it went (the admin's "Retry now" reports each count)."""
    row = ProviderTokenRevocation.objects.filter(pk=pk).first()
    if row is None:
        return "gone"
    provider = snapshot().social_providers.get(row.provider)
    error, final = "", False
    raw = open_token(row.token)
    if raw is None:
        error, final = "undecryptable", True  # its key was dropped from DUALAUTH_SOCIAL_TOKEN_KEYS
    elif provider is None or provider.client_secret_jwt is None or not provider.config.revoke_endpoint:
        error = "not_configured"
    else:
        config = provider.config
        form = {"client_id": row.client_id, "client_secret": provider.client_secret_jwt.for_client(row.client_id),
                "token": raw, "token_type_hint": "refresh_token"}
        try:
            revoke_token(config.revoke_endpoint, form, timeout=config.timeout)
        except CodeExchangeRefused as exc:
            error, final = f"refused: {exc}", True
        except ProviderUnreachable as exc:
            error = f"unavailable: {str(exc)[:120]}"
    attempts = row.attempts + 1
    if not error or final:
        row.delete()
    else:
        ProviderTokenRevocation.objects.filter(pk=row.pk).update(attempts=attempts, last_attempt_at=timezone.now(),
                                                                 last_error=error[:200])
    revoked = not error
    audit.record("auth.social.token_revoked" if revoked else "auth.social.token_revocation_failed",
                 level=logging.INFO if revoked else logging.WARNING, provider=row.provider, user=row.user_id,
                 attempts=attempts, error=error or None, queued=not (revoked or final) or None)
    provider_token_revoked.send(sender=ProviderTokenRevocation, provider=row.provider, user_id=row.user_id,
                                revoked=revoked, error=error, attempts=attempts)
    return "revoked" if revoked else "dropped" if final else "queued"


def retry_pending(*, older_than: timedelta = timedelta(0)) -> tuple[int, int]:
    """Attempt every queued revocation last tried (or queued) longer than ``older_than`` ago;
    returns (done, still pending)."""
    cutoff = timezone.now() - older_than
    done = pending = 0
    for pk in ProviderTokenRevocation.objects.filter(created_at__lte=cutoff).values_list("pk", flat=True):
        if attempt(pk):
            done += 1
        else:
            pending += 1
    return done, pending


# --- key rotation ----------------------------------------------------------------------------------

#: Every column that holds a sealed provider token: (model, column).
_SEALED = ((LinkedAccount, "provider_token"), (ProviderTokenRevocation, "token"), (OAuthState, "link_provider_token"))


@dataclass
class ResealCount:
    """What :func:`reseal_all` did: ``resealed`` under the first key, ``unreadable`` under no
    configured key (left as they are: a key was dropped too early)."""

    resealed: int = 0
    unreadable: int = 0


def reseal_all(*, dry_run: bool = False, progress: Any = None) -> ResealCount:
    """Encrypt every stored provider token again under the first of ``DUALAUTH_SOCIAL_TOKEN_KEYS``,
    so the keys after it can be removed. Row by row, each UPDATE conditional on the value read (a
    token replaced meanwhile by a sign-in is left to its new sealing). ``progress(model, done,
    total)`` is called after each table. Idempotent: a second run reseals again and changes nothing
    that matters."""
    count = ResealCount()
    for model, column in _SEALED:
        rows = model.objects.exclude(**{column: ""}).values_list("pk", column)
        total = done = 0
        for pk, sealed in rows.iterator(chunk_size=500):
            total += 1
            fresh = reseal_token(sealed)
            if fresh is None:
                count.unreadable += 1
                continue
            if not dry_run:
                done += model.objects.filter(**{"pk": pk, column: sealed}).update(**{column: fresh})
            else:
                done += 1
        count.resealed += done
        if progress is not None:
            progress(model, done, total)
    return count
