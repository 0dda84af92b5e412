"""The second factor: TOTP devices (django-otp), recovery codes and the two-step login. No HTTP.

A login whose first factor passed either gets a session at once, or a *challenge*: an
opaque temp token (stored as a digest) that only :func:`complete_challenge` accepts, for a
few minutes, once, for the methods it names and the delivery it started with. A user whom
policy forces to use 2FA but who has none gets a *setup* challenge that only the setup
endpoints accept.

TOTP codes are verified with the device row locked (``select_for_update``), so a code is
accepted once even when two requests race (django-otp records ``last_t`` but takes no lock);
django-otp's exponential throttling on the device survives new temp tokens. Drift is
pinned to 0 so the accepted window never widens past one step either side.
"""

from __future__ import annotations

import re
import secrets
from base64 import b32encode
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import quote, urlencode

from django.db import transaction
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

from ..conf import dualauth_settings
from ..crypto import digest, digests, looks_like_secret, new_secret
from ..exceptions import (
    DualAuthError,
    InvalidSetupCode,
    InvalidTwoFactorCode,
    ReauthenticationFailed,
    TempTokenInvalid,
    TooManyAttempts,
    TwoFactorAlreadyEnabled,
    TwoFactorNotEnabled,
    TwoFactorRequired,
    TwoFactorSetupNotStarted,
)
from ..models import AccountState, ChallengePurpose, LoginChallenge, RecoveryCode, SMSDevice
from ..models.sessions import RevocationReason
from ..signals import (
    recovery_codes_regenerated,
    two_factor_disabled,
    two_factor_enabled,
    two_factor_failed,
)
from ..types import ClientInfo, IssuedTokens
from . import proofs
from .account_tokens import check_email_policy
from .claims import account_state, update_account_state
from .sessions import issue_session, revoke_all_sessions

__all__ = [
    "LoginChallengeIssued",
    "TotpSetup",
    "begin_login",
    "cancel_challenge",
    "complete_challenge",
    "finish_challenge",
    "complete_setup_challenge",
    "confirm_totp_setup",
    "disable_two_factor",
    "find_setup_challenge",
    "is_two_factor_required",
    "regenerate_recovery_codes",
    "reset_two_factor",
    "start_totp_setup",
    "verify_reauthentication_code",
]

TEMP_TOKEN_PURPOSE = "temp_token"
RECOVERY_PURPOSE = "recovery_code"
DEVICE_NAME = "dualauth"
TOTP, SMS, MAGIC_LINK = "totp", "sms", "magic-link"
#: A first factor's amr value -> the second-factor method on the same channel (never offered twice).
_SAME_CHANNEL = {"email": MAGIC_LINK, "sms": SMS}
#: RFC 8176 ``amr`` values recorded on the session.
AMR_OTP, AMR_MFA, AMR_RECOVERY = "otp", "mfa", "recovery-code"
# Crockford-like alphabet: no 0/O or 1/I to misread. 16 characters = 80 bits.
_RECOVERY_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
_RECOVERY_RE = re.compile(r"\A[A-Z2-9]{16}\Z")
_CODE_RE = re.compile(r"\A[0-9]{6,8}\Z")


@dataclass(frozen=True)
class LoginChallengeIssued:
    """The first factor passed; the client must complete a second step with ``temp_token``."""

    temp_token: str = field(repr=False)
    methods: list[str]
    setup_required: bool = False


@dataclass(frozen=True)
class TotpSetup:
    secret: str = field(repr=False)
    otpauth_url: str = field(repr=False)


# --- policy and challenges ------------------------------------------------------------------

def is_two_factor_required(user: Any) -> bool:
    return dualauth_settings.REQUIRE_2FA or account_state(user).two_factor_required


