"""Mailed account-lifecycle steps: verify the e-mail address, reset a forgotten password,
change the address. No HTTP.

Each step mails a single-use 256-bit token (stored as a digest) to a front-end URL; the
front end POSTs it back. A token is void once used, once expired, once a newer token of
the same purpose was sent, and once the account state it was issued against changed
(password, address, active flag: ``stamp``). Request functions return the mail (or
``None`` when nothing must be sent) so that callers answer identically either way and
send off the request path.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.mail import EmailMultiAlternatives
from django.db import IntegrityError, transaction
from django.utils import timezone

from .. import audit
from ..conf import dualauth_settings
from ..crypto import digest, digests, equal, looks_like_secret, new_secret
from ..exceptions import (
    AccountTokenInvalid,
    EmailNotVerified,
    EmailTaken,
    EmailVerificationRequired,
    ReauthenticationFailed,
    ValidationFailed,
)
from ..models import AccountToken, AccountTokenPurpose, LoginChallenge
from ..models.sessions import RevocationReason
from ..types import ClientInfo
from . import proofs
from .claims import account_state, update_account_state
from .email_claims import claim_address, release_other_claims
from .first_proof import PROOF_PASSWORD_RESET, reset_before_first_proof
from .sessions import revoke_all_sessions
from .users import (
    active_user_by_email,
    email_field,
    email_of,
    render_mail,
    state_stamp,
    user_fields_for_address,
    username_for_address,
)

if TYPE_CHECKING:
    from ..types import User

__all__ = [
    "check_email_policy",
    "check_reauthentication",
    "confirm_email_change",
    "email_change_mail",
    "request_email_change",
    "request_password_reset",
    "reset_password",
    "resend_verification_email",
    "send_verification_email",
    "verify_email",
]

TOKEN_PURPOSE = "account_token"
STAMP_PURPOSE = "account_token.stamp"

_LIFETIMES = {
    AccountTokenPurpose.VERIFY_EMAIL: lambda: dualauth_settings.EMAIL_VERIFICATION_TOKEN_LIFETIME,
    AccountTokenPurpose.PASSWORD_RESET: lambda: dualauth_settings.PASSWORD_RESET_TOKEN_LIFETIME,
    AccountTokenPurpose.EMAIL_CHANGE: lambda: dualauth_settings.EMAIL_CHANGE_TOKEN_LIFETIME,
}
_URLS = {
    AccountTokenPurpose.VERIFY_EMAIL: lambda: dualauth_settings.VERIFY_EMAIL_URL,
    AccountTokenPurpose.PASSWORD_RESET: lambda: dualauth_settings.PASSWORD_RESET_URL,
    AccountTokenPurpose.EMAIL_CHANGE: lambda: dualauth_settings.EMAIL_CHANGE_URL,
}


def _stamp(user: User) -> str:
    return state_stamp(user, STAMP_PURPOSE)


def _issue(user: User, purpose: AccountTokenPurpose, email: str, client: ClientInfo) -> EmailMultiAlternatives:
    now = timezone.now()
    raw = new_secret()
    lifetime = _LIFETIMES[purpose]()
    with transaction.atomic():
        AccountToken.objects.filter(user_id=user.pk, purpose=purpose, consumed_at__isnull=True).update(consumed_at=now)
        AccountToken.objects.create(user_id=user.pk, purpose=purpose, token_digest=digest(raw, TOKEN_PURPOSE),
                                    stamp=_stamp(user), email=email, created_at=now, expires_at=now + lifetime,
                                    ip_address=client.ip_address)
    url = _URLS[purpose]().replace("{token}", raw)
    return render_mail(purpose, email, {"user": user, "url": url, "email": email,
                                 "lifetime_minutes": int(lifetime.total_seconds() // 60)})


def _consume(raw: object, purpose: str) -> AccountToken:
    """Lock, check and consume a token (call inside ``atomic``). One answer for every failure."""
    if not looks_like_secret(raw):
        raise AccountTokenInvalid()
    now = timezone.now()
    token = (AccountToken.objects.select_related("user").select_for_update(of=("self",))
             .filter(token_digest__in=digests(raw, TOKEN_PURPOSE)).order_by().first())
    if (token is None or token.purpose != purpose or token.consumed_at is not None or token.expires_at <= now
            or not token.user.is_active or not equal(token.stamp, _stamp(token.user))):
        raise AccountTokenInvalid()
    token.consumed_at = now
    token.save(update_fields=["consumed_at"])
    return token


# --- policy -----------------------------------------------------------------------------------

def check_email_policy(user: User) -> None:
    """Refuse a log-in (any method) that ``DUALAUTH_EMAIL_VERIFICATION`` forbids."""
    policy = dualauth_settings.EMAIL_VERIFICATION
    if policy == "none" or account_state(user).email_verified:
        return
    if policy == "strict":
        raise EmailNotVerified()
    joined = getattr(user, "date_joined", None)
    if policy == "lazy" and joined is not None and timezone.now() > joined + dualauth_settings.EMAIL_VERIFICATION_GRACE:
        raise EmailVerificationRequired()


# --- e-mail verification -------------------------------------------------------------------------

def send_verification_email(user: User, *, client: ClientInfo) -> EmailMultiAlternatives | None:
    """The verification mail for the user's current address; ``None`` if already verified."""
    if account_state(user).email_verified or not email_of(user):
        return None
    return _issue(user, AccountTokenPurpose.VERIFY_EMAIL, email_of(user), client)


