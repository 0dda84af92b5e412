"""The staff API (``django_dualauth.staff.urls``, mounted at ``admin/api/``): users, sessions and
the 2FA policy, for support tools and node-auth's admin clients (docs/admin.md, "The staff API").

Authenticated by :class:`DualAuthentication` under both deliveries (a cookie request's unsafe
methods pass CSRF and Origin), authorised by :class:`StaffModelPermissions`: active staff with
the Django model permissions each method names. Destructive actions (delete, deactivate, 2FA
reset, revoking sessions) also need a session signed in within ``DUALAUTH_FRESH_SIGN_IN_WINDOW``
(403 ``REAUTHENTICATION_REQUIRED``) and a ``reason``. The work is done by
:mod:`~django_dualauth.services.staff`, which records each change (LogEntry, signal, audit).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from django.contrib.auth import get_permission_codename, get_user_model
from rest_framework import serializers
from rest_framework.exceptions import NotFound
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from ..authentication import DualAuthentication
from ..exceptions import StaffPermissionRequired, ValidationFailed
from ..models import AuthSession
from ..services import fresh_sign_in, social
from ..services import staff as service
from ..services.claims import account_state
from ..types import Delivery
from .base import DualAuthAPIView, request_user, session_id, validated
from .inputs import StrictCharField
from .social import linked_account_body

if TYPE_CHECKING:
    from ..types import User
    _Input = serializers.Serializer[None]
else:
    _Input = serializers.Serializer

__all__ = ["StaffModelPermissions", "StaffView", "UserListView", "UserDetailView", "UserDeactivateView",
           "UserReactivateView", "UserSessionsView", "UserSessionsRevokeView", "UserTwoFactorRequireView",
           "UserTwoFactorResetView", "SessionListView", "SessionDetailView", "SessionsRevokeView",
           "TwoFactorPolicyView", "user_body", "session_body"]

#: The bound on a reason; a LogEntry's change message is a text column.
REASON_MAX = 500


def _perm(model: type[Any], action: str) -> str:
    return f"{model._meta.app_label}.{get_permission_codename(action, model._meta)}"


#: The models a view names in ``permissions``.
_MODELS: dict[str, Any] = {"user": get_user_model, "session": lambda: AuthSession}


class StaffModelPermissions(BasePermission):
    """Active staff (``is_active`` and ``is_staff``, read from the user row, not the token) with
    every Django model permission the view names for the method in ``permissions``:
    ``{"GET": [("user", "view")], "DELETE": [("user", "delete")]}``. A method the view does not
    name is refused (no permission means no access). Anonymous: 401; otherwise 403
    ``PERMISSION_DENIED`` naming the missing permissions."""

    def has_permission(self, request: Request, view: APIView) -> bool:
        if not getattr(request.user, "is_authenticated", False):
            return False  # DRF answers 401 NOT_AUTHENTICATED
        user = request_user(request)
        # Checked here, not left to the backends: ModelBackend refuses inactive users, a custom one need not.
        flags = [name for name, held in (("is_active", user.is_active), ("is_staff", getattr(user, "is_staff", False)))
                 if not held]
        if flags:
            raise StaffPermissionRequired(flags)
        method = "GET" if request.method == "HEAD" else request.method or ""
        if method.lower() not in ("options", "head") and not hasattr(view, method.lower()):
            return True  # DRF answers 405 METHOD_NOT_ALLOWED
        named = getattr(view, "permissions", {}).get(method)
        if not named:
            raise StaffPermissionRequired([])  # a method no permission opens is closed
        needed = [_perm(_MODELS[model](), action) for model, action in named]
        missing = [p for p in needed if not user.has_perm(p)]
        if missing:
            raise StaffPermissionRequired(missing)
        return True


class StaffView(DualAuthAPIView):
    """A view of the staff API. ``permissions``: the model permissions of each method."""

    authentication_classes = [DualAuthentication]
    permission_classes = [StaffModelPermissions]
    permissions: ClassVar[dict[str, list[tuple[str, str]]]] = {}

    def staff(self) -> User:
        return request_user(self.request)  # type: ignore[no-any-return]

    def fresh(self) -> None:
        """403 ``REAUTHENTICATION_REQUIRED`` unless the caller's session signed in moments ago."""
        fresh_sign_in.require_fresh_sign_in(session_id(self.request), self.staff().pk)


def _target(user_id: str) -> Any:
    user = service.find_user(user_id)
    if user is None:
        raise NotFound()
    return user


