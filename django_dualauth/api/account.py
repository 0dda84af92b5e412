"""``GET sessions``, ``POST sessions/cleanup``, ``DELETE sessions/<handle>``, ``POST change-password``,
``DELETE account``.

Each acts on the authenticated caller only. Cookie-credentialed ``POST`` and ``DELETE``
requests are CSRF-checked by :class:`DualAuthentication` (unsafe methods).
"""

from __future__ import annotations

from typing import Any

from rest_framework import serializers
from rest_framework.exceptions import NotFound
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response

from .. import delivery
from ..authentication import DualAuthentication
from ..conf import dualauth_settings
from ..services import accounts, session_cleanup
from . import ratelimits
from .base import DualAuthAPIView, request_user, session_id, validated
from .inputs import PasswordField, StrictCharField
from .refusals import require_proof

__all__ = ["SessionListView", "SessionCleanupView", "SessionDetailView", "ChangePasswordView", "DeleteAccountView"]


class _ChangePasswordInput(serializers.Serializer[Any]):
    currentPassword = PasswordField(allow_blank=True)  # "": setting a first password
    newPassword = PasswordField()


class _DeleteAccountInput(serializers.Serializer[Any]):
    password = PasswordField(required=False)
    totpCode = StrictCharField(max_length=16, required=False)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if ("password" in attrs) == ("totpCode" in attrs):
            raise serializers.ValidationError("Send exactly one of password and totpCode.")
        return attrs


def _ended_response(request: Request, data: dict[str, Any]) -> Response:
    """The caller's own session ended: clear the token cookies if the caller used them."""
    return delivery.for_ended_session(request).logout_response(request, data)


def _reauthentication_counted(request: Request, user: Any) -> Any:
    """The budgets of wrong proofs per IP and per user (the user's shared with every other check)."""
    return ratelimits.guarded_check(request, "reauthentication", user.pk)


class SessionListView(DualAuthAPIView):
    """The caller's active sessions (devices); ``current`` marks the one making this request."""

    authentication_classes = [DualAuthentication]
    permission_classes = [IsAuthenticated]

    def get(self, request: Request) -> Response:
        current = session_id(request)
        sessions = accounts.list_sessions(request.user)  # by pk: no user query in cache mode
        return Response({"sessions": [_listed(s, str(s.pk) == current) for s in sessions]})


def _listed(s: Any, current: bool) -> dict[str, Any]:
    handle = str(s.pk)
    return {
        "sessionHandle": handle,
        "handle": handle,  # node-auth's Flutter package reads these two names
        "createdAt": s.created_at,
        "lastActiveAt": s.last_used_at,
        "expiresAt": s.expires_at,
        "ipAddress": s.ip_address,
        "userAgent": s.user_agent,
        "deliveryMode": s.delivery,
        "current": current,
        "isCurrent": current,
    }


class SessionCleanupView(DualAuthAPIView):
    """Delete the caller's own ended sessions (expired, or revoked by their own logout): never
    the current one, never another user's, never a revocation kept as evidence
    (:mod:`~django_dualauth.services.session_cleanup`). ``{"success": true, "deleted": n}``."""

    authentication_classes = [DualAuthentication]
    permission_classes = [IsAuthenticated]

    def post(self, request: Request) -> Response:
        deleted = session_cleanup.delete_ended_sessions(request.user, current=session_id(request))
        return Response({"success": True, "deleted": deleted})


class SessionDetailView(DualAuthAPIView):
    """Revoke one of the caller's sessions. Another user's handle, a malformed one, or a
    session already ended: 404 alike. Ending the current session clears its cookies."""

    authentication_classes = [DualAuthentication]
    permission_classes = [IsAuthenticated]

    def delete(self, request: Request, handle: str) -> Response:
        if not accounts.revoke_own_session(request.user, handle):
            raise NotFound()
        if handle.lower() == (session_id(request) or "").lower():
            return _ended_response(request, {"success": True})
        return Response({"success": True})


class ChangePasswordView(DualAuthAPIView):
    """``{currentPassword, newPassword}``: the user's other sessions are revoked; the caller's is
    kept (``DUALAUTH_PASSWORD_CHANGE_KEEPS_CURRENT_SESSION``), or revoked too and its cookies cleared.
    ``currentPassword: ""`` sets a first password on an account without one, only within
    ``DUALAUTH_FRESH_SIGN_IN_WINDOW`` of the session's sign-in (else 403 ``REAUTHENTICATION_REQUIRED``)."""

    authentication_classes = [DualAuthentication]
    permission_classes = [IsAuthenticated]

    def post(self, request: Request) -> Response:
        data = validated(_ChangePasswordInput, request.data)
        user = request_user(request)
        keep = dualauth_settings.PASSWORD_CHANGE_KEEPS_CURRENT_SESSION
        with _reauthentication_counted(request, user):
            if data["currentPassword"] == "":
                accounts.set_first_password(user, data["newPassword"], session_id=session_id(request),
                                            keep_session=session_id(request) if keep else None)
            else:
                accounts.change_password(user, data["currentPassword"], data["newPassword"],
                                         keep_session=session_id(request) if keep else None)
        if keep:
            return Response({"success": True})
        return _ended_response(request, {"success": True})


class DeleteAccountView(DualAuthAPIView):
    """``{password}`` (or ``{totpCode}`` for a user without a usable password): delete the
    account and everything of ours tied to it; cookies are cleared."""

    authentication_classes = [DualAuthentication]
    permission_classes = [IsAuthenticated]

    def delete(self, request: Request) -> Response:
        require_proof(request.data, ("password", "totpCode"))
        data = validated(_DeleteAccountInput, request.data)
        user = request_user(request)
        with _reauthentication_counted(request, user):
            accounts.delete_account(user, password=data.get("password"), totp_code=data.get("totpCode"))
        return _ended_response(request, {"success": True})
