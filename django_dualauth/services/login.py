"""Every login method, begin → challenge → finish, in one place. No HTTP.

A method proves a *first factor* (a password, a magic link, an SMS code; social login and
passkeys next) and hands the user to :func:`sign_in`. That either issues the session at once
or opens a *challenge*: an opaque temp token (stored as a digest) that only
:func:`finish_challenge` accepts, for a few minutes, once, for the second factors it names
and the delivery it started with. A user whom policy forces to use 2FA but who has none gets
a *setup* challenge that only the setup endpoints accept.

Second factors plug in with :func:`register_second_factor` from the module that owns them
(``totp``, ``sms``, ``magic_links``), so this module imports none of them and a new method
touches no other.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from django.db import transaction
from django.utils import timezone

from .. import audit
from ..conf import dualauth_settings
from ..crypto import digest, digests, looks_like_secret, new_secret
from ..exceptions import DualAuthError, InvalidCredentials, TempTokenInvalid, TooManyAttempts
from ..models import ChallengePurpose, LoginChallenge
from ..signals import two_factor_failed
from ..types import ClientInfo, Delivery, IssuedTokens
from . import proofs
from .account_tokens import check_email_policy
from .claims import account_state
from .sessions import issue_session

if TYPE_CHECKING:
    from ..types import User

__all__ = [
    "AMR_MFA",
    "AMR_PASSWORD",
    "LoginChallengeIssued",
    "SecondFactor",
    "SecondFactorCheck",
    "authenticate_password",
    "begin_login",
    "cancel_challenge",
    "count_failure",
    "find_setup_challenge",
    "finish_challenge",
    "is_two_factor_required",
    "lock_challenge",
    "lock_offering",
    "offered_methods",
    "register_second_factor",
    "sign_in",
]

TEMP_TOKEN_PURPOSE = "temp_token"
#: The second-factor method names a challenge lists (``available2faMethods``).
TOTP, SMS, MAGIC_LINK = "totp", "sms", "magic-link"
#: RFC 8176 ``amr`` values recorded on the session.
AMR_PASSWORD, AMR_MFA = "pwd", "mfa"


@dataclass(frozen=True)
class LoginChallengeIssued:
    """The first factor passed; the client must complete a second step with ``temp_token``."""

    temp_token: str = field(repr=False)
    methods: list[str]
    setup_required: bool = False


@dataclass(frozen=True)
class SecondFactor:
    """A second factor a challenge can offer.

    ``available(user)`` says whether the user has it set up (called only for users with 2FA
    on or required; keep it to one query at most). ``satisfies_policy`` is false for a factor
    that may finish a login but never meets a 2FA policy alone (an e-mailed link, NIST
    800-63B §5.1.3.1). ``channel`` is the ``amr`` of a first factor on the same channel: the
    factor is never offered after it. Challenges list methods by ``rank``.
    """

    name: str
    available: Callable[[Any], bool]
    rank: int
    satisfies_policy: bool = True
    channel: str | None = None


_SECOND_FACTORS: dict[str, SecondFactor] = {}


def register_second_factor(method: SecondFactor) -> None:
    """Make ``method`` offerable by challenges (once per name; a later call replaces it)."""
    _SECOND_FACTORS[method.name] = method


# --- first factors -------------------------------------------------------------------------

def authenticate_password(request: Any, *, email: str, password: str, client: ClientInfo) -> User:
    """The user with this address and password, through Django's ``authenticate()`` (so the
    configured backends and ``user_login_failed`` apply) within the failure budget; the hasher
    runs exactly once. Raises :class:`InvalidCredentials`, the same for an unknown address, a
    wrong password and an inactive user. ``request`` is the ``HttpRequest`` the backends get."""
    user = proofs.authenticate_by_email(request, email=email, password=password)
    if user is None:
        audit.record("auth.login.failed", level=logging.WARNING, ip=client.ip_address)
        raise InvalidCredentials()
    audit.record("auth.login.succeeded", user=str(user.pk), ip=client.ip_address)
    return user


# --- begin ---------------------------------------------------------------------------------

def is_two_factor_required(user: User) -> bool:
    return dualauth_settings.REQUIRE_2FA or account_state(user).two_factor_required


def offered_methods(user: User, first_factors: Sequence[str] = (AMR_PASSWORD,)) -> list[str]:
    """The second factors a challenge offers ``user``, minus the channel a first factor used."""
    used = set(first_factors)
    available = [m for m in sorted(_SECOND_FACTORS.values(), key=lambda m: m.rank) if m.available(user)]
    return [m.name for m in available if m.channel is None or m.channel not in used]


def begin_login(user: User, *, delivery: Delivery, client: ClientInfo,
                first_factors: Sequence[str] = (AMR_PASSWORD,)) -> LoginChallengeIssued | None:
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
    if any(_SECOND_FACTORS[m].satisfies_policy for m in methods):
        raw = _new_challenge(user, ChallengePurpose.LOGIN, delivery, methods, first_factors, client)
        return LoginChallengeIssued(temp_token=raw, methods=methods)
    raw = _new_challenge(user, ChallengePurpose.SETUP, delivery, [TOTP], first_factors, client)
    return LoginChallengeIssued(temp_token=raw, methods=[TOTP], setup_required=True)


def sign_in(user: User, *, first_factor: str, delivery: Delivery, client: ClientInfo,
            second_step: bool = True) -> IssuedTokens | LoginChallengeIssued:
    """The end of every first factor: the session, or the challenge when a second step is due.

    ``first_factor`` is the ``amr`` value the session records. ``second_step=False`` issues
    the session without asking (``DUALAUTH_MAGIC_LINK_FULL_LOGIN``).
    """
    if second_step:
        step = begin_login(user, delivery=delivery, client=client, first_factors=[first_factor])
        if step is not None:
            return step
    return issue_session(user, delivery=delivery, client=client, methods=[first_factor])


def _new_challenge(user: User, purpose: str, delivery: Delivery, methods: list[str],
                   first_factors: Sequence[str], client: ClientInfo) -> str:
    now = timezone.now()
    raw = new_secret()
    LoginChallenge.objects.create(
        user=user, purpose=purpose, token_digest=digest(raw, TEMP_TOKEN_PURPOSE), delivery=delivery,
        methods=methods, first_factors=list(first_factors), created_at=now,
        expires_at=now + dualauth_settings.TEMP_TOKEN_LIFETIME, ip_address=client.ip_address)
    return raw


# --- challenge -----------------------------------------------------------------------------

def lock_challenge(raw: object, purpose: str, delivery: Delivery | None,
                   now: datetime) -> LoginChallenge | TempTokenInvalid:
    """The live challenge of ``purpose`` for a temp token, its row locked; call inside ``atomic``.

    Returns (never raises) :class:`TempTokenInvalid` for an unknown, expired, used or dead
    token, an inactive user, or another delivery than ``delivery`` (``None``: any).
    """
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


def lock_offering(raw: object, method: str, *, delivery: Delivery, now: datetime) -> LoginChallenge:
    """The pending login challenge of a temp token that offers ``method``, its row locked; call
    inside ``atomic``. Raises :class:`TempTokenInvalid` as :func:`lock_challenge` refuses, and
    for a challenge that did not offer ``method``."""
    challenge = lock_challenge(raw, ChallengePurpose.LOGIN, delivery, now)
    if isinstance(challenge, DualAuthError) or method not in challenge.methods:
        raise TempTokenInvalid()
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


# --- finish --------------------------------------------------------------------------------

#: Proves a second factor for a locked challenge: ``None`` on success, else the error.
SecondFactorCheck = Callable[[LoginChallenge, datetime], DualAuthError | None]


def finish_challenge(raw: object, *, offered: str, method: str, amr: str, check: SecondFactorCheck,
                     counted: tuple[type[DualAuthError], ...], delivery: Delivery, client: ClientInfo) -> IssuedTokens:
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
                   counted: tuple[type[DualAuthError], ...], delivery: Delivery, client: ClientInfo,
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