def _strong_methods(user: Any) -> list[str]:
    """Second factors that satisfy a 2FA policy: an authenticator app or a verified phone."""
    methods = [TOTP] if account_state(user).two_factor_enabled else []
    if dualauth_settings.SMS_ENABLED:
        from .sms import has_verified_phone  # only when the feature is on: one query

        if has_verified_phone(user):
            methods.append(SMS)
    return methods


def offered_methods(user: Any, first_factors: Sequence[str] = ("pwd",)) -> list[str]:
    """The methods a challenge offers, minus the channel the first factor already used.

    A magic link is offered as an alternative when the feature is on, but an e-mail
    link alone never satisfies a 2FA policy (NIST 800-63B §5.1.3.1).
    """
    methods = _strong_methods(user)
    if (dualauth_settings.MAGIC_LINK_ENABLED and dualauth_settings.MAGIC_LINK_SECOND_FACTOR
            and getattr(user, user.get_email_field_name(), "")):
        methods.append(MAGIC_LINK)
    used = {_SAME_CHANNEL.get(f) for f in first_factors}
    return [m for m in methods if m not in used]


def begin_login(user: Any, *, delivery: str, client: ClientInfo,
                first_factors: Sequence[str] = ("pwd",)) -> LoginChallengeIssued | None:
    """Decide what a verified first factor gets: ``None`` (issue a session now) or a challenge.

    Every log-in method passes here, so the e-mail verification policy applies to all of them
    (raises :class:`EmailNotVerified` / :class:`EmailVerificationRequired`).

    One query for a user without 2FA (the :class:`AccountState`, then cached on ``user``
    for the claims).
    """
    check_email_policy(user)
    if not (account_state(user).two_factor_enabled or is_two_factor_required(user)):
        return None
    methods = offered_methods(user, first_factors)
    if any(m != MAGIC_LINK for m in methods):
        raw = _new_challenge(user, ChallengePurpose.LOGIN, delivery, methods, first_factors, client)
        return LoginChallengeIssued(temp_token=raw, methods=methods)
    raw = _new_challenge(user, ChallengePurpose.SETUP, delivery, [TOTP], first_factors, client)
    return LoginChallengeIssued(temp_token=raw, methods=[TOTP], setup_required=True)


def _new_challenge(user: Any, purpose: str, delivery: str, methods: list[str],
                   first_factors: Sequence[str], client: ClientInfo) -> str:
    now = timezone.now()
    raw = new_secret()
    LoginChallenge.objects.create(
        user=user, purpose=purpose, token_digest=digest(raw, TEMP_TOKEN_PURPOSE), delivery=delivery,
        methods=methods, first_factors=list(first_factors), created_at=now,
        expires_at=now + dualauth_settings.TEMP_TOKEN_LIFETIME, ip_address=client.ip_address)
    return raw


def lock_challenge(raw: object, purpose: str, delivery: str | None,
                      now: datetime) -> LoginChallenge | TempTokenInvalid:
    if not looks_like_secret(raw):
        return TempTokenInvalid()
    challenge = (LoginChallenge.objects.select_related("user").select_for_update(of=("self",))
                 .filter(token_digest__in=digests(raw, TEMP_TOKEN_PURPOSE)).order_by().first())
    if (challenge is None or challenge.purpose != purpose or challenge.consumed_at is not None
            or challenge.expires_at <= now or not challenge.user.is_active
            or challenge.failed_attempts >= dualauth_settings.TWO_FACTOR_MAX_ATTEMPTS
            or (delivery is not None and challenge.delivery != delivery)):
        return TempTokenInvalid()
    return challenge


def count_failure(challenge: LoginChallenge, now: datetime, error: DualAuthError) -> DualAuthError:
    """Count a wrong code on the challenge; the last allowed failure kills it (429)."""
    challenge.failed_attempts += 1
    fields = ["failed_attempts"]
    if challenge.failed_attempts >= dualauth_settings.TWO_FACTOR_MAX_ATTEMPTS:
        challenge.consumed_at = now
        fields.append("consumed_at")
        error = TooManyAttempts(int(dualauth_settings.TEMP_TOKEN_LIFETIME.total_seconds()),
                                "Too many wrong codes; log in again")
    challenge.save(update_fields=fields)
    return error


