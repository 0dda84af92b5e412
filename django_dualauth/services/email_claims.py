"""One account per address under concurrency, for any user model: registrations and e-mail
changes claim the address in a table this app owns (:class:`EmailClaim`) before they look for
the address in the user table. No HTTP.

The app cannot add a unique constraint to the project's user model (``auth.User`` has none on
``email``). So two transactions registering ``race@example.com`` and ``RACE@example.com`` at the
same moment both found the address free and both created a user. A claim's unique key makes
the second transaction wait for the first and then fail: exactly one wins, on PostgreSQL and on
SQLite, whatever the isolation a transaction saw before. The insert is also the transaction's
first statement, so on SQLite it takes the write lock before any read (no lock upgrade, which
SQLite refuses with "database is locked" under concurrency).
"""

from __future__ import annotations

import hashlib
import unicodedata
from typing import TYPE_CHECKING

from django.db import IntegrityError, transaction
from django.utils import timezone

from ..exceptions import EmailTaken
from ..models import EmailClaim
from .users import email_of

if TYPE_CHECKING:
    from ..types import User

__all__ = ["address_key", "bind_claim", "claim_address", "release_other_claims"]


def address_key(email: str) -> str:
    """The claim key of an address: a SHA-256 (fixed length; no second copy of the address) of
    its NFKC form, upper-cased and then case-folded. That folds at least as much as the
    case-insensitive look-up of PostgreSQL and SQLite (PostgreSQL's ``UPPER`` makes the dotless
    ``ı`` an ``I``, which ``casefold`` alone keeps apart from ``i``): two addresses that one
    look-up would find together share a key, so they cannot both be registered."""
    folded = unicodedata.normalize("NFKC", email.strip()).upper().casefold()
    return hashlib.sha256(folded.encode()).hexdigest()


def claim_address(email: str, user: User | None = None) -> str:
    """Claim ``email`` for ``user`` (``None`` while registering). Call inside ``atomic``, before
    the existence check; returns the key. Raises :class:`EmailTaken` when another account holds
    the address or another transaction claimed it first and committed.

    A claim whose user no longer has the address (changed by the admin or a script, which do
    not pass through here) is stale: it is locked and handed over, so it never blocks the
    address for good. Under concurrency only one transaction takes it over; the others then
    find it held.
    """
    key = address_key(email)
    try:
        with transaction.atomic():  # a savepoint: PostgreSQL aborts the transaction on a conflict
            EmailClaim.objects.create(key=key, user=user, created_at=timezone.now())
        return key
    except IntegrityError:
        pass
    # The holder committed (PostgreSQL made us wait for it). A claim this transaction cannot see
    # (a snapshot older than the holder's commit) is treated as held.
    claim = EmailClaim.objects.select_for_update(of=("self",)).select_related("user").filter(key=key).first()
    holder = None if claim is None else claim.user
    if claim is None or (holder is not None and holder.pk != getattr(user, "pk", None)
                         and address_key(email_of(holder)) == key):
        raise EmailTaken()
    claim.user = user
    claim.save(update_fields=["user"])
    return key


def bind_claim(key: str, user: User) -> None:
    """Give the claim inserted by :func:`claim_address` (without a user) to the user just created."""
    EmailClaim.objects.filter(key=key).update(user=user)


def release_other_claims(user: User, key: str) -> None:
    """Drop the user's claims on addresses other than ``key`` (after a change of address)."""
    EmailClaim.objects.filter(user_id=user.pk).exclude(key=key).delete()