def resend_verification_email(email: str, *, client: ClientInfo) -> EmailMultiAlternatives | None:
    """The verification mail for an active, unverified account with this address, else ``None``.

    For users whom the policy keeps from logging in (and so from the authenticated endpoint)."""
    user = active_user_by_email(email)
    return send_verification_email(user, client=client) if user is not None else None


def verify_email(raw: object) -> User:
    """Mark the address verified. Returns the user. Raises :class:`AccountTokenInvalid`."""
    with transaction.atomic():
        token = _consume(raw, AccountTokenPurpose.VERIFY_EMAIL)
        update_account_state(token.user, email_verified=True)
    audit.record("auth.email.verified", user=str(token.user.pk))
    return token.user


# --- password reset ------------------------------------------------------------------------------

def request_password_reset(email: str, *, client: ClientInfo) -> EmailMultiAlternatives | None:
    """The reset mail for ``email``, or ``None`` (no such active account): answer the same."""
    user = active_user_by_email(email)
    if user is None:
        return None
    return _issue(user, AccountTokenPurpose.PASSWORD_RESET, email_of(user), client)


def reset_password(raw: object, password: str) -> User:
    """Set a new password with a reset token; every session of the user is revoked.

    One transaction: a password refused by ``AUTH_PASSWORD_VALIDATORS`` (:class:`ValidationFailed`)
    leaves the token unused. The new password hash voids every other token and link sent before.
    For an unverified address, the first proof of control: the factors are reset too
    (:func:`~django_dualauth.services.first_proof.reset_before_first_proof`).
    """
    with transaction.atomic():
        token = _consume(raw, AccountTokenPurpose.PASSWORD_RESET)
        user = token.user
        try:
            validate_password(password, user=user)
        except DjangoValidationError as exc:
            raise ValidationFailed(fields={"password": list(exc.messages)}) from None
        # The reset proved control of the mailbox; if it is the first proof, nothing set up
        # before it survives (the new password replaces whichever one was set).
        reset_before_first_proof(user, proof=PROOF_PASSWORD_RESET)
        user.set_password(password)
        user.save(update_fields=["password"])
        update_account_state(user, email_verified=True)
        revoke_all_sessions(user, reason=RevocationReason.PASSWORD_CHANGED)
        # A login begun with the old password must not be finished at its 2FA step.
        LoginChallenge.objects.filter(user_id=user.pk, consumed_at__isnull=True).update(consumed_at=timezone.now())
    audit.record("auth.password.reset", user=str(user.pk))
    return user


# --- e-mail change -------------------------------------------------------------------------------

def request_email_change(user: User, new_email: str, password: object, *,
                         client: ClientInfo) -> EmailMultiAlternatives | None:
    """The confirmation mail to ``new_email``, after re-authentication with ``password``.

    ``None`` when the address is the current one or belongs to another account: the caller
    answers the same, so the request does not reveal other accounts. Raises
    :class:`ReauthenticationFailed`. The endpoint runs the two halves apart
    (:func:`check_reauthentication` on the request path, :func:`email_change_mail` off it).
    """
    check_reauthentication(user, password)
    return email_change_mail(user.pk, new_email, client=client)


def check_reauthentication(user: User, password: object) -> None:
    """Raise :class:`ReauthenticationFailed` unless ``password`` is the user's (inside a failure budget)."""
    if not proofs.password_matches(user, password):
        raise ReauthenticationFailed()


def email_change_mail(user_id: Any, new_email: str, *, client: ClientInfo) -> EmailMultiAlternatives | None:
    """The confirmation mail to ``new_email`` for the user ``user_id`` (already re-authenticated),
    or ``None`` (the current address, another account's, or no such active user)."""
    model = get_user_model()
    user = model._default_manager.filter(pk=user_id).first()
    if user is None or not user.is_active:
        return None
    new_email = model.objects.normalize_email(new_email.strip())
    if new_email.casefold() == email_of(user).casefold() or model._default_manager.filter(
            **{f"{email_field()}__iexact": new_email}).exists():
        return None
    return _issue(user, AccountTokenPurpose.EMAIL_CHANGE, new_email, client)


def confirm_email_change(raw: object) -> tuple[User, EmailMultiAlternatives | None]:
    """Switch the address to the confirmed one; returns the user and the notice for the old
    address. Raises :class:`AccountTokenInvalid` (also when the address was taken meanwhile)."""
    model = get_user_model()
    with transaction.atomic():
        token = _consume(raw, AccountTokenPurpose.EMAIL_CHANGE)
        user = token.user
        old = email_of(user)
        # Projects that use the address as username (as register fills it) keep them together.
        follows = model.USERNAME_FIELD != email_field() and getattr(user, model.USERNAME_FIELD, None) in (
            old, username_for_address(old))
        try:
            fields = user_fields_for_address(token.email, username=follows)
            # The claim before the check: a registration of this address at the same moment
            # either waits for this change (then 409) or wins it (then this token is refused).
            key = claim_address(token.email, user)
        except (ValidationFailed, EmailTaken):
            raise AccountTokenInvalid() from None
        if model._default_manager.filter(**{f"{email_field()}__iexact": token.email}).exclude(pk=user.pk).exists():
            raise AccountTokenInvalid()
        for name, value in fields.items():
            setattr(user, name, value)
        try:
            with transaction.atomic():
                user.save(update_fields=list(fields))
        except IntegrityError:  # the new username is another account's
            raise AccountTokenInvalid() from None
        release_other_claims(user, key)
        update_account_state(user, email_verified=True)
    audit.record("auth.email.changed", user=str(user.pk))  # identifiers only: no addresses
    context = {"user": user, "old_email": old, "new_email": token.email}
    notice = render_mail("email_changed", old, context) if old else None
    return user, notice
