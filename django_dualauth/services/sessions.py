"""Issue, rotate and revoke sessions (refresh-token families). No HTTP here.

Every mutating function commits its own work (``transaction.atomic``) and sends its
signal after the change is durable.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, NamedTuple

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from .._seam.compiled import CompiledInsert, CompiledSelect, CompiledUpdate
from .._seam.rotation_statement import NOT_RUN, NotRun, RotationStatement
from ..conf import dualauth_settings
from ..crypto import derive_secret, digest, digests, equal, looks_like_secret, new_secret
from ..exceptions import DualAuthError, RefreshTokenInvalid, SessionRevoked
from ..models import AuthSession, RotatedRefreshToken
from ..models.sessions import RevocationReason
from ..signals import refresh_token_reused, session_issued, session_revoked, session_rotated
from ..types import ClientInfo, Delivery, IssuedTokens
from . import revocation
from .access_tokens import encode_access_token
from .rotation_rules import INACTIVE_USER, REVOKED, ROTATION_RULES, broken_rule

if TYPE_CHECKING:
    from ..types import User, UserRef

__all__ = [
    "issue_session",
    "rotate_refresh_token",
    "revoke_session",
    "revoke_all_sessions",
    "revoke_session_by_id",
    "revoke_session_by_refresh_token",
]

REFRESH_PURPOSE = "refresh_token"
SUCCESSOR_PURPOSE = "refresh_token.successor"
_JOINED = ("user", "user__dualauth_state")


def _locked_by_digest(*candidates: str) -> QuerySet[AuthSession]:
    # Not ordered: the digest is unique, and an ORDER BY pk invites PostgreSQL to walk the primary
    # key (every row version of a busy session) filtering on the digest instead of probing the
    # digest's index. Row lock on the session only.
    return (AuthSession.objects.select_related(*_JOINED).select_for_update(of=("self",))
            .filter(refresh_digest__in=candidates).order_by()[:1])


# The three statements of every refresh, compiled by the ORM once instead of per request. The
# writes send no model signals (as the revocations' QuerySet.update() do not): session_rotated is
# the hook for a rotation.
_LOCKED_BY_DIGEST = CompiledSelect(AuthSession, "refresh_digest", _locked_by_digest, for_update=True)
_SESSION_FIELDS = tuple(f.attname for f in AuthSession._meta.concrete_fields)
_INSERT_SESSION = CompiledInsert(AuthSession, _SESSION_FIELDS)
_INSERT_SPENT = CompiledInsert(RotatedRefreshToken, ("session_id", "digest", "generation", "rotated_at"))
_ROTATED_FIELDS = ("refresh_digest", "generation", "rotated_at", "last_used_at", "expires_at",
                   "ip_address", "user_agent")
_UPDATE_ROTATED = CompiledUpdate(AuthSession, _ROTATED_FIELDS)
# PostgreSQL: the same three statements as one, in one round trip, for the rotation that succeeds.
_ROTATE_IN_ONE = RotationStatement(_LOCKED_BY_DIGEST, ROTATION_RULES)


def _idle_expiry(now: datetime, absolute: datetime) -> datetime:
    return min(now + dualauth_settings.REFRESH_TOKEN_IDLE_LIFETIME, absolute)


def _issued(session: AuthSession, user: User, raw: str, now: datetime) -> IssuedTokens:
    access, access_expires_at = encode_access_token(session, user, now=now)
    return IssuedTokens(
        access_token=access,
        access_expires_at=access_expires_at,
        refresh_token=raw,
        refresh_expires_at=session.expires_at,
        session_id=str(session.pk),
        delivery=session.delivery,
        user=user,
    )


def issue_session(user: User, *, delivery: Delivery, client: ClientInfo,
                  methods: Sequence[str] = ("pwd",)) -> IssuedTokens:
    """Start a session for an authenticated ``user``. One INSERT (no model signals); sends
    ``session_issued``.

    ``delivery`` ("cookie" or "bearer") is recorded and binds every later refresh.
    """
    now = timezone.now()
    raw = new_secret()
    absolute = now + dualauth_settings.REFRESH_TOKEN_ABSOLUTE_LIFETIME
    session = AuthSession(
        user=user,
        delivery=delivery,
        auth_methods=list(methods),
        refresh_digest=digest(raw, REFRESH_PURPOSE),
        created_at=now,
        last_used_at=now,
        expires_at=_idle_expiry(now, absolute),
        absolute_expires_at=absolute,
        ip_address=client.ip_address,
        user_agent=client.user_agent[:512],
    )
    _INSERT_SESSION.save(session)
    session_issued.send(sender=AuthSession, session=session, user=user)
    return _issued(session, user, raw, now)


def rotate_refresh_token(raw: object, *, presented_via: Delivery, client: ClientInfo,
                         admit: Callable[[], None] | None = None) -> IssuedTokens:
    """Exchange a refresh token for a new pair; the presented token is spent.

    ``presented_via`` is where the token came from ("cookie" or "bearer"); a token is only
    accepted through the delivery its session was created with.

    ``admit``, if given, is called once the token is known not to be the current token of a
    session that may rotate, before any further work; it refuses by raising (a spent budget of
    refused attempts). A token that rotates never calls it.

    Raises :class:`RefreshTokenInvalid` (unknown, expired, wrong channel, inactive user) or
    :class:`SessionRevoked` (revoked session, or reuse of a spent token, which revokes the
    whole family and sends ``refresh_token_reused``). Under concurrency exactly one of N
    requests presenting the same token succeeds: the session row is locked, and once the
    winner has moved the current digest on, the others find only the spent one: reuse.
    """
    if not looks_like_secret(raw):
        raise RefreshTokenInvalid()
    now = timezone.now()
    token = _presented(raw)
    outcome = _rotate_in_one_statement(token, presented_via, client, now)
    if outcome is None or outcome is NOT_RUN:
        if outcome is None and admit is not None:
            admit()  # the statement ran and wrote nothing: this token does not simply rotate
            admit = None
        with transaction.atomic():
            # Errors are returned, not raised, so that a revocation decided here is committed.
            outcome = _rotate_locked(token, presented_via, client, now, admit)
    if isinstance(outcome, _Reuse):
        _announce_revoked([outcome.session], RevocationReason.REUSE, None)
        refresh_token_reused.send(sender=AuthSession, session=outcome.session,
                                  user=outcome.session.user, ip_address=client.ip_address,
                                  user_agent=client.user_agent)
        raise SessionRevoked()
    if isinstance(outcome, _InactiveUser):
        revoke_all_sessions(outcome.session.user, reason=RevocationReason.USER_INACTIVE)
        raise RefreshTokenInvalid()
    if isinstance(outcome, DualAuthError):
        raise outcome
    session, successor, rotated = outcome
    if rotated:
        session_rotated.send(sender=AuthSession, session=session, user=session.user,
                             generation=session.generation)
    return _issued(session, session.user, successor, now)


class _Reuse:
    def __init__(self, session: AuthSession) -> None:
        self.session = session


class _InactiveUser:
    def __init__(self, session: AuthSession) -> None:
        self.session = session


_Outcome = tuple[AuthSession, str, bool] | DualAuthError | _Reuse | _InactiveUser


class _Presented(NamedTuple):
    """What a presented refresh token is looked up and rotated with, computed once."""
    candidates: list[str]  # its digests under SECRET_KEY and each fallback
    successor: str  # the token that replaces it (derived: a grace retry gets the same one)
    successor_digest: str


def _presented(raw: str) -> _Presented:
    successor = derive_secret(raw, SUCCESSOR_PURPOSE)
    return _Presented(digests(raw, REFRESH_PURPOSE), successor, digest(successor, REFRESH_PURPOSE))


def _rotate_locked(token: _Presented, presented_via: Delivery, client: ClientInfo, now: datetime,
                   admit: Callable[[], None] | None) -> _Outcome:
    session = _LOCKED_BY_DIGEST.first(*token.candidates)
    refusal = None if session is None else _refusal(session, presented_via, now)
    if (session is None or refusal is not None) and admit is not None:
        admit()  # raising rolls back: nothing is written for an attempt over its budget
    if session is None:
        return _spent_or_unknown(token, presented_via, now)
    if refusal is not None:
        return refusal
    _INSERT_SPENT.execute(session.pk, session.refresh_digest, session.generation, now)
    _advance(session, token.successor_digest, client, now)
    # By primary key, under the row lock taken above.
    _UPDATE_ROTATED.execute(session.pk, *(getattr(session, name) for name in _ROTATED_FIELDS))
    return session, token.successor, True


def _rotate_in_one_statement(token: _Presented, presented_via: Delivery, client: ClientInfo,
                             now: datetime) -> _Outcome | None | NotRun:
    """The rotation that succeeds, in one statement where the database allows (PostgreSQL);
    ``None`` when it ran and wrote nothing, :data:`NOT_RUN` when it cannot run here. In both
    cases the transaction of :func:`_rotate_locked` decides."""
    session = _ROTATE_IN_ONE.run(
        token.candidates, new_digest=token.successor_digest,
        presented_via=presented_via, now=now,
        idle_until=now + dualauth_settings.REFRESH_TOKEN_IDLE_LIFETIME,
        ip_address=client.ip_address, user_agent=client.user_agent[:512])
    if session is None or session is NOT_RUN:
        return session
    _advance(session, token.successor_digest, client, now)  # the instance as the statement left the row
    return session, token.successor, True


def _advance(session: AuthSession, new_digest: str, client: ClientInfo, now: datetime) -> None:
    session.refresh_digest = new_digest
    session.generation += 1
    session.rotated_at = session.last_used_at = now
    session.expires_at = _idle_expiry(now, session.absolute_expires_at)
    session.ip_address = client.ip_address
    session.user_agent = client.user_agent[:512]


def _refusal(session: AuthSession, presented_via: Delivery,
             now: datetime) -> DualAuthError | _InactiveUser | None:
    """What refusing a rotation of ``session`` returns, by the first rule it breaks
    (:data:`.rotation_rules.ROTATION_RULES`); None when it may rotate."""
    rule = broken_rule(session, presented_via, now)
    if rule is None:
        return None
    if rule.refusal == REVOKED:
        return SessionRevoked()
    if rule.refusal == INACTIVE_USER:
        return _InactiveUser(session)
    return RefreshTokenInvalid()


def _spent_or_unknown(token: _Presented, presented_via: Delivery, now: datetime) -> _Outcome:
    spent = RotatedRefreshToken.objects.filter(digest__in=token.candidates).order_by().first()
    if spent is None:
        return RefreshTokenInvalid()
    session = (AuthSession.objects.select_related(*_JOINED).select_for_update(of=("self",))
               .get(pk=spent.session_id))
    if session.revoked_at is not None:
        return SessionRevoked()
    grace = dualauth_settings.REFRESH_REUSE_GRACE
    if (grace.total_seconds() > 0
            and spent.generation == session.generation - 1  # the immediate parent only
            and session.rotated_at is not None
            and now - session.rotated_at <= grace
            and equal(token.successor_digest, session.refresh_digest)
            and _refusal(session, presented_via, now) is None):
        # An idempotent retry: the same successor again, a fresh access token, no new branch.
        return session, token.successor, False
    # A spent token came back: someone holds a copy. Revoke the whole family.
    AuthSession.objects.filter(pk=session.pk).update(revoked_at=now,
                                                     revoked_reason=RevocationReason.REUSE)
    session.revoked_at, session.revoked_reason = now, RevocationReason.REUSE
    return _Reuse(session)


def _announce_revoked(sessions: Sequence[AuthSession], reason: str, revoked_by: Any) -> None:
    revocation.mark_revoked(s.pk for s in sessions)
    for s in sessions:
        session_revoked.send(sender=AuthSession, session=s, user=s.user, reason=reason,
                             revoked_by=revoked_by)


def revoke_session(session: AuthSession, *, reason: str, revoked_by: Any = None) -> bool:
    """Revoke one session (idempotent). Returns whether this call revoked it.

    Its refresh token stops working at once; its access tokens are refused on their next use.
    """
    now = timezone.now()
    updated = AuthSession.objects.filter(pk=session.pk, revoked_at__isnull=True).update(
        revoked_at=now, revoked_reason=reason)
    if updated:
        session.revoked_at, session.revoked_reason = now, reason
        _announce_revoked([session], reason, revoked_by)
    return bool(updated)


def revoke_all_sessions(user: UserRef, *, reason: str, revoked_by: Any = None,
                        keep: str | uuid.UUID | None = None) -> int:
    """Revoke every unrevoked session of ``user`` except ``keep`` (a session id). Returns the count."""
    now = timezone.now()
    with transaction.atomic():
        # By pk: in cache mode the caller may hold a TokenUser, not a model instance.
        qs = AuthSession.objects.filter(user_id=user.pk, revoked_at__isnull=True)
        if keep is not None:
            qs = qs.exclude(pk=keep)
        sessions = list(qs.select_related("user").select_for_update(of=("self",)))
        if not sessions:
            return 0
        AuthSession.objects.filter(pk__in=[s.pk for s in sessions]).update(
            revoked_at=now, revoked_reason=reason)
    for s in sessions:
        s.revoked_at, s.revoked_reason = now, reason
    _announce_revoked(sessions, reason, revoked_by)
    return len(sessions)


def revoke_session_by_id(session_id: str, *, user_id: str | int, reason: str) -> bool:
    """Revoke the session ``session_id`` if it belongs to ``user_id``."""
    try:
        uuid.UUID(str(session_id))
    except ValueError:
        return False
    session = AuthSession.objects.select_related("user").filter(
        pk=session_id, user_id=user_id).first()
    return revoke_session(session, reason=reason) if session else False


def revoke_session_by_refresh_token(raw: object, *, reason: str) -> bool:
    """Revoke the session a (current or spent) refresh token belongs to. Unknown tokens: False."""
    if not looks_like_secret(raw):
        return False
    candidates = digests(raw, REFRESH_PURPOSE)
    session = AuthSession.objects.select_related("user").filter(
        refresh_digest__in=candidates).first()
    if session is None:
        spent = RotatedRefreshToken.objects.select_related("session__user").filter(
            digest__in=candidates).first()
        session = spent.session if spent else None
    return revoke_session(session, reason=reason) if session else False
