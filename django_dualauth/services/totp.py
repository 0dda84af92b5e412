"""TOTP: an authenticator app (a django-otp device) as a second factor. No HTTP.

Codes are verified with the device row locked (``select_for_update``), so a code is
accepted once even when two requests race (django-otp records ``last_t`` but takes no lock);
django-otp's exponential throttling on the device survives new temp tokens. Drift is
pinned to 0 so the accepted window never widens past one step either side. Its backup, the
recovery codes, lives in :mod:`.recovery_codes`; the challenge it finishes, in :mod:`.login`.
"""

from __future__ import annotations

import re
from base64 import b32encode
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING
from urllib.parse import quote, urlencode

from django.db import transaction
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

from ..conf import dualauth_settings
from ..exceptions import (
    DualAuthError,
    InvalidSetupCode,
    InvalidTwoFactorCode,
    ReauthenticationFailed,
    TooManyAttempts,
    TwoFactorAlreadyEnabled,
    TwoFactorSetupNotStarted,
)
from ..models import AccountState, ChallengePurpose
from ..models.sessions import RevocationReason
from ..signals import two_factor_enabled
from ..types import ClientInfo, Delivery, IssuedTokens
from . import proofs
from .claims import account_state, update_account_state
from .login import AMR_MFA, TOTP, SecondFactor, count_failure, finish_challenge, lock_challenge, register_second_factor
from .recovery_codes import replace_recovery_codes, use_recovery_code
from .sessions import issue_session, revoke_all_sessions

if TYPE_CHECKING:
    from ..types import User

__all__ = [
    "AMR_OTP",
    "AMR_RECOVERY",
    "TotpSetup",
    "complete_challenge",
    "complete_setup_challenge",
    "confirm_totp_setup",
    "start_totp_setup",
    "verify_reauthentication_code",
    "verify_totp",
]

DEVICE_NAME = "dualauth"
#: RFC 8176 ``amr`` values recorded on the session.
AMR_OTP, AMR_RECOVERY = "otp", "recovery-code"
_CODE_RE = re.compile(r"\A[0-9]{6,8}\Z")

register_second_factor(SecondFactor(
    name=TOTP, rank=10, available=lambda user: account_state(user).two_factor_enabled))


@dataclass(frozen=True)
class TotpSetup:
    secret: str = field(repr=False)
    otpauth_url: str = field(repr=False)


def _otpauth_url(device: TOTPDevice) -> str:
    issuer = dualauth_settings.TOTP_ISSUER.replace(":", "")
    label = f"{issuer}:{device.user.get_username()}"
    params = urlencode({"secret": _b32(device.bin_key), "issuer": issuer, "algorithm": "SHA1",
                        "digits": device.digits, "period": device.step}, quote_via=quote)
    return f"otpauth://totp/{quote(label)}?{params}"


def _b32(key: bytes) -> str:
    return b32encode(key).decode("ascii").rstrip("=")


def start_totp_setup(user: User) -> TotpSetup:
    """Create (or replace) the user's unconfirmed TOTP device; the secret stays server-side.

    Raises :class:`TwoFactorAlreadyEnabled` when a confirmed device exists: replacing a
    factor needs the old one (disable first), so a stolen access token cannot swap it.
    """
    with transaction.atomic():
        if TOTPDevice.objects.filter(user=user, confirmed=True).exists():
            raise TwoFactorAlreadyEnabled()
        TOTPDevice.objects.filter(user=user, confirmed=False).delete()
        device = TOTPDevice.objects.create(user=user, name=DEVICE_NAME, confirmed=False, tolerance=1)
    return TotpSetup(secret=_b32(device.bin_key), otpauth_url=_otpauth_url(device))


def has_confirmed_device(user: User) -> bool:
    return bool(TOTPDevice.objects.filter(user=user, confirmed=True).exists())


def remove_devices(user: User) -> None:
    TOTPDevice.objects.filter(user=user).delete()


def verify_totp(user: User, code: object, *, confirmed: bool) -> DualAuthError | None:
    """Verify ``code`` against the user's device, the row locked; call inside ``atomic``.

    Returns (never raises) :class:`InvalidTwoFactorCode` (wrong, replayed or malformed; the
    device's throttle counts it), :class:`TooManyAttempts` (throttled) or
    :class:`TwoFactorSetupNotStarted` (no unconfirmed device); ``None`` on success.
    """
    proofs.attempt(user.pk)
    device = (TOTPDevice.objects.select_for_update().filter(user=user, confirmed=confirmed)
              .order_by("-pk").first())
    if device is None:
        return TwoFactorSetupNotStarted() if not confirmed else InvalidTwoFactorCode()
    allowed, info = device.verify_is_allowed()
    if not allowed:
        locked_until = (info or {}).get("locked_until")
        wait = (locked_until - timezone.now()).total_seconds() if locked_until else 1
        return TooManyAttempts(int(wait) + 1, "Too many wrong codes; wait before trying again")
    token = code.replace(" ", "") if isinstance(code, str) else ""
    if not _CODE_RE.match(token):
        device.throttle_increment(commit=True)  # malformed codes count as failures too
        return InvalidTwoFactorCode()
    device.drift = 0  # never let a past drift widen the accepted window
    if not device.verify_token(token):  # checks last_t (no replay) and throttles failures
        return InvalidTwoFactorCode()
    if device.drift:
        device.drift = 0
        device.save(update_fields=["drift"])
    return None


