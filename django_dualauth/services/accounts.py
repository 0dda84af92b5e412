"""The signed-in user's own account: their sessions (devices), a password change, deleting
the account. No HTTP.

Every sensitive change needs a fresh proof (the current password, or for a user without a
usable password a current TOTP code) and raises :class:`ReauthenticationFailed` when it is
wrong; callers count those failures (the ``account_user`` rate limit).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction

from .. import audit
from ..exceptions import ReauthenticationFailed, ReauthenticationRequired, ValidationFailed
from ..models import AuthSession
from ..models.sessions import RevocationReason
from ..signals import account_deleted
from . import fresh_sign_in, proofs, twofactor
from .sessions import revoke_all_sessions, revoke_session

if TYPE_CHECKING:
    from ..types import User, UserRef

__all__ = ["list_sessions", "revoke_own_session", "change_password", "set_first_password", "delete_account",
           "remove_account"]

#: The columns a session listing shows; the refresh digest and the rest are never read.
_LISTED_FIELDS = ("id", "user_id", "delivery", "created_at", "last_used_at", "expires_at", "ip_address",
                  "user_agent")


def list_sessions(user: UserRef) -> list[AuthSession]:
    """The user's active sessions (not revoked, not expired), most recently used first. One query."""
    return list(AuthSession.objects.active().filter(user_id=user.pk).only(*_LISTED_FIELDS)
                .order_by("-last_used_at", "-created_at"))


def revoke_own_session(user: UserRef, handle: object) -> bool:
    """Revoke the active session ``handle`` (its UUID) if it belongs to ``user`` (reason ``logout``).

    Returns ``False`` for a malformed handle, another user's session, or one already revoked or
    expired: callers answer all of them alike (404), so a handle reveals nothing about other users.
    """
    try:
        session_id = uuid.UUID(str(handle))
    except ValueError:
        return False
    if str(session_id) != str(handle).lower():
        return False  # the canonical form only (no braces, URN or bare hex)
    session = (AuthSession.objects.active().select_related("user")
               .filter(pk=session_id, user_id=user.pk).first())
    return revoke_session(session, reason=RevocationReason.LOGOUT) if session else False


def _locked_user(user: User) -> User:
    return get_user_model()._default_manager.select_for_update().get(pk=user.pk)


def change_password(user: User, current_password: str, new_password: str, *,
                    keep_session: str | None = None) -> int:
    """Set a new password, proven by the current one; revoke the user's sessions.

    Every session except ``keep_session`` (the caller's, or ``None`` to revoke them all) is
    revoked with reason ``password_changed``, in the same transaction as the new hash. Returns
    the number revoked. Raises :class:`ReauthenticationFailed` (wrong current password) or
    :class:`ValidationFailed` (``AUTH_PASSWORD_VALIDATORS`` refused the new one, in ``newPassword``).
    The user row is locked, so two concurrent changes cannot both pass the same old password.
    """
    with transaction.atomic():
        locked = _locked_user(user)
        if not proofs.password_matches(locked, current_password):
            raise ReauthenticationFailed()
        count = _store_new_password(locked, new_password, keep_session)
    return _password_changed(user, locked, count)


def set_first_password(user: User, new_password: str, *, session_id: object,
                       keep_session: str | uuid.UUID | None = None) -> int:
    """Set a password on an account that has no usable one (magic-link, SMS or social sign-in),
    with no proof in the body: allowed only within ``DUALAUTH_FRESH_SIGN_IN_WINDOW`` after the
    sign-in of ``session_id`` (the caller's session). Then as :func:`change_password`.

    Raises :class:`ReauthenticationRequired`: naming ``currentPassword`` when the account has a
    password; naming nothing (sign in again) when the session is not fresh.
    """
    with transaction.atomic():
        locked = _locked_user(user)
        if locked.has_usable_password():
            raise ReauthenticationRequired(["currentPassword"], "Send the current password")
        fresh_sign_in.require_fresh_sign_in(session_id, locked.pk)
        count = _store_new_password(locked, new_password, keep_session)
    return _password_changed(user, locked, count)


def _store_new_password(locked: User, new_password: str, keep_session: str | uuid.UUID | None) -> int:
    """Validate and store the new password on the locked row; revoke every session but
    ``keep_session``. Inside the caller's transaction."""
    try:
        validate_password(new_password, user=locked)
    except DjangoValidationError as exc:
        raise ValidationFailed(fields={"newPassword": list(exc.messages)}) from None
    locked.set_password(new_password)
    locked.save(update_fields=["password"])
    return revoke_all_sessions(locked, reason=RevocationReason.PASSWORD_CHANGED, keep=keep_session)


def _password_changed(user: User, locked: User, count: int) -> int:
    """After the commit: the caller's instance learns the new hash; the change is logged."""
    if user is not locked and hasattr(user, "password"):
        user.password = locked.password
    audit.record("auth.password.changed", user=str(locked.pk), revoked=count)
    return count


def _verify_proof(user: User, password: object, totp_code: object) -> None:
    """The password for a user who has one; otherwise a current TOTP code."""
    if user.has_usable_password():
        if not proofs.password_matches(user, password):
            raise ReauthenticationFailed()
    elif totp_code is not None:
        twofactor.verify_reauthentication_code(user, totp_code)
    else:
        raise ReauthenticationFailed()


def delete_account(user: User, *, password: object = None, totp_code: object = None) -> None:
    """Delete the user, proven by the password (or a current TOTP code for a user without one).

    Every session is revoked through :func:`revoke_all_sessions` (``session_revoked`` and the
    cache-mode markers), then the user row is deleted, in one transaction; the deletion cascades
    to every row of ours (sessions, challenges, recovery codes, links, devices, account state).
    Then ``account_deleted`` is sent. Raises :class:`ReauthenticationFailed` for a wrong or
    missing proof, :class:`RateLimited` while the TOTP device is throttled.
    """
    _verify_proof(user, password, totp_code)
    remove_account(user)


def remove_account(user: User, *, deleted_by: Any = None, record: Callable[[User], None] | None = None) -> None:
    """Delete the user with no proof asked: the one deletion path, for the owner (after
    :func:`delete_account`'s proof) and for staff (``deleted_by``, the staff API).

    Every session is revoked (reason ``account_deleted`` for the owner, ``admin`` for staff, with
    ``revoked_by``), then the user row is deleted, in one transaction (``record(locked)`` runs in
    it just before the delete: the staff API's ``LogEntry``); then, after the commit,
    ``account_deleted`` (with ``deleted_by``) and the audit event.
    """
    user_id, email = user.pk, getattr(user, user.get_email_field_name(), "") or ""
    reason = RevocationReason.ACCOUNT_DELETED if deleted_by is None else RevocationReason.ADMIN
    with transaction.atomic():
        locked = _locked_user(user)
        revoke_all_sessions(locked, reason=reason, revoked_by=deleted_by)
        if record is not None:
            record(locked)
        locked.delete()
    account_deleted.send(sender=type(locked), user_id=user_id, email=email, deleted_by=deleted_by)
    audit.record("auth.account.deleted", user=str(user_id), by=None if deleted_by is None else str(deleted_by.pk))
