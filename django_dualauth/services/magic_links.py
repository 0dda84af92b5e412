"""Magic links: log in (or finish a 2FA login) by a single-use link sent by e-mail. No HTTP.

A link carries a 256-bit secret stored as a digest. It is consumed only by an explicit
POST of the token (a GET of the front-end URL by a mail scanner changes nothing), once,
within ``DUALAUTH_MAGIC_LINK_LIFETIME``, and only while the user's password, e-mail address
and active flag are what they were when it was sent. Sending a new link voids the older
ones of the same purpose.

A magic link is a single-factor e-mail authenticator: for a user with a second factor it
yields the 2FA challenge, not a session, unless ``DUALAUTH_MAGIC_LINK_FULL_LOGIN``.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.utils import timezone

from ..conf import dualauth_settings
from ..crypto import digest, digests, equal, looks_like_secret, new_secret
from ..exceptions import DualAuthError, MagicLinkInvalid, TokenMismatch
from ..models import MagicLink, MagicLinkPurpose
from ..types import ClientInfo, Delivery, IssuedTokens
from .claims import update_account_state
from .first_proof import PROOF_MAGIC_LINK, reset_before_first_proof
from .login import (
    MAGIC_LINK,
    LoginChallengeIssued,
    SecondFactor,
    finish_challenge,
    lock_offering,
    register_second_factor,
    sign_in,
)
from .users import active_user_by_email, email_of, render_mail, state_stamp

if TYPE_CHECKING:
    from ..types import User

__all__ = ["request_login_link", "request_second_factor_link", "verify_login_link",
           "verify_second_factor_link", "AMR_EMAIL"]

TOKEN_PURPOSE = "magic_link"
STAMP_PURPOSE = "magic_link.stamp"
#: The amr value of a session whose (first or second) factor was an e-mailed link.
AMR_EMAIL = "email"

# An e-mailed link may finish a login but never meets a 2FA policy alone (NIST 800-63B
# §5.1.3.1), and is never offered after a magic-link login.
register_second_factor(SecondFactor(
    name=MAGIC_LINK, rank=30, satisfies_policy=False, channel=AMR_EMAIL,
    available=lambda user: bool(dualauth_settings.MAGIC_LINK_ENABLED and dualauth_settings.MAGIC_LINK_SECOND_FACTOR
                                and getattr(user, user.get_email_field_name(), ""))))


def _stamp(user: User) -> str:
    return state_stamp(user, STAMP_PURPOSE)


def _link_url(raw: str, *, second_factor: bool) -> str:
    # Built from the configured front-end URL, never from the request's Host (ML-05).
    url = dualauth_settings.MAGIC_LINK_URL.replace("{token}", raw)
    if not second_factor:
        return url
    parts = urlsplit(url)
    query = urlencode([*parse_qsl(parts.query), ("mode", "2fa")])
    return urlunsplit(parts._replace(query=query))


def _create(user: User, purpose: str, client: ClientInfo, challenge: Any = None) -> str:
    now = timezone.now()
    raw = new_secret()
    with transaction.atomic():
        # A new link voids the older ones of the same purpose (resend overwrites).
        MagicLink.objects.filter(user=user, purpose=purpose, consumed_at__isnull=True).update(consumed_at=now)
        MagicLink.objects.create(
            user=user, purpose=purpose, token_digest=digest(raw, TOKEN_PURPOSE), challenge=challenge,
            stamp=_stamp(user), created_at=now, expires_at=now + dualauth_settings.MAGIC_LINK_LIFETIME,
            ip_address=client.ip_address)
    return raw


def _message(user: User, raw: str, *, second_factor: bool) -> EmailMultiAlternatives:
    return render_mail("magic_link", email_of(user), {
        "user": user, "url": _link_url(raw, second_factor=second_factor), "second_factor": second_factor,
        "lifetime_minutes": int(dualauth_settings.MAGIC_LINK_LIFETIME.total_seconds() // 60)})


def request_login_link(email: str, *, client: ClientInfo) -> EmailMultiAlternatives | None:
    """The mail to send for ``email``, or ``None`` when no active account has that address.

    The caller answers the same either way (ENUM-02) and sends the mail off the request path.
    """
    user = active_user_by_email(email)
    if user is None:
        return None
    raw = _create(user, MagicLinkPurpose.LOGIN, client)
    return _message(user, raw, second_factor=False)


def request_second_factor_link(temp_token: object, *, delivery: Delivery,
                               client: ClientInfo) -> EmailMultiAlternatives:
    """The mail completing a pending 2FA login whose challenge offers ``magic-link``.

    Raises :class:`TempTokenInvalid` for a dead or foreign temp token. The link is bound to
    this challenge.
    """
    with transaction.atomic():
        challenge = lock_offering(temp_token, MAGIC_LINK, delivery=delivery, now=timezone.now())
        raw = _create(challenge.user, MagicLinkPurpose.TWO_FACTOR, client, challenge=challenge)
    return _message(challenge.user, raw, second_factor=True)


def _lock_link(raw: object, purpose: str, now: datetime) -> MagicLink | MagicLinkInvalid:
    if not looks_like_secret(raw):
        return MagicLinkInvalid()
    link = (MagicLink.objects.select_related("user").select_for_update(of=("self",))
            .filter(token_digest__in=digests(raw, TOKEN_PURPOSE)).order_by().first())
    if (link is None or link.purpose != purpose or link.consumed_at is not None or link.expires_at <= now
            or not link.user.is_active or not equal(link.stamp, _stamp(link.user))):
        return MagicLinkInvalid()
    return link


def verify_login_link(raw: object, *, delivery: Delivery, client: ClientInfo) -> IssuedTokens | LoginChallengeIssued:
    """Consume a login link. Returns the session, or the 2FA challenge for a user with a
    second factor. Raises :class:`MagicLinkInvalid` (unknown, used, expired, superseded,
    stale, inactive user: one answer).

    For an unverified address this is the first proof of control: what was set up before it
    is reset first (:func:`~django_dualauth.services.first_proof.reset_before_first_proof`).
    """
    now = timezone.now()
    with transaction.atomic():
        link = _lock_link(raw, MagicLinkPurpose.LOGIN, now)
        if isinstance(link, DualAuthError):
            raise link
        link.consumed_at = now
        link.save(update_fields=["consumed_at"])
        user = link.user
        # Opening the link proved control of the mailbox. If it is the first proof, nothing
        # set up before it (by whoever registered the address) survives it.
        reset_before_first_proof(user, proof=PROOF_MAGIC_LINK)
        update_account_state(user, email_verified=True)
        return sign_in(user, first_factor=AMR_EMAIL, delivery=delivery, client=client,
                       second_step=not dualauth_settings.MAGIC_LINK_FULL_LOGIN)


def verify_second_factor_link(raw: object, temp_token: object, *, delivery: Delivery,
                              client: ClientInfo) -> IssuedTokens:
    """Finish a pending 2FA login with a link sent for it.

    Raises :class:`TempTokenInvalid`, :class:`MagicLinkInvalid` (counted on the challenge)
    or :class:`TokenMismatch` when the link belongs to another user than the temp token.
    """

    def check(challenge: Any, now: datetime) -> DualAuthError | None:
        link = _lock_link(raw, MagicLinkPurpose.TWO_FACTOR, now)
        if isinstance(link, DualAuthError):
            return link
        if link.user_id != challenge.user_id:
            return TokenMismatch()
        if link.challenge_id != challenge.pk:
            return MagicLinkInvalid()
        link.consumed_at = now
        link.save(update_fields=["consumed_at"])
        update_account_state(challenge.user, email_verified=True)  # the link proved the mailbox
        return None

    return finish_challenge(temp_token, offered=MAGIC_LINK, method=MAGIC_LINK, amr=AMR_EMAIL, check=check,
                            counted=(MagicLinkInvalid, TokenMismatch), delivery=delivery, client=client)