#: Proves a second factor for a locked challenge: ``None`` on success, else the error.
SecondFactorCheck = Callable[[LoginChallenge, datetime], DualAuthError | None]


def finish_challenge(raw: object, *, offered: str, method: str, amr: str, check: SecondFactorCheck,
                     counted: tuple[type[DualAuthError], ...], delivery: str, client: ClientInfo) -> IssuedTokens:
    """Finish a pending login whose challenge offers ``offered``; returns the new session.

    ``check`` runs inside the transaction, with the challenge row locked. Its errors of a
    ``counted`` type count on the challenge (the last allowed one kills it: 429) and send
    ``two_factor_failed``; any other error passes through. Raises :class:`TempTokenInvalid`
    for an unknown, expired, used or dead temp token, another delivery, or a method the
    challenge did not offer. The session records ``amr`` = first factors + ``amr`` + "mfa".
    """
    now = timezone.now()
    with transaction.atomic():
        # Failures are returned, not raised, so that the attempt counters are committed.
        outcome = _finish_locked(raw, offered, amr, check, counted, delivery, client, now)
    if isinstance(outcome, tuple):
        error, user = outcome
        two_factor_failed.send(sender=LoginChallenge, user=user, method=method, ip_address=client.ip_address)
        raise error
    if isinstance(outcome, DualAuthError):
        raise outcome
    return outcome


def _finish_locked(raw: object, offered: str, amr: str, check: SecondFactorCheck,
                   counted: tuple[type[DualAuthError], ...], delivery: str, client: ClientInfo,
                   now: datetime) -> IssuedTokens | DualAuthError | tuple[DualAuthError, Any]:
    challenge = lock_challenge(raw, ChallengePurpose.LOGIN, delivery, now)
    if isinstance(challenge, DualAuthError) or offered not in challenge.methods:
        return TempTokenInvalid()
    error = check(challenge, now)
    if isinstance(error, counted):
        return count_failure(challenge, now, error), challenge.user
    if error is not None:
        return error
    challenge.consumed_at = now
    challenge.save(update_fields=["consumed_at"])
    return issue_session(challenge.user, delivery=delivery, client=client,
                         methods=[*challenge.first_factors, amr, AMR_MFA])


def complete_challenge(raw: object, *, delivery: str, client: ClientInfo,
                       totp_code: object = None, recovery_code: object = None) -> IssuedTokens:
    """Finish a two-step login with a TOTP code or a recovery code; returns the new session.

    Raises :class:`TempTokenInvalid`, :class:`InvalidTwoFactorCode` (wrong or replayed code;
    counted on the challenge) or :class:`RateLimited` (device throttled, or this failure
    killed the challenge). A device-throttled attempt counts on the challenge too.
    """
    if totp_code is not None:
        return finish_challenge(
            raw, offered=TOTP, method=TOTP, amr=AMR_OTP, counted=(DualAuthError,), delivery=delivery,
            client=client, check=lambda challenge, now: _verify_totp(challenge.user, totp_code, confirmed=True))
    return finish_challenge(
        raw, offered=TOTP, method="recovery-code", amr=AMR_RECOVERY, counted=(DualAuthError,), delivery=delivery,
        client=client, check=lambda challenge, now: _use_recovery_code(challenge.user, recovery_code, now))


def cancel_challenge(raw: object) -> bool:
    """End a pending challenge now (the user logged out or gave up). Returns whether one ended."""
    if not looks_like_secret(raw):
        return False
    return bool(LoginChallenge.objects.filter(token_digest__in=digests(raw, TEMP_TOKEN_PURPOSE),
                                              consumed_at__isnull=True)
                .update(consumed_at=timezone.now()))


