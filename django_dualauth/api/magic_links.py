"""``POST magic-link/send`` and ``POST magic-link/verify`` (off unless ``DUALAUTH_MAGIC_LINK_ENABLED``)."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from .. import delivery, messaging
from ..conf import dualauth_settings
from ..services import magic_links
from . import ratelimits
from .base import FeatureView, TokenIssuingView, client_ip_key, validated
from .inputs import EmailInput, ModeEmailInput, ModeInput, StrictCharField, TempTokenInput
from .responses import login_response, session_response

__all__ = ["MagicLinkSendView", "MagicLinkVerifyView"]

_SENT = {"success": True}


class _VerifyLogin(serializers.Serializer[Any]):
    token = StrictCharField(max_length=256)


class _VerifySecondFactor(_VerifyLogin):
    tempToken = StrictCharField(max_length=256)


class _MagicLinkView(FeatureView):
    referrer_policy = "no-referrer"  # ML-05: the token must not leak onwards

    def enabled(self) -> bool:
        return dualauth_settings.MAGIC_LINK_ENABLED


class MagicLinkSendView(_MagicLinkView):
    """Always 202 ``{"success": true}`` for a well-formed request, whether or not the account
    exists (ENUM-02); the look-up, the link and the mail happen off the request path, so the
    answer takes as long either way. Rate-limited per IP and per normalised address, counted
    whether or not the account exists."""

    def post(self, request: Request) -> Response:
        mode = validated(ModeEmailInput, request.data)["mode"]
        client = delivery.client_info(request)
        ratelimits.hit(request, "magic_link_ip", client_ip_key(request))
        if mode == "2fa":
            temp = validated(TempTokenInput, request.data)["tempToken"]
            # The temp token already proves the account: nothing to hide, and its errors are answered.
            message = magic_links.request_second_factor_link(
                temp, delivery=delivery.requested_delivery(request), client=client)
            messaging.dispatch(message.send)
        else:
            email = validated(EmailInput, request.data)["email"]
            ratelimits.hit(request, "magic_link_email", ratelimits.normalize_identifier(email))
            messaging.dispatch_built(magic_links.request_login_link, email, client=client)
        return Response(_SENT, status=202)


class MagicLinkVerifyView(TokenIssuingView, _MagicLinkView):
    """Consume a link (POST only: a GET by a mail scanner never reaches this view's logic).

    ``{token}`` → the session through this request's delivery, or the 2FA challenge;
    ``{mode: "2fa", tempToken, token}`` → the session of the pending 2FA login.
    """

    def post(self, request: Request) -> Response:
        self.token_delivery.guard(request)
        mode = self.token_delivery.name
        client = delivery.client_info(request)
        if validated(ModeInput, request.data)["mode"] == "2fa":
            data = validated(_VerifySecondFactor, request.data)
            tokens = magic_links.verify_second_factor_link(data["token"], data["tempToken"],
                                                           delivery=mode, client=client)
            return session_response(request, tokens)
        data = validated(_VerifyLogin, request.data)
        outcome = magic_links.verify_login_link(data["token"], delivery=mode, client=client)
        return login_response(request, outcome)
