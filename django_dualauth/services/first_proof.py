"""Pre-account hijacking: what the first proof of an unverified address resets. No HTTP.

Anyone can register an address they do not control, with their own password, keep that
session, and add a phone or an authenticator app; when the owner of the address later signs
in by magic link or resets the password, the intruder's session and credentials would still
work (Sudhodanan & Paverd, "Pre-hijacked accounts", USENIX Security 2022). So until the address
is proven, nothing set up on the account is trusted over the mailbox: when the *first* proof of
control is a magic-link sign-in or a password reset, :func:`reset_before_first_proof` ends every
session and removes the password, the TOTP devices, the recovery codes and the phones, in the
caller's transaction, and mails the owner what was reset once it commits.

*Unverified* is ``AccountState.email_verified`` false, or no ``AccountState`` row: the same
flag as the login policy and the ``isEmailVerified`` claim. Users created before the app, by
an administrator or by a project's own sign-up count as unverified until they verify, follow a
magic link, reset the password or confirm an e-mail change, or an administrator ticks "email
verified". The normal path, ``register`` and then ``verify-email``, proves the address before
anything else and keeps the password and the factors.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

from .. import audit, messaging
from ..models import AccountState, AccountToken, AccountTokenPurpose, LoginChallenge, RecoveryCode, SMSDevice
from ..models.sessions import RevocationReason
from ..signals import account_reclaimed, two_factor_disabled
from .claims import account_state, update_account_state
from .sessions import revoke_all_sessions
from .users import email_of, render_mail

if TYPE_CHECKING:
    from ..types import User

__all__ = ["PROOF_MAGIC_LINK", "PROOF_PASSWORD_RESET", "PROOF_PROVIDER", "Reclaimed", "reset_before_first_proof"]

#: The proofs of control that need nothing set up before them (``proof`` values).
PROOF_MAGIC_LINK, PROOF_PASSWORD_RESET = "magic_link", "password_reset"
#: A sign-in provider asserted the address as verified, and linked to the account by it.
PROOF_PROVIDER = "provider"


@dataclass(frozen=True)
class Reclaimed:
    """What the first proof reset (the mail to the owner and ``account_reclaimed`` say it)."""

    proof: str
    sessions: int
    password: bool  # a usable password existed: removed (magic link) or replaced (reset)
    totp: bool  # an authenticator app (TOTP device, confirmed or pending) was removed
    recovery_codes: int
    phone: bool  # a phone (verified or pending) was removed

    @property
    def anything(self) -> bool:
        return bool(self.sessions or self.password or self.totp or self.recovery_codes or self.phone)


def reset_before_first_proof(user: User, *, proof: str) -> Reclaimed | None:
    """Reset what was set up on ``user`` before this first proof of their address.

    Call inside the transaction that consumes the proof, before marking the address verified.
    ``None`` (and nothing changes) when the address is already verified. Otherwise the user row
    is locked; every session is revoked (reason ``account_reclaimed``, signals and cache markers
    as for any revocation); the password is made unusable (after a reset the caller then sets
    the new one); TOTP devices, recovery codes, phones, pending 2FA logins and pending e-mail
    changes are removed. ``account_reclaimed`` (and ``two_factor_disabled`` when a device
    existed) is sent and the owner is mailed, after commit, when anything was reset.
    """
    if account_state(user).email_verified:
        return None
    get_user_model()._default_manager.select_for_update().filter(pk=user.pk).first()
    if AccountState.objects.filter(user_id=user.pk, email_verified=True).exists():
        return None  # a parallel proof won the lock: this one is not the first
    now = timezone.now()
    had_password = user.has_usable_password()
    if had_password:
        user.set_unusable_password()
        user.save(update_fields=["password"])
    totp = TOTPDevice.objects.filter(user_id=user.pk).delete()[0] > 0
    codes = RecoveryCode.objects.filter(user_id=user.pk).delete()[0]
    phone = SMSDevice.objects.filter(user_id=user.pk).delete()[0] > 0
    if totp or account_state(user).two_factor_enabled:
        update_account_state(user, two_factor_enabled=False)
    LoginChallenge.objects.filter(user_id=user.pk, consumed_at__isnull=True).update(consumed_at=now)
    AccountToken.objects.filter(user_id=user.pk, purpose=AccountTokenPurpose.EMAIL_CHANGE,
                                consumed_at__isnull=True).update(consumed_at=now)
    sessions = revoke_all_sessions(user, reason=RevocationReason.ACCOUNT_RECLAIMED)
    reclaimed = Reclaimed(proof=proof, sessions=sessions, password=had_password, totp=totp,
                          recovery_codes=codes, phone=phone)
    if reclaimed.anything:
        transaction.on_commit(lambda: _announce(user, reclaimed))
    return reclaimed


def _announce(user: User, reclaimed: Reclaimed) -> None:
    audit.record("auth.account.reclaimed", user=str(user.pk), proof=reclaimed.proof, sessions=reclaimed.sessions,
                 password=reclaimed.password, totp=reclaimed.totp, recovery_codes=reclaimed.recovery_codes,
                 phone=reclaimed.phone)
    if reclaimed.totp:
        two_factor_disabled.send(sender=AccountState, user=user, revoked_by=None, reason="reclaimed")
    account_reclaimed.send(sender=AccountState, user=user, reclaimed=reclaimed)
    address = email_of(user)
    if address:
        message = render_mail("account_reclaimed", address, {"user": user, "reclaimed": reclaimed,
                                                             "reset": reclaimed.proof == PROOF_PASSWORD_RESET,
                                                             "provider": reclaimed.proof == PROOF_PROVIDER})
        messaging.dispatch(message.send)
