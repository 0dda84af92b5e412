"""Social sign-in with an id_token and the linked accounts (docs/social-login.md).

``POST oauth/<provider>/nonce``, ``POST oauth/<provider>/token`` (sign in or up), ``POST
oauth/<provider>/link`` (from a session), ``GET linked-accounts`` and ``DELETE
linked-accounts/<provider>/<providerAccountId>``. node-auth's ``GET oauth/<provider>`` and
``oauth/<provider>/callback`` stay free for the redirect flow. While ``DUALAUTH_SOCIAL_PROVIDERS``
is empty every one answers 404 (and is absent from the schema); a provider that is not configured
answers node-auth's 404.
"""

from __future__ import annotations

from typing import Any

from rest_framework import serializers
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response

from .. import delivery
from ..authentication import DualAuthentication
from ..conf import snapshot
from ..services import fresh_sign_in, social
from . import ratelimits
from .base import FeatureView, TokenIssuingView, client_ip_key, request_user, session_id, validated
from .inputs import NamesInput, StrictCharField
from .responses import login_response

__all__ = ["LinkedAccountDetailView", "LinkedAccountsView", "OAuthLinkView", "OAuthNonceView", "OAuthTokenView"]


class _IdTokenInput(serializers.Serializer[Any]):
    idToken = StrictCharField(max_length=social.MAX_ID_TOKEN_LENGTH, trim_whitespace=False)
    nonce = StrictCharField(max_length=256, trim_whitespace=False)


class _LinkInput(_IdTokenInput):
    #: Apple's ``authorizationCode`` (exchanged for Apple's refresh token where the team key is set).
    authorizationCode = StrictCharField(required=False, max_length=2048, trim_whitespace=False)


class _SignInInput(_LinkInput):
    #: Apple hands the name to the app at the first authorization only, never in the id_token.
    name = NamesInput(required=False)


class _SocialView(FeatureView):
    def enabled(self) -> bool:
        return bool(snapshot().social_providers)


class OAuthNonceView(_SocialView):
    """A nonce for one sign-in (or link) with the provider: ``{"nonce", "expiresAt"}``. Single
    use, bound to the provider; the app passes it to the platform SDK (Apple: its SHA-256)."""

    def post(self, request: Request, provider: str) -> Response:
        chosen = social.configured_provider(provider, id_token=True)
        ratelimits.hit(request, "oauth_nonce_ip", client_ip_key(request))
        raw, expires = social.issue_nonce(chosen, client=delivery.client_info(request))
        return Response({"nonce": raw, "expiresAt": expires}, status=201)


class OAuthTokenView(_SocialView, TokenIssuingView):
    """Sign in (or up) with the provider's id_token and the nonce: the session through the
    request's delivery, or the 2FA challenge password login answers."""

    def post(self, request: Request, provider: str) -> Response:
        chosen = social.configured_provider(provider, id_token=True)
        self.token_delivery.guard(request)  # login CSRF
        ratelimits.hit(request, "oauth_token_ip", client_ip_key(request))
        data = validated(_SignInInput, request.data)
        outcome = social.sign_in_with_id_token(chosen, data["idToken"], data["nonce"],
                                               delivery=self.token_delivery.name,
                                               client=delivery.client_info(request), names=data.get("name"),
                                               authorization_code=data.get("authorizationCode"))
        return login_response(request, outcome)


class OAuthLinkView(_SocialView):
    """Link the provider account of an id_token to the caller's account: ``{"linkedAccount"}``.

    Authenticated (a cookie request passes CSRF and Origin: no other site can make a browser link
    an attacker's provider account), and only within ``DUALAUTH_FRESH_SIGN_IN_WINDOW`` of the
    session's sign-in (403 ``REAUTHENTICATION_REQUIRED``), so a stolen access token cannot add a
    lasting way in."""

    authentication_classes = [DualAuthentication]
    permission_classes = [IsAuthenticated]

    def post(self, request: Request, provider: str) -> Response:
        chosen = social.configured_provider(provider, id_token=True)
        ratelimits.hit(request, "oauth_token_ip", client_ip_key(request))
        data = validated(_LinkInput, request.data)
        user = request_user(request)
        fresh_sign_in.require_fresh_sign_in(session_id(request), user.pk)
        link = social.link_with_id_token(user, chosen, data["idToken"], data["nonce"],
                                         authorization_code=data.get("authorizationCode"))
        return Response({"success": True, "linkedAccount": linked_account_body(link)})


def linked_account_body(link: Any) -> dict[str, Any]:
    """One linked account in node-auth's shape: ``{provider, providerAccountId, email, linkedAt}``."""
    return {"provider": link.provider, "providerAccountId": link.provider_account_id, "email": link.email,
            "linkedAt": link.linked_at}


class LinkedAccountsView(_SocialView):
    """``{"linkedAccounts": [{provider, providerAccountId, email, linkedAt}]}`` (node-auth's shape)."""

    authentication_classes = [DualAuthentication]
    permission_classes = [IsAuthenticated]

    def get(self, request: Request) -> Response:
        links = social.linked_accounts(request_user(request))
        return Response({"linkedAccounts": [linked_account_body(a) for a in links]})


class LinkedAccountDetailView(_SocialView):
    """Unlink one of the caller's provider accounts: ``{"success": true}``; 404 for one not theirs,
    409 ``LAST_SIGN_IN_METHOD`` when it is the last way to sign in."""

    authentication_classes = [DualAuthentication]
    permission_classes = [IsAuthenticated]

    def delete(self, request: Request, provider: str, provider_account_id: str) -> Response:
        social.unlink(request_user(request), provider, provider_account_id)
        return Response({"success": True})
