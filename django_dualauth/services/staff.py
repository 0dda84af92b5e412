"""What staff do to other people's accounts and sessions: find, deactivate, reactivate, delete,
require or reset 2FA, revoke sessions. No HTTP; the staff API (``api/staff.py``) and the Django
admin (``admin.py``) call it.

Every change goes through the same functions as the rest of the package (``revoke_session``,
``revoke_all_sessions``, ``accounts.remove_account``, ``twofactor.reset_two_factor``), so the
cache-mode markers, ``session_revoked`` and the cleanup of account deletion are the same. Each
one is then recorded three ways: a Django admin ``LogEntry`` (with the staff member, the object
and the reason, so the admin's History shows it; only when ``django.contrib.admin`` is
installed), the ``staff_action`` signal, and the audit event ``auth.staff.action`` (identifiers
only: the reason, free text, stays out of the log).

Staff cannot lock themselves out by accident: deactivating, deleting, resetting the 2FA of, or
revoking every session of one's own account, and revoking one's own current session, raise
:class:`SelfLockout`. A staff member who is not a superuser cannot act on a superuser
(:class:`StaffPermissionRequired` naming ``is_superuser``).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from django.apps import apps
from django.contrib.auth import get_user_model
from django.core.exceptions import FieldDoesNotExist, ValidationError
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from ..conf import dualauth_settings
from ..exceptions import SelfLockout, StaffPermissionRequired
from ..models import AccountState, AuthSession
from ..models.sessions import RevocationReason
from ..signals import staff_action
from . import accounts, twofactor
from .claims import update_account_state
from .sessions import revoke_all_sessions, revoke_session

if TYPE_CHECKING:
    from ..types import User

__all__ = [
    "MAX_LIMIT", "DEFAULT_LIMIT", "MAX_SELECTION", "USER_ORDERINGS", "SESSION_STATES",
    "user_orderings", "users", "find_user", "sessions", "find_session", "revokers", "two_factor_policy",
    "deactivate", "reactivate", "delete", "require_two_factor", "reset_two_factor",
    "revoke_user_sessions", "revoke_sessions", "log_session_revocations",
]

#: Page sizes of the lists (node-auth's ``limit``): the default, and the most one page holds.
DEFAULT_LIMIT = 20
MAX_LIMIT = 100
#: The most sessions one "revoke a selection" takes.
MAX_SELECTION = 100

#: The API's ordering names and the user fields they sort on (those the user model has).
USER_ORDERINGS = {"id": "pk", "email": None, "username": None, "dateJoined": "date_joined",
                  "lastLogin": "last_login"}
SESSION_STATES = ("active", "revoked", "expired")
#: The prefix of every LogEntry message of a revocation: how "revoked by" is found again.
_REVOKED = "Revoked"


def _field(name: str) -> str | None:
    model = get_user_model()
    try:
        model._meta.get_field(name)
    except FieldDoesNotExist:
        return None
    return name


def user_orderings() -> dict[str, str]:
    """``{api name: user field}`` for the orderings this user model supports (``-`` reverses)."""
    model = get_user_model()
    found = {}
    for name, target in USER_ORDERINGS.items():
        field = target or (model.get_email_field_name() if name == "email" else model.USERNAME_FIELD)
        if field == "pk" or _field(field):
            found[name] = field
    return found


def users(*, search: str = "", is_active: bool | None = None, two_factor_enabled: bool | None = None,
          email_verified: bool | None = None, ordering: str = "id") -> QuerySet[Any]:
    """The users matching the filters, with their ``AccountState`` joined (no query per row).

    ``search`` matches the e-mail or username (case-insensitive, a substring); a user without an
    ``AccountState`` row counts as 2FA off and unverified. ``ordering`` is a key of
    :func:`user_orderings`, ``-`` first to reverse; the caller validated it.
    """
    model = get_user_model()
    qs = model._default_manager.select_related("dualauth_state")
    if search:
        names = dict.fromkeys(f for f in (model.get_email_field_name(), model.USERNAME_FIELD) if _field(f))
        match = Q()
        for name in names:
            match |= Q(**{f"{name}__icontains": search})
        qs = qs.filter(match)
    if is_active is not None:
        qs = qs.filter(is_active=is_active)
    for flag, wanted in (("two_factor_enabled", two_factor_enabled), ("email_verified", email_verified)):
        if wanted is True:
            qs = qs.filter(**{f"dualauth_state__{flag}": True})
        elif wanted is False:
            qs = qs.filter(Q(dualauth_state__isnull=True) | Q(**{f"dualauth_state__{flag}": False}))
    descending = ordering.startswith("-")
    field = user_orderings()[ordering.lstrip("-")]
    return qs.order_by(f"-{field}" if descending else field, "-pk" if descending else "pk")


def find_user(raw_id: object) -> User | None:
    """The user whose primary key is ``raw_id`` (a path segment), with its ``AccountState``; None
    for an unknown or malformed id."""
    model = get_user_model()
    try:
        field = model._meta.pk
        pk = field.to_python(raw_id)
        field.run_validators(pk)  # the database's range for an integer key: PostgreSQL refuses a bigger one
        found: User | None = model._default_manager.select_related("dualauth_state").filter(pk=pk).first()
    except (ValidationError, ValueError, TypeError, OverflowError):
        return None
    return found


def sessions(*, user_id: int | str | None = None, state: str | None = None, delivery: str | None = None,
             created_after: datetime | None = None, created_before: datetime | None = None) -> QuerySet[AuthSession]:
    """Sessions, newest first, with their user joined; the filters of the session admin."""
    qs = AuthSession.objects.select_related("user").order_by("-created_at", "-pk")
    if user_id is not None:
        qs = qs.filter(user_id=user_id)
    now = timezone.now()
    if state == "active":
        qs = qs.filter(revoked_at__isnull=True, expires_at__gt=now, absolute_expires_at__gt=now)
    elif state == "revoked":
        qs = qs.filter(revoked_at__isnull=False)
    elif state == "expired":
        qs = qs.filter(Q(expires_at__lte=now) | Q(absolute_expires_at__lte=now), revoked_at__isnull=True)
    if delivery:
        qs = qs.filter(delivery=delivery)
    if created_after is not None:
        qs = qs.filter(created_at__gte=created_after)
    if created_before is not None:
        qs = qs.filter(created_at__lt=created_before)
    return qs


def find_session(raw_id: object) -> AuthSession | None:
    """The session ``raw_id`` (its UUID, canonical form), with its user; None when unknown or malformed."""
    try:
        pk = uuid.UUID(str(raw_id))
    except ValueError:
        return None
    if str(pk) != str(raw_id).lower():
        return None
    return AuthSession.objects.select_related("user").filter(pk=pk).first()


def revokers(session_ids: Iterable[object]) -> dict[str, str]:
    """``{session id: staff user id}`` of the staff member who revoked each of ``session_ids``,
    read from the admin's ``LogEntry`` records (the session row keeps the reason, not the person).
    One query; empty without ``django.contrib.admin``."""
    ids = [str(i) for i in session_ids]
    if not ids or not apps.is_installed("django.contrib.admin"):
        return {}
    from django.contrib.admin.models import CHANGE, LogEntry
    from django.contrib.contenttypes.models import ContentType

    entries = (LogEntry.objects.filter(content_type=ContentType.objects.get_for_model(AuthSession),
                                       object_id__in=ids, action_flag=CHANGE,
                                       change_message__startswith=_REVOKED)
               .order_by("action_time", "pk").values_list("object_id", "user_id"))
    return {str(object_id): str(user_id) for object_id, user_id in entries}


def two_factor_policy() -> dict[str, Any]:
    """The global 2FA policy (``DUALAUTH_REQUIRE_2FA``, a setting: read-only here) and how many
    users have 2FA on, or are required to have it. Two queries."""
    states = AccountState.objects.all()
    return {"required": dualauth_settings.REQUIRE_2FA, "source": "settings", "setting": "DUALAUTH_REQUIRE_2FA",
            "usersWithTwoFactor": states.filter(two_factor_enabled=True).count(),
            "usersRequired": states.filter(two_factor_required=True).count()}


# --- changes ------------------------------------------------------------------------------------

def _guard(target: User, staff: User, *, self_allowed: bool = False) -> None:
    if not self_allowed and target.pk == staff.pk:
        raise SelfLockout()
    if getattr(target, "is_superuser", False) and not getattr(staff, "is_superuser", False):
        raise StaffPermissionRequired(["is_superuser"])


def _text(message: str, reason: str) -> str:
    return f"{message} Reason: {reason}" if reason else message


def _log(staff: User, objects: Sequence[Any], kind: str, text: str) -> None:
    """One ``LogEntry`` per object (``kind``: "change" or "deletion"), as the admin writes them."""
    if objects and apps.is_installed("django.contrib.admin"):
        from django.contrib.admin.models import CHANGE, DELETION, LogEntry

        LogEntry.objects.log_actions(user_id=staff.pk, queryset=objects, change_message=text,
                                     action_flag=DELETION if kind == "deletion" else CHANGE)


def _announce(staff: User, action: str, model: type[Any], ids: Sequence[object], reason: str,
              details: dict[str, Any]) -> None:
    staff_action.send(sender=model, staff=staff, action=action, target_model=model,
                      target_ids=[str(i) for i in ids], reason=reason, details=details)


def _locked(user: User) -> User:
    locked: User = get_user_model()._default_manager.select_for_update().get(pk=user.pk)
    return locked


def deactivate(user: User, *, staff: User, reason: str) -> int:
    """Deactivate ``user`` and revoke every session (reason ``user_inactive``, ``revoked_by`` =
    ``staff``) in one transaction with the user row locked, so a refresh racing it loses.
    Returns the number of sessions revoked."""
    _guard(user, staff)
    with transaction.atomic():
        locked = _locked(user)
        count = revoke_all_sessions(locked, reason=RevocationReason.USER_INACTIVE, revoked_by=staff)
        locked.is_active = False
        locked.save(update_fields=["is_active"])  # the post_save receiver finds nothing left to revoke
        _log(staff, [locked], "change", _text(f"Deactivated; {count} session(s) revoked.", reason))
    user.is_active = False
    _announce(staff, "user.deactivated", type(user), [user.pk], reason, {"sessionsRevoked": count})
    return count


def reactivate(user: User, *, staff: User, reason: str) -> None:
    """Make ``user`` active again. Their revoked sessions stay revoked: they sign in again."""
    _guard(user, staff, self_allowed=True)
    with transaction.atomic():
        locked = _locked(user)
        locked.is_active = True
        locked.save(update_fields=["is_active"])
        _log(staff, [locked], "change", _text("Reactivated.", reason))
    user.is_active = True
    _announce(staff, "user.reactivated", type(user), [user.pk], reason, {})


def delete(user: User, *, staff: User, reason: str) -> None:
    """Delete ``user`` through the one deletion path (``accounts.remove_account``: sessions
    revoked, ``account_deleted`` with ``deleted_by`` after the commit), the ``LogEntry`` in its
    transaction."""
    _guard(user, staff)
    user_id, model = user.pk, type(user)
    accounts.remove_account(user, deleted_by=staff,
                            record=lambda locked: _log(staff, [locked], "deletion", _text("Deleted.", reason)))
    _announce(staff, "user.deleted", model, [user_id], reason, {})


def require_two_factor(user: User, *, staff: User, required: bool, reason: str) -> None:
    """Set the per-user policy: without a device, ``user`` must set up 2FA at the next login."""
    _guard(user, staff, self_allowed=True)
    with transaction.atomic():
        update_account_state(user, two_factor_required=required)
        _log(staff, [user], "change", _text(f"Two-factor authentication {'required' if required else 'not required'}.",
                                           reason))
    _announce(staff, "user.2fa_required", type(user), [user.pk], reason, {"required": required})


def reset_two_factor(user: User, *, staff: User, reason: str) -> None:
    """Remove every factor of ``user`` and revoke every session (``twofactor.reset_two_factor``)."""
    _guard(user, staff)
    twofactor.reset_two_factor(user, revoked_by=staff)
    _log(staff, [user], "change", _text("Two-factor authentication reset; every session revoked.", reason))
    _announce(staff, "user.2fa_reset", type(user), [user.pk], reason, {})


def log_session_revocations(staff: User, revoked: Sequence[AuthSession], reason: str, *, where: str) -> None:
    """Record revocations made by ``staff`` (``where``: "staff API", "Django admin"): one
    ``LogEntry`` per session (one INSERT), the signal and the audit event."""
    if not revoked:
        return
    _log(staff, revoked, "change", _text(f"{_REVOKED} ({where}).", reason))
    _announce(staff, "sessions.revoked", AuthSession, [s.pk for s in revoked], reason, {"count": len(revoked)})


def revoke_user_sessions(user: User, *, staff: User, reason: str) -> int:
    """Revoke every session of ``user`` (reason ``admin``). Not one's own: that is ``auth/logout-all``."""
    _guard(user, staff)
    with transaction.atomic():
        ids = list(AuthSession.objects.filter(user_id=user.pk, revoked_at__isnull=True).values_list("pk", flat=True))
        count = revoke_all_sessions(user, reason=RevocationReason.ADMIN, revoked_by=staff)
        revoked = list(AuthSession.objects.filter(pk__in=ids, revoked_reason=RevocationReason.ADMIN)
                       .select_related("user"))
        log_session_revocations(staff, revoked, reason, where="staff API")
    return count


def revoke_sessions(session_ids: Sequence[uuid.UUID], *, staff: User, reason: str,
                    current: str | None) -> list[AuthSession]:
    """Revoke the sessions ``session_ids`` that are not revoked yet (reason ``admin``); unknown
    ids are skipped. Returns those this call revoked. ``current`` (the caller's own session) in
    the selection is :class:`SelfLockout`, as is a superuser's session for a staff member who is not one."""
    if current is not None and current in {str(i) for i in session_ids}:
        raise SelfLockout()
    found = list(AuthSession.objects.select_related("user").filter(pk__in=list(session_ids)))
    for session in found:
        _guard(session.user, staff, self_allowed=True)
    revoked = [s for s in found if revoke_session(s, reason=RevocationReason.ADMIN, revoked_by=staff)]
    log_session_revocations(staff, revoked, reason, where="staff API")
    return revoked
