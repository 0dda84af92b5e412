"""The staff API's operations (``django_dualauth.staff.urls``) and the bodies they answer, merged
into :data:`.operations.OPERATIONS`."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from ..api import staff
from ..exceptions import ReauthenticationRequired, SelfLockout, StaffPermissionRequired
from .bodies import DualAuthLinkedAccountsSerializer, DualAuthSuccessSerializer
from .errors import VALIDATION_REFUSAL, Refusal, domain, drf_refusal
from .operations import Operation

__all__ = ["STAFF_OPERATIONS"]

_Body = serializers.Serializer[Any]


class DualAuthStaffUserSerializer(_Body):
    id = serializers.CharField()
    email = serializers.CharField()
    username = serializers.CharField()
    firstName = serializers.CharField()
    lastName = serializers.CharField()
    isActive = serializers.BooleanField()
    isStaff = serializers.BooleanField()
    isSuperuser = serializers.BooleanField()
    dateJoined = serializers.DateTimeField(allow_null=True)
    lastLogin = serializers.DateTimeField(allow_null=True)
    emailVerified = serializers.BooleanField()
    twoFactorEnabled = serializers.BooleanField()
    twoFactorRequired = serializers.BooleanField()


class _Paged(_Body):
    total = serializers.IntegerField(help_text="Matching rows, all pages.")
    limit = serializers.IntegerField()
    offset = serializers.IntegerField()


class DualAuthStaffUserListSerializer(_Paged):
    users = DualAuthStaffUserSerializer(many=True)


class DualAuthStaffUserBodySerializer(_Body):
    user = DualAuthStaffUserSerializer()


class DualAuthStaffUserChangedSerializer(DualAuthSuccessSerializer):
    user = DualAuthStaffUserSerializer()


class DualAuthStaffDeactivatedSerializer(DualAuthStaffUserChangedSerializer):
    revoked = serializers.IntegerField(help_text="Sessions revoked.")


class DualAuthStaffSessionSerializer(_Body):
    id = serializers.CharField()
    sessionHandle = serializers.CharField(help_text="node-auth's name for `id`.")
    userId = serializers.CharField()
    userEmail = serializers.CharField()
    delivery = serializers.ChoiceField(choices=["cookie", "bearer"])
    authMethods = serializers.ListField(child=serializers.CharField())
    state = serializers.ChoiceField(choices=["active", "revoked", "expired"])
    createdAt = serializers.DateTimeField()
    lastUsedAt = serializers.DateTimeField()
    expiresAt = serializers.DateTimeField()
    absoluteExpiresAt = serializers.DateTimeField()
    ipAddress = serializers.CharField(allow_null=True)
    userAgent = serializers.CharField()
    revokedAt = serializers.DateTimeField(allow_null=True)
    revokedReason = serializers.CharField()
    revokedBy = serializers.CharField(allow_null=True, help_text="The staff user who revoked it (from the "
                                                                 "admin's History), else null.")


class DualAuthStaffSessionListSerializer(_Paged):
    sessions = DualAuthStaffSessionSerializer(many=True)


class DualAuthStaffSessionBodySerializer(_Body):
    session = DualAuthStaffSessionSerializer()


class DualAuthStaffRevokedSerializer(DualAuthSuccessSerializer):
    revoked = serializers.IntegerField(help_text="Sessions this call revoked (already revoked ones are skipped).")


class DualAuthStaffSelectionRevokedSerializer(DualAuthStaffRevokedSerializer):
    ids = serializers.ListField(child=serializers.CharField())


class DualAuthStaffTwoFactorPolicySerializer(_Body):
    # The bodies' names; DRF's metaclass takes them out of the class, so Field's attributes stay.
    required = serializers.BooleanField(  # type: ignore[assignment]
        help_text="Every user must have 2FA (`DUALAUTH_REQUIRE_2FA`).")
    source = serializers.ChoiceField(  # type: ignore[assignment]
        choices=["settings"], help_text="Where the policy lives: read-only here.")
    setting = serializers.CharField()
    usersWithTwoFactor = serializers.IntegerField()
    usersRequired = serializers.IntegerField(help_text="Users required to have 2FA by the per-user policy.")


def _named(serializer: type[_Body], name: str) -> type[_Body]:
    return type(f"DualAuthStaff{name}Serializer", (serializer,), {"__module__": __name__})


#: Every staff operation: 401 without credentials (the permission class is no IsAuthenticated),
#: 403 PERMISSION_DENIED without the model permissions.
_STAFF: tuple[Refusal, ...] = (drf_refusal("NOT_AUTHENTICATED"), domain(StaffPermissionRequired))
_MISSING = (drf_refusal("NOT_FOUND"),)
#: Destructive: a fresh sign-in, not one's own account or current session.
_DESTRUCTIVE = (domain(ReauthenticationRequired), domain(SelfLockout))
_VALIDATION = VALIDATION_REFUSAL  # a DELETE's body: the schema has no request body to say so
_FRESH = (" Needs a session signed in within `DUALAUTH_FRESH_SIGN_IN_WINDOW` (else `REAUTHENTICATION_REQUIRED`); "
          "never one's own account (`SELF_LOCKOUT`).")


def _ops() -> dict[type[Any], dict[str, Operation]]:
    return {
        staff.UserListView: {"get": Operation(
            "A page of users (search, filters, ordering)", {200: DualAuthStaffUserListSerializer}, None, _STAFF,
            "Needs `view_user`. node-auth's `limit` / `offset` (at most 100); `filter` is node-auth's name for "
            "`search`.", query_serializer=_named(staff.UserListQuery, "UserListQuery"),
            operation_id="staff_users_list")},
        staff.UserDetailView: {
            "get": Operation("One user", {200: DualAuthStaffUserBodySerializer}, None, (*_STAFF, *_MISSING),
                             "Needs `view_user`."),
            "delete": Operation(
                "Delete a user's account", {200: DualAuthSuccessSerializer}, None,
                (*_STAFF, *_MISSING, *_DESTRUCTIVE, _VALIDATION),
                "Needs `delete_user`. The JSON body carries `reason` (schema `DualAuthStaffReasonRequest`; "
                "OpenAPI 3.0 gives a DELETE no request body). The same path as account deletion: every session "
                "revoked, `account_deleted` sent." + _FRESH)},
        staff.UserDeactivateView: {"post": Operation(
            "Deactivate a user (every session revoked)", {200: DualAuthStaffDeactivatedSerializer},
            _named(staff.ReasonInput, "ReasonRequest"), (*_STAFF, *_MISSING, *_DESTRUCTIVE),
            "Needs `change_user`." + _FRESH)},
        staff.UserReactivateView: {"post": Operation(
            "Reactivate a user", {200: DualAuthStaffUserChangedSerializer},
            _named(staff.OptionalReasonInput, "OptionalReasonRequest"), (*_STAFF, *_MISSING),
            "Needs `change_user`. Revoked sessions stay revoked.")},
        staff.UserSessionsView: {"get": Operation(
            "A user's sessions", {200: DualAuthStaffSessionListSerializer}, None, (*_STAFF, *_MISSING),
            "Needs `view_authsession`.", query_serializer=_named(staff._UserSessionsQuery, "UserSessionsQuery"))},
        staff.UserLinkedAccountsView: {"get": Operation(
            "A user's linked provider accounts", {200: DualAuthLinkedAccountsSerializer}, None, (*_STAFF, *_MISSING),
            "Needs `view_user`. The body of the user's own `GET auth/linked-accounts`.")},
        staff.UserSessionsRevokeView: {"post": Operation(
            "Revoke every session of a user", {200: DualAuthStaffRevokedSerializer},
            _named(staff.ReasonInput, "RevokeUserSessionsRequest"), (*_STAFF, *_MISSING, *_DESTRUCTIVE),
            "Needs `change_authsession`." + _FRESH)},
        staff.UserTwoFactorRequireView: {"post": Operation(
            "Require 2FA of a user, or stop requiring it", {200: DualAuthStaffUserChangedSerializer},
            _named(staff.RequireTwoFactorInput, "RequireTwoFactorRequest"), (*_STAFF, *_MISSING),
            "Needs `change_user`.")},
        staff.UserTwoFactorResetView: {"post": Operation(
            "Reset a user's 2FA (factors removed, every session revoked)", {200: DualAuthStaffUserChangedSerializer},
            _named(staff.ReasonInput, "ResetTwoFactorRequest"), (*_STAFF, *_MISSING, *_DESTRUCTIVE),
            "Needs `change_user`." + _FRESH)},
        staff.SessionListView: {"get": Operation(
            "Every session (filters: user, state, delivery, creation time)", {200: DualAuthStaffSessionListSerializer},
            None, _STAFF, "Needs `view_authsession`.",
            query_serializer=_named(staff.SessionListQuery, "SessionListQuery"), operation_id="staff_sessions_list")},
        staff.SessionDetailView: {
            "get": Operation("One session", {200: DualAuthStaffSessionBodySerializer}, None, (*_STAFF, *_MISSING),
                             "Needs `view_authsession`."),
            "delete": Operation(
                "Revoke one session", {200: DualAuthStaffRevokedSerializer}, None,
                (*_STAFF, *_MISSING, *_DESTRUCTIVE, _VALIDATION),
                "Needs `change_authsession`. The JSON body carries `reason`. Not the caller's current session "
                "(`SELF_LOCKOUT`); needs a fresh sign-in (`REAUTHENTICATION_REQUIRED`).")},
        staff.SessionsRevokeView: {"post": Operation(
            "Revoke a selection of sessions (at most 100)", {200: DualAuthStaffSelectionRevokedSerializer},
            _named(staff.SelectionInput, "RevokeSessionsRequest"), (*_STAFF, *_DESTRUCTIVE),
            "Needs `change_authsession`. Unknown and already revoked ids are skipped." + _FRESH)},
        staff.TwoFactorPolicyView: {"get": Operation(
            "The global 2FA policy (read-only: a setting)", {200: DualAuthStaffTwoFactorPolicySerializer}, None,
            _STAFF, "Needs `view_user`.")},
    }


STAFF_OPERATIONS = _ops()
