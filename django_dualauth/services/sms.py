"""SMS one-time codes: verify a phone, then log in with it or use it as a second factor. No HTTP.

A phone is a django-otp device (:class:`~django_dualauth.models.SMSDevice`) that becomes
``confirmed`` only once the user typed a code sent to it, so an unverified number is never
used to log in. Codes are 6 digits from ``secrets``, stored as a keyed digest, valid
``DUALAUTH_SMS_CODE_LIFETIME`` (5 minutes), single use, void after
``DUALAUTH_SMS_CODE_MAX_ATTEMPTS`` wrong guesses or when a new code is sent; resends wait
``DUALAUTH_SMS_RESEND_COOLDOWN``. Behind a verified password (the 2FA step, phone
verification) wrong guesses also feed django-otp's exponential throttle on the device; the
login path does not, so strangers can neither lock a phone nor learn that one exists. Every
check runs with the device row locked.

Functions that send return an :class:`OutgoingSMS`; the caller applies its per-number limit
and dispatches it off the request path.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

import phonenumbers
from django.db import transaction
from django.template.loader import render_to_string
from django.utils import timezone

from ..conf import dualauth_settings
from ..crypto import digest, equal
from ..exceptions import (
    DualAuthError,
    PhoneCodeInvalid,
    PhoneNotVerified,
    RateLimited,
    ReauthenticationFailed,
    SMSCodeInvalid,
    TempTokenInvalid,
    TooManyAttempts,
    ValidationFailed,
)
from ..models import SMSDevice
from ..models.sessions import RevocationReason
from ..types import ClientInfo, Delivery, IssuedTokens
from . import proofs
from .login import (
    SMS,
    LoginChallengeIssued,
    SecondFactor,
    finish_challenge,
    lock_offering,
    register_second_factor,
    sign_in,
)
from .sessions import revoke_all_sessions
from .users import active_user_by_email

if TYPE_CHECKING:
    from ..types import User

__all__ = ["OutgoingSMS", "add_phone", "confirm_phone", "remove_phone", "has_verified_phone", "normalize_phone",
           "request_login_code", "request_second_factor_code", "verify_login_code",
           "verify_second_factor_code", "AMR_SMS"]

CODE_PURPOSE = "sms_code"
DEVICE_NAME = "sms"
#: RFC 8176 ``amr`` value for a code received by SMS.
AMR_SMS = "sms"


@dataclass(frozen=True)
class OutgoingSMS:
    """A text to send. ``send`` delivers it through the configured gateway."""

    to: str
    body: str = field(repr=False)

    def send(self) -> None:
        dualauth_settings.SMS_GATEWAY(**dualauth_settings.SMS_GATEWAY_OPTIONS).send(self.to, self.body)


def normalize_phone(raw: object) -> str:
    """E.164 form of an international number, or :class:`ValidationFailed`."""
    error = ValidationFailed(fields={"phoneNumber": [
        "Enter a valid phone number in international format, e.g. +14155550123."]})
    if not isinstance(raw, str) or len(raw) > 32:
        raise error
    try:
        number = phonenumbers.parse(raw, None)
    except phonenumbers.NumberParseException:
        raise error from None
    if not phonenumbers.is_valid_number(number):
        raise error
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def has_verified_phone(user: User) -> bool:
    return bool(SMSDevice.objects.filter(user_id=user.pk, confirmed=True).exists())


# A verified phone is a second factor when the feature is on (one query), never after an SMS login.
register_second_factor(SecondFactor(
    name=SMS, rank=20, channel=AMR_SMS,
    available=lambda user: dualauth_settings.SMS_ENABLED and has_verified_phone(user)))


def _code_digest(device: SMSDevice, code: str) -> str:
    # The device id is part of the input: one code's digest never matches another device.
    return digest(f"{device.pk}:{code}", CODE_PURPOSE)


def _message(device: SMSDevice, code: str, purpose: str) -> OutgoingSMS:
    context = {"code": code, "purpose": purpose,
               "lifetime_minutes": max(1, int(dualauth_settings.SMS_CODE_LIFETIME.total_seconds() // 60))}
    body = render_to_string("django_dualauth/sms/code.txt", context).strip()
    return OutgoingSMS(to=device.number, body=body)


def _new_code(device: SMSDevice, now: datetime, purpose: str) -> OutgoingSMS | RateLimited:
    """A fresh code for a locked ``device``, voiding the previous one; or the resend cooldown."""
    cooldown = dualauth_settings.SMS_RESEND_COOLDOWN
    if device.last_sent_at is not None and now - device.last_sent_at < cooldown:
        wait = (device.last_sent_at + cooldown - now).total_seconds()
        return RateLimited(int(wait) + 1, "Wait before asking for another code")
    code = f"{secrets.randbelow(10 ** 6):06d}"
    device.code_digest = _code_digest(device, code)
    device.code_expires_at = now + dualauth_settings.SMS_CODE_LIFETIME
    device.code_attempts = 0
    device.last_sent_at = now
    device.save(update_fields=["code_digest", "code_expires_at", "code_attempts", "last_sent_at"])
    return _message(device, code, purpose)


def _check_code(device: SMSDevice, code: object, now: datetime, *, throttle: bool = True) -> DualAuthError | None:
    """Verify ``code`` against a locked ``device``: once, in time, within the attempt budget.

    ``throttle=False`` (the login path, where anyone who knows an address can call) skips
    django-otp's growing per-device delay: it would let strangers lock a user's phone and
    would answer 429 only for accounts that have one. The per-code attempt cap, the code's
    lifetime, the send limits and the per-address limit bound guessing there instead.
    """
    proofs.attempt(device.user_id)
    if throttle:
        device.throttle_factor = dualauth_settings.SMS_THROTTLE_FACTOR
        allowed, info = device.verify_is_allowed()
        if not allowed:
            locked_until = (info or {}).get("locked_until")
            wait = (locked_until - now).total_seconds() if locked_until else 1
            return TooManyAttempts(int(wait) + 1, "Too many wrong codes; wait before trying again")
    live = (bool(device.code_digest) and device.code_expires_at is not None and device.code_expires_at > now
            and device.code_attempts < dualauth_settings.SMS_CODE_MAX_ATTEMPTS)
    fields = ["code_digest", "code_expires_at", "code_attempts"]
    if throttle:
        fields += ["throttling_failure_timestamp", "throttling_failure_count"]
    if live and isinstance(code, str) and equal(_code_digest(device, code.strip()), device.code_digest):
        device.code_digest, device.code_expires_at, device.code_attempts = "", None, 0
        if throttle:
            device.throttle_reset(commit=False)
        device.save(update_fields=fields)
        return None
    if not live:
        return SMSCodeInvalid()  # nothing to guess: no state changes, so no lock-out by strangers
    device.code_attempts += 1
    if device.code_attempts >= dualauth_settings.SMS_CODE_MAX_ATTEMPTS:
        device.code_digest, device.code_expires_at = "", None  # exhausted: void it
    if throttle:
        device.throttle_increment(commit=False)
    device.save(update_fields=fields)
    return SMSCodeInvalid()


def _locked_device(user: User, *, confirmed: bool) -> SMSDevice | None:
    device: SMSDevice | None = (SMSDevice.objects.select_for_update()
                                .filter(user_id=user.pk, confirmed=confirmed).order_by("-pk").first())
    return device


# --- adding a phone ---------------------------------------------------------------------------

def add_phone(user: User, raw_number: object, *, password: object = None) -> OutgoingSMS:
    """Start verifying a phone number for ``user``: an unconfirmed device and a code to it.

    Replacing an already verified phone is changing a factor (MFA-10): it needs the
    password (for users who have one). Raises :class:`ValidationFailed`,
    :class:`ReauthenticationFailed` or :class:`RateLimited` (resend cooldown).
    """
    number = normalize_phone(raw_number)
    if has_verified_phone(user) and user.has_usable_password() and not proofs.password_matches(user, password):
        raise ReauthenticationFailed()
    now = timezone.now()
    with transaction.atomic():
        device = _locked_device(user, confirmed=False)
        if device is None or device.number != number:
            SMSDevice.objects.filter(user_id=user.pk, confirmed=False).delete()
            device = SMSDevice.objects.create(user_id=user.pk, name=DEVICE_NAME, number=number, confirmed=False)
        outcome = _new_code(device, now, "phone")
    if isinstance(outcome, DualAuthError):
        raise outcome
    return outcome


def remove_phone(user: User, *, password: object = None) -> None:
    """Remove the user's phones. Needs the password for users who have one
    (:class:`ReauthenticationFailed`): a stolen access token must not remove a factor."""
    if user.has_usable_password() and not proofs.password_matches(user, password):
        raise ReauthenticationFailed()
    SMSDevice.objects.filter(user_id=user.pk).delete()


def confirm_phone(user: User, code: object, *, keep_session: str | None = None) -> None:
    """Confirm the pending phone with the code sent to it; it replaces any previous phone.

    Revokes the user's other sessions (``DUALAUTH_TWO_FACTOR_REVOKE_OTHER_SESSIONS``).
    Raises :class:`PhoneCodeInvalid` (400) or :class:`RateLimited`.
    """
    now = timezone.now()
    with transaction.atomic():
        outcome = _confirm_locked(user, code, now)
    if outcome is not None:
        raise outcome
    if dualauth_settings.TWO_FACTOR_REVOKE_OTHER_SESSIONS:
        revoke_all_sessions(user, reason=RevocationReason.FACTOR_CHANGED, keep=keep_session)


def _confirm_locked(user: User, code: object, now: datetime) -> DualAuthError | None:
    device = _locked_device(user, confirmed=False)
    if device is None:
        return PhoneCodeInvalid()
    error = _check_code(device, code, now)
    if isinstance(error, SMSCodeInvalid):
        return PhoneCodeInvalid()
    if error is not None:
        return error
    SMSDevice.objects.filter(user_id=user.pk, confirmed=True).delete()
    device.confirmed = True
    device.last_sent_at = None  # the verification code must not delay the first login code
    device.save(update_fields=["confirmed", "last_sent_at"])
    return None


# --- login and second factor -----------------------------------------------------------------

def request_login_code(email: str) -> OutgoingSMS | None:
    """The text to send for ``email``, or ``None`` (unknown or inactive account, no verified
    phone, or within the resend cooldown). The caller answers the same in every case."""
    user = active_user_by_email(email)
    if user is None:
        return None
    with transaction.atomic():
        device = _locked_device(user, confirmed=True)
        outcome = _new_code(device, timezone.now(), "login") if device is not None else None
    return outcome if isinstance(outcome, OutgoingSMS) else None


def request_second_factor_code(temp_token: object, *, delivery: Delivery) -> OutgoingSMS:
    """The text completing a pending 2FA login whose challenge offers ``sms``.

    Raises :class:`TempTokenInvalid`, :class:`PhoneNotVerified` or :class:`RateLimited`.
    """
    now = timezone.now()
    with transaction.atomic():
        challenge = lock_offering(temp_token, SMS, delivery=delivery, now=now)
        device = _locked_device(challenge.user, confirmed=True)
        if device is None:
            raise PhoneNotVerified()
        outcome = _new_code(device, now, "login")
    if isinstance(outcome, DualAuthError):
        raise outcome
    return outcome


def verify_login_code(email: str, code: object, *, delivery: Delivery,
                      client: ClientInfo) -> IssuedTokens | LoginChallengeIssued:
    """Log in with an SMS code. Returns the session, or the 2FA challenge for a user whose
    other factor is due. Raises :class:`SMSCodeInvalid` (one answer for an unknown account,
    no phone, a wrong, used or expired code) or :class:`RateLimited`."""
    user = active_user_by_email(email)
    if user is None:
        raise SMSCodeInvalid()
    now = timezone.now()
    with transaction.atomic():
        outcome = _verify_login_locked(user, code, delivery, client, now)
    if isinstance(outcome, DualAuthError):
        raise outcome
    return outcome


def _verify_login_locked(user: User, code: object, delivery: Delivery, client: ClientInfo,
                         now: datetime) -> IssuedTokens | LoginChallengeIssued | DualAuthError:
    device = _locked_device(user, confirmed=True)
    if device is None:
        return SMSCodeInvalid()
    error = _check_code(device, code, now, throttle=False)
    if error is not None:
        return error
    return sign_in(user, first_factor=AMR_SMS, delivery=delivery, client=client)


def verify_second_factor_code(temp_token: object, code: object, *, delivery: Delivery,
                              client: ClientInfo) -> IssuedTokens:
    """Finish a pending 2FA login with an SMS code (failures count on the challenge)."""

    def check(challenge: Any, now: datetime) -> DualAuthError | None:
        device = _locked_device(challenge.user, confirmed=True)
        return TempTokenInvalid() if device is None else _check_code(device, code, now)

    return finish_challenge(temp_token, offered=SMS, method=SMS, amr=AMR_SMS, check=check,
                            counted=(SMSCodeInvalid,), delivery=delivery, client=client)
