"""``POST sms/phone`` (and its node-auth name ``add-phone``), ``sms/phone/verify``, ``sms/send``
and ``sms/verify`` (off unless ``DUALAUTH_SMS_ENABLED``)."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response

from .. import audit, delivery, messaging
from ..authentication import DualAuthentication
from ..conf import dualauth_settings
from ..exceptions import RateLimited
from ..services import sms
from . import ratelimits
from .base import FeatureView, TokenIssuingView, client_ip_key, request_user, session_id, validated
from .inputs import EmailInput, ModeEmailInput, PasswordField, StrictCharField, TempTokenInput
from .refusals import require_email
from .responses import login_response, session_response

__all__ = ["AddPhoneView", "SMSPhoneView", "SMSPhoneVerifyView", "SMSSendView", "SMSVerifyView"]

_SENT = {"success": True}


class _PhoneInput(serializers.Serializer[Any]):
    phoneNumber = StrictCharField(max_length=32)
    password = PasswordField(required=False)


class _CodeInput(serializers.Serializer[Any]):
    code = StrictCharField(max_length=16)


class _RemovePhoneInput(serializers.Serializer[Any]):
    password = PasswordField(required=False)


class _SMSView(FeatureView):
    def enabled(self) -> bool:
        return dualauth_settings.SMS_ENABLED


def _dispatch(request: Request, outgoing: sms.OutgoingSMS | None, *, silent: bool) -> None:
    """Send off the request path, within the per-number limit (SMS pumping). ``silent``: over
    the limit nothing is sent and nothing is said (the request must not reveal the account)."""
    if outgoing is None:
        return
    try:
        ratelimits.hit(request, "sms_send_phone", outgoing.to)
    except RateLimited:
        if not silent:
            raise
        audit.record("auth.sms.suppressed", reason="sms_send_phone")
        return
    messaging.dispatch(outgoing.send)


class _AddPhone(_SMSView):
    """``POST``: add (or replace) the caller's phone: a code is sent to it; 202. Replacing a
    verified phone needs ``password``. The number is used only after ``sms/phone/verify``."""

    authentication_classes = [DualAuthentication]
    permission_classes = [IsAuthenticated]

    def post(self, request: Request) -> Response:
        data = validated(_PhoneInput, request.data)
        ratelimits.hit(request, "sms_send_ip", client_ip_key(request))
        user = request_user(request)
        with ratelimits.guarded_check(request, "reauthentication", user.pk):  # replacing a verified phone
            outgoing = sms.add_phone(user, data["phoneNumber"], password=data.get("password"))
        _dispatch(request, outgoing, silent=False)
        return Response(_SENT, status=202)


class SMSPhoneView(_AddPhone):
    """``POST`` as :class:`AddPhoneView`; ``DELETE``: remove the phone (``password`` too)."""

    def delete(self, request: Request) -> Response:
        """Remove the caller's phone (verified or pending); needs ``password`` for users with one."""
        password = validated(_RemovePhoneInput, request.data).get("password")
        user = request_user(request)
        with ratelimits.guarded_check(request, "reauthentication", user.pk):
            sms.remove_phone(user, password=password)
        audit.record("auth.sms.phone_removed", user=str(user.pk), ip=client_ip_key(request))
        return Response({"success": True})


class AddPhoneView(_AddPhone):
    """``POST add-phone``: node-auth's name for ``POST sms/phone`` (the same rules and limits)."""


class SMSPhoneVerifyView(_SMSView):
    """Confirm the pending phone with the code sent to it."""

    authentication_classes = [DualAuthentication]
    permission_classes = [IsAuthenticated]

    def post(self, request: Request) -> Response:
        code = validated(_CodeInput, request.data)["code"]
        user = request_user(request)
        with ratelimits.guarded_check(request, "sms_code", user.pk):
            sms.confirm_phone(user, code, keep_session=session_id(request))
        return Response({"success": True})


class SMSSendView(_SMSView):
    """``{email}``: always 202 ``{"success": true}`` (ENUM-02); ``{mode: "2fa", tempToken}``:
    a code for the pending 2FA login. Per-IP and per-number limits."""

    def post(self, request: Request) -> Response:
        mode = validated(ModeEmailInput, request.data)["mode"]
        ratelimits.hit(request, "sms_send_ip", client_ip_key(request))
        if mode == "2fa":
            temp = validated(TempTokenInput, request.data)["tempToken"]
            outgoing = sms.request_second_factor_code(temp, delivery=delivery.requested_delivery(request))
            _dispatch(request, outgoing, silent=False)
        else:
            require_email(request.data)
            email = validated(EmailInput, request.data)["email"]
            _dispatch(request, sms.request_login_code(email), silent=True)
        return Response(_SENT, status=202)


class SMSVerifyView(TokenIssuingView, _SMSView):
    """``{email, code}`` → the session through this request's delivery (or the 2FA challenge);
    ``{mode: "2fa", tempToken, code}`` → the session of the pending 2FA login."""

    def post(self, request: Request) -> Response:
        self.token_delivery.guard(request)
        mode = self.token_delivery.name
        client = delivery.client_info(request)
        code = validated(_CodeInput, request.data)["code"]
        if validated(ModeEmailInput, request.data)["mode"] == "2fa":
            temp = validated(TempTokenInput, request.data)["tempToken"]
            with ratelimits.guarded_check(request, "sms_code"):  # the account: the temp token's user
                tokens = sms.verify_second_factor_code(temp, code, delivery=mode, client=client)
            return session_response(request, tokens)
        require_email(request.data)
        email = validated(EmailInput, request.data)["email"]
        # Per address, counted alike for unknown addresses.
        with ratelimits.guarded_check(request, "sms_login", ratelimits.normalize_identifier(email)):
            outcome = sms.verify_login_code(email, code, delivery=mode, client=client)
        return login_response(request, outcome)
