"""``POST 2fa/setup``, ``2fa/verify-setup``, ``2fa/verify``, ``2fa/disable``, ``2fa/recovery-codes``."""

from __future__ import annotations

from typing import Any

import segno
from rest_framework import serializers
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response

from .. import delivery
from ..authentication import DualAuthentication, SetupTokenAuthentication
from ..models import LoginChallenge
from ..services import twofactor
from ..types import Delivery
from . import ratelimits
from .base import DualAuthAPIView, TokenIssuingView, request_user, session_id, validated
from .inputs import PasswordField, StrictCharField
from .refusals import require_proof
from .responses import session_response

__all__ = ["TwoFactorSetupView", "TwoFactorVerifySetupView", "TwoFactorVerifyView",
           "TwoFactorDisableView", "RecoveryCodesView"]


class _CodeInput(serializers.Serializer[Any]):
    token = StrictCharField(max_length=16)


class _VerifyInput(serializers.Serializer[Any]):
    tempToken = StrictCharField(max_length=256)
    totpCode = StrictCharField(max_length=16, required=False)
    recoveryCode = StrictCharField(max_length=64, required=False)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if ("totpCode" in attrs) == ("recoveryCode" in attrs):
            raise serializers.ValidationError("Send exactly one of totpCode and recoveryCode.")
        return attrs


class _DisableInput(serializers.Serializer[Any]):
    totpCode = StrictCharField(max_length=16, required=False)
    password = PasswordField(required=False)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if ("totpCode" in attrs) == ("password" in attrs):
            raise serializers.ValidationError("Send exactly one of totpCode and password.")
        return attrs


class _TotpInput(serializers.Serializer[Any]):
    totpCode = StrictCharField(max_length=16)


def _failures_counted(request: Any, user: Any = None) -> Any:
    """The budgets of wrong codes and passwords: per IP, and per account (the caller's, or the
    temp token's user once the check names it)."""
    return ratelimits.guarded_check(request, "second_factor", None if user is None else user.pk)


def _guard_setup_challenge(request: Request) -> LoginChallenge | None:
    """The setup challenge authenticating this request, CSRF-checked when it ends in cookies."""
    challenge = request.auth if isinstance(request.auth, LoginChallenge) else None
    if challenge is not None:
        delivery.for_session(challenge).guard(request)  # it may set session cookies: login CSRF
    return challenge


class TwoFactorSetupView(DualAuthAPIView):
    """Start TOTP enrolment: a new unconfirmed device, its secret as text, URL and QR image.

    The secret is kept server-side; ``verify-setup`` never needs it back. Open to an
    authenticated user, or to a setup temp token (``2FA_SETUP_REQUIRED`` at login).
    """

    authentication_classes = [SetupTokenAuthentication, DualAuthentication]
    permission_classes = [IsAuthenticated]

    def post(self, request: Request) -> Response:
        _guard_setup_challenge(request)
        setup = twofactor.start_totp_setup(request_user(request))
        qr = segno.make(setup.otpauth_url, error="m").png_data_uri(scale=5)
        return Response({"secret": setup.secret, "otpauthUrl": setup.otpauth_url, "qrCode": qr})


class TwoFactorVerifySetupView(DualAuthAPIView):
    """Confirm the device with a code from it; answer the recovery codes, once.

    Under a setup temp token this also finishes the login: the session is delivered as
    ``login`` would (bearer body or cookies), with ``recoveryCodes`` in the body.
    """

    authentication_classes = [SetupTokenAuthentication, DualAuthentication]
    permission_classes = [IsAuthenticated]

    def post(self, request: Request) -> Response:
        challenge = _guard_setup_challenge(request)
        code = validated(_CodeInput, request.data)["token"]  # a client-sent ``secret`` is ignored
        if challenge is None:
            user = request_user(request)
            with _failures_counted(request, user):
                codes = twofactor.confirm_totp_setup(user, code, keep_session=session_id(request))
            return Response({"success": True, "recoveryCodes": codes})
        raw = request.data.get("tempToken") if isinstance(request.data, dict) else None  # a dict: validated above
        if not raw:  # the setup token came as the access credential (SetupTokenAuthentication read it)
            credential = delivery.read_access_credential(request)
            raw = None if credential is None else credential.raw
        with _failures_counted(request):
            tokens, codes = twofactor.complete_setup_challenge(
                raw, code, delivery=Delivery(challenge.delivery), client=delivery.client_info(request))
        return session_response(request, tokens, extra={"recoveryCodes": codes})


class TwoFactorVerifyView(TokenIssuingView):
    """Second step of a login: ``{tempToken, totpCode}`` or ``{tempToken, recoveryCode}``."""

    def post(self, request: Request) -> Response:
        self.token_delivery.guard(request)
        mode = self.token_delivery.name
        data = validated(_VerifyInput, request.data)
        client = delivery.client_info(request)
        with _failures_counted(request):
            tokens = twofactor.complete_challenge(
                data["tempToken"], delivery=mode, client=client,
                totp_code=data.get("totpCode"), recovery_code=data.get("recoveryCode"))
        return session_response(request, tokens)


class TwoFactorDisableView(DualAuthAPIView):
    """Turn 2FA off, proven by a current TOTP code or the password (a stolen access token
    alone is not enough). Refused with 403 ``2FA_REQUIRED`` when policy requires 2FA."""

    authentication_classes = [DualAuthentication]
    permission_classes = [IsAuthenticated]

    def post(self, request: Request) -> Response:
        require_proof(request.data, ("totpCode", "password"))
        data = validated(_DisableInput, request.data)
        user = request_user(request)
        with _failures_counted(request, user):
            twofactor.disable_two_factor(user, totp_code=data.get("totpCode"),
                                         password=data.get("password"), keep_session=session_id(request))
        return Response({"success": True})


class RecoveryCodesView(DualAuthAPIView):
    """A fresh set of recovery codes for a current TOTP code; the old set stops working."""

    authentication_classes = [DualAuthentication]
    permission_classes = [IsAuthenticated]

    def post(self, request: Request) -> Response:
        data = validated(_TotpInput, request.data)
        user = request_user(request)
        with _failures_counted(request, user):
            codes = twofactor.regenerate_recovery_codes(user, data["totpCode"])
        return Response({"success": True, "recoveryCodes": codes})