def find_setup_challenge(raw: object) -> LoginChallenge | None:
    """The live setup challenge for a temp token, or ``None``. Read-only (no lock)."""
    if not looks_like_secret(raw):
        return None
    challenge = (LoginChallenge.objects.select_related("user")
                 .filter(token_digest__in=digests(raw, TEMP_TOKEN_PURPOSE),
                         purpose=ChallengePurpose.SETUP, consumed_at__isnull=True,
                         expires_at__gt=timezone.now(),
                         failed_attempts__lt=dualauth_settings.TWO_FACTOR_MAX_ATTEMPTS)
                 .order_by().first())
    return challenge if challenge is not None and challenge.user.is_active else None


# --- TOTP ------------------------------------------------------------------------------------

def _otpauth_url(device: TOTPDevice) -> str:
    issuer = dualauth_settings.TOTP_ISSUER.replace(":", "")
    label = f"{issuer}:{device.user.get_username()}"
    params = urlencode({"secret": _b32(device.bin_key), "issuer": issuer, "algorithm": "SHA1",
                        "digits": device.digits, "period": device.step}, quote_via=quote)
    return f"otpauth://totp/{quote(label)}?{params}"


def _b32(key: bytes) -> str:
    return b32encode(key).decode("ascii").rstrip("=")


def start_totp_setup(user: Any) -> TotpSetup:
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


def _verify_totp(user: Any, code: object, *, confirmed: bool) -> DualAuthError | None:
    """Verify ``code`` against the user's device, the row locked. Call inside ``atomic``."""
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


def confirm_totp_setup(user: Any, code: object, *, keep_session: object | None = None) -> list[str]:
    """Confirm the pending device with a code from it; returns fresh recovery codes (shown once).

    Revokes the user's other sessions (``DUALAUTH_TWO_FACTOR_REVOKE_OTHER_SESSIONS``), keeping
    ``keep_session``; sends ``two_factor_enabled``.
    """
    with transaction.atomic():
        codes = _confirm_locked(user, code)
    if isinstance(codes, DualAuthError):
        raise codes
    _after_factor_change(user, keep_session, RevocationReason.FACTOR_CHANGED)
    two_factor_enabled.send(sender=AccountState, user=user)
    return codes


def _confirm_locked(user: Any, code: object) -> list[str] | DualAuthError:
    error = _verify_totp(user, code, confirmed=False)
    if isinstance(error, InvalidTwoFactorCode):
        return InvalidSetupCode()
    if error is not None:
        return error
    TOTPDevice.objects.filter(user=user, confirmed=False).update(confirmed=True)
    _set_state(user, two_factor_enabled=True)
    return _replace_recovery_codes(user)


