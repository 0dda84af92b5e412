"""Linking by proof of the mailbox: ``POST link-request`` and ``POST link-verify``
(node-auth's contract; docs/social-login.md, "Linking by e-mail").

Off (404) until ``DUALAUTH_LINK_VERIFY_URL`` names the front-end page the mail links to.
``link-request`` answers 202 ``{"success": true}`` whatever the account and builds and sends the
mail off the request path (ENUM-02), rate-limited like ``forgot-password``; ``link-verify``
consumes with POST only, so a mail scanner's GET of the front-end link changes nothing.
"""

from __future__ import annotations

from typing import Any

from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from .. import delivery, messaging
from ..authentication import DualAuthentication
from ..conf import dualauth_settings
from ..exceptions import NotAuthenticated, ValidationFailed
from ..services import social, social_linking
from . import ratelimits
from .base import FeatureView, TokenIssuingView, client_ip_key, request_user, validated
from .inputs import StrictCharField, StrictEmailField
from .responses import login_response

__all__ = ["LinkRequestView", "LinkVerifyView"]

_ACCEPTED = {"success": True}


class _LinkRequestInput(serializers.Serializer[Any]):
    email = StrictEmailField(max_length=254, help_text="Signed in: the mailbox to link. Signed out: the address "
                                                       "of the `OAUTH_ACCOUNT_CONFLICT` answer.")
    provider = StrictCharField(max_length=32, required=False, default=social_linking.EMAIL_PROVIDER, help_text=(
        '"email": link the mailbox `email` (signed in only). A configured provider\'s name: signed out, after '
        "its sign-in answered `OAUTH_ACCOUNT_CONFLICT`."))
    emailLang = StrictCharField(max_length=16, required=False,
                                help_text="node-auth's; accepted and unused (the templates decide).")


class _LinkVerifyInput(serializers.Serializer[Any]):
    token = StrictCharField(max_length=256, help_text="The token of the mailed link.")
    loginAfterLinking = serializers.BooleanField(required=False, default=False, help_text=(
        "Also sign in (the session through this request's delivery, or the 2FA challenge) when the link was "
        "mailed to the account's own address."))
    provider = StrictCharField(max_length=32, required=False,
                               help_text="Sent by node-auth's Flutter package; unused.")


class _LinkView(FeatureView):
    def enabled(self) -> bool:
        return bool(dualauth_settings.LINK_VERIFY_URL)


class LinkRequestView(_LinkView):
    """Mail a single-use linking link. Signed in (a cookie request passes CSRF and Origin):
    ``provider`` "email" (the default) links the mailbox ``email`` to the caller's account.
    Signed out: after ``OAUTH_ACCOUNT_CONFLICT``, ``{email, provider}`` mails the owner of
    ``email`` a link that attaches the provider account that sign-in proved. Always 202 alike."""

    authentication_classes = [DualAuthentication]
    referrer_policy = "no-referrer"

    def post(self, request: Request) -> Response:
        data = validated(_LinkRequestInput, request.data)
        provider, email = data["provider"], data["email"]
        client = delivery.client_info(request)
        ratelimits.hit(request, "account_ip", client_ip_key(request))
        if request.user.is_authenticated:
            if provider != social_linking.EMAIL_PROVIDER:
                # A provider account is proven by its id_token: oauth/<provider>/link.
                raise ValidationFailed(fields={"provider": [
                    'Signed in, only "email" links by mail; link a provider account with oauth/<provider>/link.']})
            user = request_user(request)
            ratelimits.hit(request, "account_email", f"user:{user.pk}")  # no flooding other inboxes
            messaging.dispatch_built(social_linking.mailbox_link_mail, user.pk, email, client=client)
            return Response(_ACCEPTED, status=202)
        if provider == social_linking.EMAIL_PROVIDER:
            raise NotAuthenticated()
        social.configured_provider(provider)
        ratelimits.hit(request, "account_email", ratelimits.normalize_identifier(email))
        messaging.dispatch_built(social_linking.conflict_link_mail, email, provider, client=client)
        return Response(_ACCEPTED, status=202)


class LinkVerifyView(TokenIssuingView, _LinkView):
    """Link with the mailed token: ``{"success": true, "linkedAccount"}``; with
    ``loginAfterLinking: true`` and a token mailed to the account's own address, the session
    through this request's delivery (tokens in the body for bearer), or the 2FA challenge, as
    every sign-in answers."""

    referrer_policy = "no-referrer"  # the token came from a page URL: it must not leak onwards

    def post(self, request: Request) -> Response:
        data = validated(_LinkVerifyInput, request.data)
        login_after = data["loginAfterLinking"]
        if login_after:
            self.token_delivery.guard(request)  # login CSRF, as every sign-in
        ratelimits.hit(request, "account_ip", client_ip_key(request))
        # The delivery is chosen (and may refuse) only for a sign-in: a link alone issues nothing.
        mode = self.token_delivery.name if login_after else None
        link, outcome = social_linking.verify_link(data["token"], delivery=mode, client=delivery.client_info(request))
        listed = {"provider": link.provider, "providerAccountId": link.provider_account_id, "email": link.email,
                  "linkedAt": link.linked_at}
        if outcome is None:
            return Response({"success": True, "linkedAccount": listed})
        return login_response(request, outcome)
