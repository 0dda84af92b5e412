"""Changing a user's second factors: turn 2FA off, replace the recovery codes, the admin reset.

Each change is proven by a current factor (a TOTP code, or the password), runs with the rows
locked, and revokes the user's other sessions (``DUALAUTH_TWO_FACTOR_REVOKE_OTHER_SESSIONS``).
The login steps live in :mod:`.login`, the authenticator app in :mod:`.totp`, the recovery
codes in :mod:`.recovery_codes`; their public names stay importable from here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.db import transaction

from ..conf import dualauth_settings
from ..exceptions import (
    DualAuthError,
    InvalidTwoFactorCode,
    ReauthenticationFailed,
    TwoFactorNotEnabled,
    TwoFactorRequired,
)
from ..models import AccountState, LoginChallenge, RecoveryCode, SMSDevice
from ..models.sessions import RevocationReason
from ..signals import recovery_codes_regenerated, two_factor_disabled
from . import proofs
from .claims import update_account_state
from .login import (
    TEMP_TOKEN_PURPOSE,
    TOTP,
    LoginChallengeIssued,
    begin_login,
    cancel_challenge,
    find_setup_challenge,
    finish_challenge,
    is_two_factor_required,
)
from .recovery_codes import remove_recovery_codes, replace_recovery_codes
from .sessions import revoke_all_sessions
from .totp import (
    TotpSetup,
    complete_challenge,
    complete_setup_challenge,
    confirm_totp_setup,
    has_confirmed_device,
    remove_devices,
    start_totp_setup,
    verify_reauthentication_code,
    verify_totp,
)

if TYPE_CHECKING:
    from ..types import User

__all__ = [
    "TEMP_TOKEN_PURPOSE",
    "TOTP",
    "LoginChallengeIssued",
    "TotpSetup",
    "begin_login",
    "cancel_challenge",
    "complete_challenge",
    "complete_setup_challenge",
    "confirm_totp_setup",
    "disable_two_factor",
    "find_setup_challenge",
    "finish_challenge",
    "is_two_factor_required",
    "regenerate_recovery_codes",
    "reset_two_factor",
    "start_totp_setup",
    "verify_reauthentication_code",
]


def disable_two_factor(user: User, *, totp_code: object = None, password: object = None,
                       keep_session: str | None = None) -> None:
    """Remove the user's TOTP devices and recovery codes, proven by a current code or the password.

    Raises :class:`TwoFactorRequired` when policy requires 2FA, :class:`TwoFactorNotEnabled`,
    :class:`ReauthenticationFailed` for a wrong proof, :class:`RateLimited` when throttled.
    """
    if is_two_factor_required(user):
        raise TwoFactorRequired()
    with transaction.atomic():
        outcome = _disable_locked(user, totp_code, password)
    if outcome is not None:
        raise outcome
    if dualauth_settings.TWO_FACTOR_REVOKE_OTHER_SESSIONS:
        revoke_all_sessions(user, reason=RevocationReason.FACTOR_CHANGED, keep=keep_session)
    two_factor_disabled.send(sender=AccountState, user=user, revoked_by=None, reason="disabled")


def _disable_locked(user: User, totp_code: object, password: object) -> DualAuthError | None:
    if not has_confirmed_device(user):
        return TwoFactorNotEnabled()
    if totp_code is not None:
        error = _reauthenticate(user, totp_code)
        if error is not None:
            return error
    elif not proofs.password_matches(user, password):
        return ReauthenticationFailed()
    _remove_factors(user)
    return None


def regenerate_recovery_codes(user: User, totp_code: object) -> list[str]:
    """Void the user's recovery codes and return a fresh set, proven by a current TOTP code."""
    with transaction.atomic():
        outcome = _regenerate_locked(user, totp_code)
    if isinstance(outcome, DualAuthError):
        raise outcome
    recovery_codes_regenerated.send(sender=RecoveryCode, user=user)
    return outcome


def _regenerate_locked(user: User, totp_code: object) -> list[str] | DualAuthError:
    if not has_confirmed_device(user):
        return TwoFactorNotEnabled()
    error = _reauthenticate(user, totp_code)
    if error is not None:
        return error
    return replace_recovery_codes(user)


def _reauthenticate(user: User, totp_code: object) -> DualAuthError | None:
    error = verify_totp(user, totp_code, confirmed=True)
    return ReauthenticationFailed() if isinstance(error, InvalidTwoFactorCode) else error


def reset_two_factor(user: User, *, revoked_by: Any = None) -> None:
    """Administrative reset (a lost phone): remove every factor, the verified phone included,
    and every pending challenge; revoke every session."""
    with transaction.atomic():
        _remove_factors(user)
        SMSDevice.objects.filter(user_id=user.pk).delete()
        LoginChallenge.objects.filter(user=user).delete()
    revoke_all_sessions(user, reason=RevocationReason.FACTOR_CHANGED, revoked_by=revoked_by)
    two_factor_disabled.send(sender=AccountState, user=user, revoked_by=revoked_by, reason="reset")


def _remove_factors(user: User) -> None:
    remove_devices(user)
    remove_recovery_codes(user)
    update_account_state(user, two_factor_enabled=False)