def complete_setup_challenge(raw: object, code: object, *, delivery: str,
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


def _complete_setup_locked(raw: object, code: object, delivery: str, client: ClientInfo,
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


def disable_two_factor(user: Any, *, totp_code: object = None, password: object = None,
                       keep_session: object | None = None) -> None:
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
    _after_factor_change(user, keep_session, RevocationReason.FACTOR_CHANGED)
    two_factor_disabled.send(sender=AccountState, user=user, revoked_by=None, reason="disabled")


def _disable_locked(user: Any, totp_code: object, password: object) -> DualAuthError | None:
    if not TOTPDevice.objects.filter(user=user, confirmed=True).exists():
        return TwoFactorNotEnabled()
    if totp_code is not None:
        error = _verify_totp(user, totp_code, confirmed=True)
        if isinstance(error, InvalidTwoFactorCode):
            return ReauthenticationFailed()
        if error is not None:
            return error
    elif not proofs.password_matches(user, password):
        return ReauthenticationFailed()
    _remove_factors(user)
    return None


def verify_reauthentication_code(user: Any, code: object) -> None:
    """Re-authenticate ``user`` with a current code of their confirmed TOTP device (the row
    locked, so a code is accepted once). Raises :class:`ReauthenticationFailed` (wrong, replayed
    or no device) or :class:`RateLimited` (throttled); the throttle count is committed."""
    with transaction.atomic():
        error = _verify_totp(user, code, confirmed=True)
    if isinstance(error, InvalidTwoFactorCode):
        raise ReauthenticationFailed()
    if error is not None:
        raise error


def regenerate_recovery_codes(user: Any, totp_code: object) -> list[str]:
    """Void the user's recovery codes and return a fresh set, proven by a current TOTP code."""
    with transaction.atomic():
        outcome = _regenerate_locked(user, totp_code)
    if isinstance(outcome, DualAuthError):
        raise outcome
    recovery_codes_regenerated.send(sender=RecoveryCode, user=user)
    return outcome


def _regenerate_locked(user: Any, totp_code: object) -> list[str] | DualAuthError:
    if not TOTPDevice.objects.filter(user=user, confirmed=True).exists():
        return TwoFactorNotEnabled()
    error = _verify_totp(user, totp_code, confirmed=True)
    if isinstance(error, InvalidTwoFactorCode):
        return ReauthenticationFailed()
    if error is not None:
        return error
    return _replace_recovery_codes(user)


def reset_two_factor(user: Any, *, revoked_by: Any = None) -> None:
    """Administrative reset (a lost phone): remove every factor, the verified phone included,
    and every pending challenge; revoke every session."""
    with transaction.atomic():
        _remove_factors(user)
        SMSDevice.objects.filter(user_id=user.pk).delete()
        LoginChallenge.objects.filter(user=user).delete()
    revoke_all_sessions(user, reason=RevocationReason.FACTOR_CHANGED, revoked_by=revoked_by)
    two_factor_disabled.send(sender=AccountState, user=user, revoked_by=revoked_by, reason="reset")


def _remove_factors(user: Any) -> None:
    TOTPDevice.objects.filter(user=user).delete()
    RecoveryCode.objects.filter(user=user).delete()
    _set_state(user, two_factor_enabled=False)


def _after_factor_change(user: Any, keep_session: object | None, reason: str) -> None:
    if dualauth_settings.TWO_FACTOR_REVOKE_OTHER_SESSIONS:
        revoke_all_sessions(user, reason=reason, keep=keep_session)


def _set_state(user: Any, **flags: bool) -> None:
    update_account_state(user, **flags)


# --- recovery codes --------------------------------------------------------------------------

def _new_recovery_code() -> str:
    raw = "".join(secrets.choice(_RECOVERY_ALPHABET) for _ in range(16))
    return "-".join(raw[i:i + 4] for i in range(0, 16, 4))


def _normalise_recovery_code(code: object) -> str | None:
    if not isinstance(code, str) or len(code) > 64:
        return None
    value = re.sub(r"[\s-]", "", code).upper()
    return value if _RECOVERY_RE.match(value) else None


def _replace_recovery_codes(user: Any) -> list[str]:
    now = timezone.now()
    codes = [_new_recovery_code() for _ in range(dualauth_settings.RECOVERY_CODE_COUNT)]
    RecoveryCode.objects.filter(user=user).delete()
    RecoveryCode.objects.bulk_create([
        RecoveryCode(user=user, created_at=now,
                     digest=digest(_normalise_recovery_code(c) or "", RECOVERY_PURPOSE))
        for c in codes])
    return codes


def _use_recovery_code(user: Any, code: object, now: datetime) -> DualAuthError | None:
    proofs.attempt(user.pk)
    value = _normalise_recovery_code(code)
    if value is None:
        return InvalidTwoFactorCode()
    row = (RecoveryCode.objects.select_for_update()
           .filter(user=user, used_at__isnull=True, digest__in=digests(value, RECOVERY_PURPOSE))
           .first())
    if row is None:
        return InvalidTwoFactorCode()
    row.used_at = now
    row.save(update_fields=["used_at"])
    return None