# --- input ----------------------------------------------------------------------------------------

class StrictBooleanField(serializers.BooleanField):
    """``true`` or ``false`` only: no string, number or null coerced."""

    def to_internal_value(self, data: Any) -> bool:
        if not isinstance(data, bool):
            self.fail("invalid")
        return data


class _SessionId(StrictCharField):
    def to_internal_value(self, data: Any) -> str:
        text = super().to_internal_value(data)
        try:
            return str(uuid.UUID(text))
        except ValueError:
            raise serializers.ValidationError("Not a session id (a UUID).") from None


class ReasonInput(_Input):
    """Why (kept in the admin's History)."""

    reason = StrictCharField(max_length=REASON_MAX)


class OptionalReasonInput(_Input):
    reason = StrictCharField(max_length=REASON_MAX, required=False, allow_blank=True, default="")


class RequireTwoFactorInput(OptionalReasonInput):
    # The body's name for it (node-auth's 2fa-policy); DRF's metaclass takes it out of the class.
    required = StrictBooleanField()  # type: ignore[assignment]


class SelectionInput(ReasonInput):
    ids = serializers.ListField(child=_SessionId(), min_length=1, max_length=service.MAX_SELECTION)


_FLAG = ["true", "false"]


class _Page(_Input):
    limit = serializers.IntegerField(min_value=1, max_value=service.MAX_LIMIT, default=service.DEFAULT_LIMIT,
                                     help_text=f"At most {service.MAX_LIMIT}.")
    offset = serializers.IntegerField(min_value=0, max_value=2**31 - 1, default=0)


class UserListQuery(_Page):
    search = serializers.CharField(max_length=254, required=False, allow_blank=True, default="",
                                   help_text="A part of the e-mail address or username, any case.")
    filter = serializers.CharField(max_length=254, required=False, allow_blank=True, default="",
                                   help_text="node-auth's name for `search`.")
    isActive = serializers.ChoiceField(choices=_FLAG, required=False)
    twoFactorEnabled = serializers.ChoiceField(choices=_FLAG, required=False)
    emailVerified = serializers.ChoiceField(choices=_FLAG, required=False)
    ordering = serializers.ChoiceField(
        choices=[f"{sign}{name}" for name in service.USER_ORDERINGS for sign in ("", "-")], default="id",
        required=False, help_text="`-` first: descending.")


class SessionListQuery(_Page):
    user = serializers.CharField(max_length=64, required=False, help_text="A user id.")
    state = serializers.ChoiceField(choices=list(service.SESSION_STATES), required=False)
    delivery = serializers.ChoiceField(choices=[d.value for d in Delivery], required=False)
    createdAfter = serializers.DateTimeField(required=False)
    createdBefore = serializers.DateTimeField(required=False)


class _UserSessionsQuery(_Page):
    state = serializers.ChoiceField(choices=list(service.SESSION_STATES), required=False)


def _query(serializer: type[serializers.Serializer[Any]], request: Request) -> dict[str, Any]:
    return validated(serializer, request.query_params.dict())


def _flag(value: str | None) -> bool | None:
    return None if value is None else value == "true"


# --- answers --------------------------------------------------------------------------------------

def user_body(user: Any) -> dict[str, Any]:
    """A user as the staff API shows it. Linked accounts (social sign-in) join here when they land."""
    model = type(user)
    state = account_state(user)
    return {
        "id": str(user.pk),
        "email": getattr(user, model.get_email_field_name(), "") or "",
        "username": str(getattr(user, model.USERNAME_FIELD, "") or ""),
        "firstName": getattr(user, "first_name", "") or "",
        "lastName": getattr(user, "last_name", "") or "",
        "isActive": bool(user.is_active),
        "isStaff": bool(getattr(user, "is_staff", False)),
        "isSuperuser": bool(getattr(user, "is_superuser", False)),
        "dateJoined": getattr(user, "date_joined", None),
        "lastLogin": getattr(user, "last_login", None),
        "emailVerified": bool(state.email_verified),
        "twoFactorEnabled": bool(state.two_factor_enabled),
        "twoFactorRequired": bool(state.two_factor_required),
    }


def _state(session: AuthSession) -> str:
    if session.revoked_at is not None:
        return "revoked"
    return "active" if session.is_active() else "expired"


