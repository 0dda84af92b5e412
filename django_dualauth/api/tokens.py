"""``POST refresh``, ``POST logout``, ``POST logout-all``."""

from __future__ import annotations

from django.contrib.auth import user_logged_out
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response

from .. import delivery
from ..authentication import DualAuthentication
from ..exceptions import AccessTokenInvalid, DualAuthError
from ..models.sessions import RevocationReason
from ..services import (
    decode_access_token,
    revoke_all_sessions,
    revoke_session_by_id,
    revoke_session_by_refresh_token,
    rotate_refresh_token,
    twofactor,
)
from . import ratelimits
from .base import DualAuthAPIView

__all__ = ["RefreshView", "LogoutView", "LogoutAllView"]


class RefreshView(DualAuthAPIView):
    """Rotate the refresh token. The answer goes through the delivery the session was
    created with, whatever headers this request carries."""

    def post(self, request: Request) -> Response:
        client = delivery.client_info(request)
        # Refused attempts count (guessing, replayed or missing tokens, CSRF probes). A token
        # that rotates proves a live 256-bit secret: it is neither counted nor refused, so users
        # behind one address (a carrier-grade NAT) neither use up nor lose each other's
        # refreshes, and it costs no cache round trip. Everything else is refused (429) once the
        # address's budget is spent, before any work beyond the look-up that found no rotation.
        with ratelimits.FailureBudget(request, "refresh_ip", client.ip_address or "unknown",
                                      DualAuthError) as budget:
            credential = delivery.read_refresh_credential(request, request.data)
            delivery.for_credential(credential).guard(request)
            tokens = rotate_refresh_token(credential.raw, presented_via=credential.via, client=client,
                                          admit=budget.admit)
        return delivery.for_session(tokens).token_response(request, tokens)


class LogoutView(DualAuthAPIView):
    """Revoke the caller's session, identified by (in this order) the Bearer access token,
    the body ``refreshToken``, or the cookies; a body ``tempToken`` ends a pending 2FA login.
    Always 200 and idempotent; cookies are cleared when the caller used them.
    Cookie-identified logouts are CSRF-checked."""

    def post(self, request: Request) -> Response:
        temp = request.data.get("tempToken") if hasattr(request.data, "get") else None
        if temp is not None:
            twofactor.cancel_challenge(temp)  # a half-finished 2FA login ends with the logout
        found = delivery.logout_credential(request, request.data)
        if found is not None:
            kind, credential = found
            delivery.for_credential(credential).guard(request)
            if kind == "refresh":
                revoke_session_by_refresh_token(credential.raw, reason=RevocationReason.LOGOUT)
            else:
                _revoke_by_access_token(credential.raw)
        user_logged_out.send(sender=self.__class__, request=request._request, user=None)
        # A cookie credential implies token cookies on the request: their holder gets them cleared.
        return delivery.for_ended_session(request).logout_response(request, {"success": True})


def _revoke_by_access_token(raw: str) -> None:
    # An expired but authentic token still proves which session to end.
    try:
        claims = decode_access_token(raw, verify_exp=False)
    except AccessTokenInvalid:
        return
    revoke_session_by_id(claims.sid, user_id=claims.sub, reason=RevocationReason.LOGOUT)


class LogoutAllView(DualAuthAPIView):
    """Revoke every session of the authenticated user, this one included."""

    authentication_classes = [DualAuthentication]
    permission_classes = [IsAuthenticated]

    def post(self, request: Request) -> Response:
        count = revoke_all_sessions(request.user, reason=RevocationReason.LOGOUT_ALL)
        return delivery.for_ended_session(request).logout_response(
            request, {"success": True, "revokedSessions": count})