def verify_reauthentication_code(user: User, code: object) -> None:
    """Re-authenticate ``user`` with a current code of their confirmed TOTP device (the row
    locked, so a code is accepted once). Raises :class:`ReauthenticationFailed` (wrong, replayed
    or no device) or :class:`RateLimited` (throttled); the throttle count is committed."""
    with transaction.atomic():
        error = verify_totp(user, code, confirmed=True)
    if isinstance(error, InvalidTwoFactorCode):
        raise ReauthenticationFailed()
    if error is not None:
        raise error


# --- enrolment -------------------------------------------------------------------------------

def confirm_totp_setup(user: User, code: object, *, keep_session: str | None = None) -> list[str]:
    """Confirm the pending device with a code from it; returns fresh recovery codes (shown once).

    Revokes the user's other sessions (``DUALAUTH_TWO_FACTOR_REVOKE_OTHER_SESSIONS``), keeping
    ``keep_session``; sends ``two_factor_enabled``.
    """
    with transaction.atomic():
        codes = _confirm_locked(user, code)
    if isinstance(codes, DualAuthError):
        raise codes
    if dualauth_settings.TWO_FACTOR_REVOKE_OTHER_SESSIONS:
        revoke_all_sessions(user, reason=RevocationReason.FACTOR_CHANGED, keep=keep_session)
    two_factor_enabled.send(sender=AccountState, user=user)
    return codes


def _confirm_locked(user: User, code: object) -> list[str] | DualAuthError:
    error = verify_totp(user, code, confirmed=False)
    if isinstance(error, InvalidTwoFactorCode):
        return InvalidSetupCode()
    if error is not None:
        return error
    TOTPDevice.objects.filter(user=user, confirmed=False).update(confirmed=True)
    update_account_state(user, two_factor_enabled=True)
    return replace_recovery_codes(user)


def complete_setup_challenge(raw: object, code: object, *, delivery: Delivery,
                             client: ClientInfo) -> tuple[IssuedTokens, list[str]]:
    """Confirm the device of a user logging in under a setup challenge, then start the session."""
    now = timezone.now()
    with transaction.atomic():
        outcome = _complete_setup_locked(raw, code, delivery, client, now)
    if isinstance(outcome, DualAuthError):
        raise outcome
    tokens, codes = outcome
    two_factor_enabled.send(sender=AccountState, user=tokens.user)
    return tokens, codes


def _complete_setup_locked(raw: object, code: object, delivery: Delivery, client: ClientInfo,
                           now: datetime) -> tuple[IssuedTokens, list[str]] | DualAuthError:
    challenge = lock_challenge(raw, ChallengePurpose.SETUP, delivery, now)
    if isinstance(challenge, DualAuthError):
        return challenge
    codes = _confirm_locked(challenge.user, code)
    if isinstance(codes, InvalidTwoFactorCode):
        return count_failure(challenge, now, codes)
    if isinstance(codes, DualAuthError):
        return codes
    challenge.consumed_at = now
    challenge.save(update_fields=["consumed_at"])
    if dualauth_settings.TWO_FACTOR_REVOKE_OTHER_SESSIONS:
        revoke_all_sessions(challenge.user, reason=RevocationReason.FACTOR_CHANGED)
    tokens = issue_session(challenge.user, delivery=delivery, client=client,
                           methods=[*challenge.first_factors, AMR_OTP, AMR_MFA])
    return tokens, codes


# --- the second step of a login --------------------------------------------------------------

def complete_challenge(raw: object, *, delivery: Delivery, client: ClientInfo,
                       totp_code: object = None, recovery_code: object = None) -> IssuedTokens:
    """Finish a two-step login with a TOTP code or a recovery code; returns the new session.

    Raises :class:`TempTokenInvalid`, :class:`InvalidTwoFactorCode` (wrong or replayed code;
    counted on the challenge) or :class:`RateLimited` (device throttled, or this failure
    killed the challenge). A device-throttled attempt counts on the challenge too.
    """
    if totp_code is not None:
        return finish_challenge(
            raw, offered=TOTP, method=TOTP, amr=AMR_OTP, counted=(DualAuthError,), delivery=delivery,
            client=client, check=lambda challenge, now: verify_totp(challenge.user, totp_code, confirmed=True))
    return finish_challenge(
        raw, offered=TOTP, method=AMR_RECOVERY, amr=AMR_RECOVERY, counted=(DualAuthError,), delivery=delivery,
        client=client, check=lambda challenge, now: use_recovery_code(challenge.user, recovery_code, now))