def session_body(session: AuthSession, revoked_by: dict[str, str]) -> dict[str, Any]:
    user = session.user
    handle = str(session.pk)
    return {
        "id": handle,
        "sessionHandle": handle,  # node-auth's name
        "userId": str(session.user_id),
        "userEmail": getattr(user, type(user).get_email_field_name(), "") or "",
        "delivery": session.delivery,
        "authMethods": list(session.auth_methods or []),
        "state": _state(session),
        "createdAt": session.created_at,
        "lastUsedAt": session.last_used_at,
        "expiresAt": session.expires_at,
        "absoluteExpiresAt": session.absolute_expires_at,
        "ipAddress": session.ip_address,
        "userAgent": session.user_agent,
        "revokedAt": session.revoked_at,
        "revokedReason": session.revoked_reason,
        "revokedBy": revoked_by.get(handle),
    }


def _sessions_page(qs: Any, page: dict[str, Any]) -> Response:
    total = qs.count()
    found: Sequence[AuthSession] = list(qs[page["offset"]:page["offset"] + page["limit"]])
    revokers = service.revokers(s.pk for s in found if s.revoked_at is not None)
    return Response({"sessions": [session_body(s, revokers) for s in found], "total": total,
                     "limit": page["limit"], "offset": page["offset"]})


_VIEW_USER = [("user", "view")]
_CHANGE_USER = [("user", "change")]
_VIEW_SESSION = [("session", "view")]
_CHANGE_SESSION = [("session", "change")]


# --- users ----------------------------------------------------------------------------------------

class UserListView(StaffView):
    """``GET users``: a page of users, node-auth's ``limit`` / ``offset``, searched, filtered, ordered."""

    permissions = {"GET": _VIEW_USER}

    def get(self, request: Request) -> Response:
        query = _query(UserListQuery, request)
        ordering = query["ordering"]
        if ordering.lstrip("-") not in service.user_orderings():
            raise ValidationFailed(fields={"ordering": ["This user model has no such field."]})
        qs = service.users(search=query["search"] or query["filter"], is_active=_flag(query.get("isActive")),
                           two_factor_enabled=_flag(query.get("twoFactorEnabled")),
                           email_verified=_flag(query.get("emailVerified")), ordering=ordering)
        total = qs.count()
        found = list(qs[query["offset"]:query["offset"] + query["limit"]])
        return Response({"users": [user_body(u) for u in found], "total": total, "limit": query["limit"],
                         "offset": query["offset"]})


class UserDetailView(StaffView):
    """``GET users/<id>``: one user. ``DELETE users/<id>`` ``{reason}``: delete the account."""

    permissions = {"GET": _VIEW_USER, "DELETE": [("user", "delete")]}

    def get(self, request: Request, user_id: str) -> Response:
        return Response({"user": user_body(_target(user_id))})

    def delete(self, request: Request, user_id: str) -> Response:
        data = validated(ReasonInput, request.data)
        user = _target(user_id)
        self.fresh()
        service.delete(user, staff=self.staff(), reason=data["reason"])
        return Response({"success": True})


class UserDeactivateView(StaffView):
    """``POST users/<id>/deactivate`` ``{reason}``: inactive, every session revoked."""

    permissions = {"POST": _CHANGE_USER}

    def post(self, request: Request, user_id: str) -> Response:
        data = validated(ReasonInput, request.data)
        user = _target(user_id)
        self.fresh()
        count = service.deactivate(user, staff=self.staff(), reason=data["reason"])
        return Response({"success": True, "revoked": count, "user": user_body(user)})


class UserReactivateView(StaffView):
    """``POST users/<id>/reactivate`` ``{reason?}``: active again (the user signs in again)."""

    permissions = {"POST": _CHANGE_USER}

    def post(self, request: Request, user_id: str) -> Response:
        data = validated(OptionalReasonInput, request.data)
        user = _target(user_id)
        service.reactivate(user, staff=self.staff(), reason=data["reason"])
        return Response({"success": True, "user": user_body(user)})


class UserSessionsView(StaffView):
    """``GET users/<id>/sessions``: the user's sessions, newest first (every state, or ``state``)."""

    permissions = {"GET": _VIEW_SESSION}

    def get(self, request: Request, user_id: str) -> Response:
        page = _query(_UserSessionsQuery, request)
        user = _target(user_id)
        return _sessions_page(service.sessions(user_id=user.pk, state=page.get("state")), page)


class UserLinkedAccountsView(StaffView):
    """``GET users/<id>/linked-accounts``: the user's provider accounts, in the body the user's own
    ``GET auth/linked-accounts`` answers (node-auth's ``{"linkedAccounts": [...]}``)."""

    permissions = {"GET": _VIEW_USER}

    def get(self, request: Request, user_id: str) -> Response:
        user = _target(user_id)
        return Response({"linkedAccounts": [linked_account_body(a) for a in social.linked_accounts(user)]})


class UserSessionsRevokeView(StaffView):
    """``POST users/<id>/sessions/revoke`` ``{reason}``: revoke every session of the user."""

    permissions = {"POST": _CHANGE_SESSION}

    def post(self, request: Request, user_id: str) -> Response:
        data = validated(ReasonInput, request.data)
        user = _target(user_id)
        self.fresh()
        count = service.revoke_user_sessions(user, staff=self.staff(), reason=data["reason"])
        return Response({"success": True, "revoked": count})


class UserTwoFactorRequireView(StaffView):
    """``POST users/<id>/2fa/require`` ``{required, reason?}``: the per-user 2FA policy."""

    permissions = {"POST": _CHANGE_USER}

    def post(self, request: Request, user_id: str) -> Response:
        data = validated(RequireTwoFactorInput, request.data)
        user = _target(user_id)
        service.require_two_factor(user, staff=self.staff(), required=data["required"], reason=data["reason"])
        return Response({"success": True, "user": user_body(user)})


class UserTwoFactorResetView(StaffView):
    """``POST users/<id>/2fa/reset`` ``{reason}``: remove every factor, revoke every session."""

    permissions = {"POST": _CHANGE_USER}

    def post(self, request: Request, user_id: str) -> Response:
        data = validated(ReasonInput, request.data)
        user = _target(user_id)
        self.fresh()
        service.reset_two_factor(user, staff=self.staff(), reason=data["reason"])
        return Response({"success": True, "user": user_body(service.find_user(user.pk))})


# --- sessions -------------------------------------------------------------------------------------

class SessionListView(StaffView):
    """``GET sessions``: every session, newest first, with the session admin's filters."""

    permissions = {"GET": _VIEW_SESSION}

    def get(self, request: Request) -> Response:
        query = _query(SessionListQuery, request)
        user_id = None
        if "user" in query:
            user = service.find_user(query["user"])
            if user is None:
                return Response({"sessions": [], "total": 0, "limit": query["limit"], "offset": query["offset"]})
            user_id = user.pk
        qs = service.sessions(user_id=user_id, state=query.get("state"), delivery=query.get("delivery"),
                              created_after=query.get("createdAfter"), created_before=query.get("createdBefore"))
        return _sessions_page(qs, query)


class SessionDetailView(StaffView):
    """``GET sessions/<id>``; ``DELETE sessions/<id>`` ``{reason}`` revokes it (node-auth's call)."""

    permissions = {"GET": _VIEW_SESSION, "DELETE": _CHANGE_SESSION}

    def _session(self, session_id: str) -> AuthSession:
        session = service.find_session(session_id)
        if session is None:
            raise NotFound()
        return session

    def get(self, request: Request, session_id: str) -> Response:
        session = self._session(session_id)
        return Response({"session": session_body(session, service.revokers([session.pk]))})

    def delete(self, request: Request, session_id: str) -> Response:
        data = validated(ReasonInput, request.data)
        session = self._session(session_id)
        self.fresh()
        revoked = service.revoke_sessions([session.pk], staff=self.staff(), reason=data["reason"],
                                          current=_current(request))
        return Response({"success": True, "revoked": len(revoked)})


def _current(request: Request) -> str | None:
    return session_id(request)


class SessionsRevokeView(StaffView):
    """``POST sessions/revoke`` ``{ids, reason}``: revoke a selection (at most ``MAX_SELECTION``)."""

    permissions = {"POST": _CHANGE_SESSION}

    def post(self, request: Request) -> Response:
        data = validated(SelectionInput, request.data)
        self.fresh()
        ids = [uuid.UUID(i) for i in dict.fromkeys(data["ids"])]
        revoked = service.revoke_sessions(ids, staff=self.staff(), reason=data["reason"], current=_current(request))
        return Response({"success": True, "revoked": len(revoked), "ids": [str(s.pk) for s in revoked]})


class TwoFactorPolicyView(StaffView):
    """``GET 2fa-policy``: the global policy, read-only (it is the setting ``DUALAUTH_REQUIRE_2FA``)."""

    permissions = {"GET": _VIEW_USER}

    def get(self, request: Request) -> Response:
        return Response(service.two_factor_policy())
