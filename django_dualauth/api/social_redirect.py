"""The browser and app redirect flow of social sign-in (docs/social-login.md).

``GET oauth/<provider>`` (node-auth's path) sends the browser to the provider; ``GET
oauth/<provider>/callback`` is where the provider sends it back; ``POST oauth/<provider>/exchange``
is where a native app redeems its one-time code. The callback's answer depends on the flow the
start chose (web: cookies; app: a one-time code in the app URL), never on a request header.
A provider without ``redirect_uri`` answers node-auth's 404.
"""

from __future__ import annotations

from typing import Any

from rest_framework import serializers
from rest_framework.exceptions import MethodNotAllowed
from rest_framework.parsers import FormParser
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response

from .. import delivery
from ..authentication import DualAuthentication
from ..delivery import no_store
from ..delivery.cookies import DuplicateCookie
from ..exceptions import DualAuthError
from ..services import fresh_sign_in, social_redirect, verification
from ..social_providers import MAX_RETURN_URL_LENGTH
from . import ratelimits
from .base import TokenIssuingView, client_ip_key, request_user, session_id, validated
from .inputs import StrictCharField
from .responses import session_response
from .social import _SocialView, linked_account_body

__all__ = ["OAuthCallbackView", "OAuthExchangeView", "OAuthLinkFinishView", "OAuthLinkStartView", "OAuthStartView"]


def _redirect(location: str) -> Response:
    return no_store(Response(status=302, headers={"Location": location}))


def _query(request: Request, name: str) -> str | None:
    value = request.query_params.get(name)
    return value if isinstance(value, str) else None


def _return_url(request: Request, *, app: bool) -> str:
    """The start's return URL by any name a client sends (``returnUrl``, node-auth's ``returnTo``
    and ``return_path``), exactly one of the allowlist."""
    return social_redirect.return_url_for(
        url=_query(request, "returnUrl"), alias=_query(request, "returnTo"), path=_query(request, "return_path"),
        allowlist=social_redirect.return_allowlist(app=app), preferred_origin=delivery.request_origin(request))


def _cookie_session(request: Request) -> tuple[str, str] | None:
    """``(session id, user id)`` of the browser's access cookie when it is valid, else None
    (a GET: no CSRF to check; an expired or revoked cookie is no session)."""
    try:
        raw = delivery.read_cookie(request, delivery.access_cookie_name())
        if not raw:
            return None
        _, claims = verification.authenticate_access_token(raw)
    except (DualAuthError, DuplicateCookie):
        return None
    return str(claims.sid), str(claims.sub)


class OAuthStartView(_SocialView):
    """302 to the provider's authorization endpoint, with the browser-binding cookie planted.

    Query: ``returnUrl`` (exactly one of the allowlist; its first entry when absent; node-auth's
    ``return_path`` and ``returnTo`` are aliases), ``app=1`` with ``code_challenge`` (S256) for a
    native app using the system browser, or ``linkTicket`` (from ``oauth/<provider>/link/start``)."""

    def get(self, request: Request, provider: str) -> Response:
        chosen = social_redirect.redirect_provider(provider)
        ratelimits.hit(request, "oauth_redirect_ip", client_ip_key(request))
        ticket = _query(request, "linkTicket")
        if ticket is not None:
            started = social_redirect.start_from_ticket(chosen, ticket, browser_session=_cookie_session(request))
        else:
            app = _query(request, "app") in ("1", "true")
            started = social_redirect.start(
                chosen, app=app, return_url=_return_url(request, app=app),
                app_code_challenge=_query(request, "code_challenge"),
                app_code_challenge_method=_query(request, "code_challenge_method"),
                client=delivery.client_info(request))
        response = _redirect(started.authorization_url)
        delivery.set_flow_cookie(response, started.cookie_key, started.cookie_value, started.max_age,
                                 cross_site_post=started.cross_site_post)
        return response


class OAuthCallbackView(_SocialView):
    """Where the provider sends the browser back: a 302 to the return URL (signed in, the 2FA
    page, or ``error=<code>``), or 400 JSON when the state names no flow.

    GET (the query) for every provider but Apple; POST (a form, ``application/x-www-form-urlencoded``)
    for Apple only, whose ``response_mode=form_post`` has Apple's page POST ``code``, ``state``,
    ``id_token`` and, at the first authorization, ``user``. That cross-site POST carries no CSRF
    token and needs none: it changes nothing unless its ``state`` is one this browser started
    (the binding cookie, ``SameSite=None`` for Apple so that it is sent), spent once."""

    parser_classes = [FormParser]

    def get(self, request: Request, provider: str) -> Response:
        chosen = social_redirect.redirect_provider(provider)
        if chosen.config.form_post:
            raise MethodNotAllowed("GET")
        ratelimits.hit(request, "oauth_redirect_ip", client_ip_key(request))
        params = {k: v for k in ("state", "code", "iss", "error") if isinstance(v := request.query_params.get(k), str)}
        return self._finish(request, chosen, params)

    def post(self, request: Request, provider: str) -> Response:
        chosen = social_redirect.redirect_provider(provider)
        if not chosen.config.form_post:
            raise MethodNotAllowed("POST")
        ratelimits.hit(request, "oauth_redirect_ip", client_ip_key(request))
        form = request.data if isinstance(request.data, dict) else {}  # a QueryDict (the form parser)
        # ``iss`` too: Apple sends none today, but one that is present must be Apple's (RFC 9207).
        params = {k: v for k in ("state", "code", "iss", "error", "user") if isinstance(v := form.get(k), str)}
        return self._finish(request, chosen, params)

    def _finish(self, request: Request, chosen: Any, params: dict[str, str]) -> Response:
        key = social_redirect.cookie_key_for(params.get("state"))
        cross_site = chosen.config.form_post
        try:
            outcome = social_redirect.callback(
                chosen, params, browser_value=delivery.read_flow_cookie(request, key, cross_site_post=cross_site),
                client=delivery.client_info(request))
        except social_redirect.CallbackFailed as failed:
            response = _redirect(failed.location)
        else:
            if outcome.tokens is not None:
                response = session_response(request, outcome.tokens)
                response.status_code, response.data = 302, None
                response["Location"] = outcome.location
            else:
                response = _redirect(outcome.location)
        delivery.clear_flow_cookie(response, key, cross_site_post=cross_site)
        return response


class _ExchangeInput(serializers.Serializer[Any]):
    code = StrictCharField(max_length=128, trim_whitespace=False)
    codeVerifier = StrictCharField(max_length=128, trim_whitespace=False)


class OAuthExchangeView(_SocialView, TokenIssuingView):
    """The app flow's end: ``{code, codeVerifier}`` for a session through the request's delivery
    (an app: ``X-Auth-Strategy: bearer``, tokens in the body)."""

    def post(self, request: Request, provider: str) -> Response:
        chosen = social_redirect.redirect_provider(provider)
        self.token_delivery.guard(request)
        ratelimits.hit(request, "oauth_exchange_ip", client_ip_key(request))
        data = validated(_ExchangeInput, request.data)
        tokens = social_redirect.redeem_app_code(chosen, data["code"], data["codeVerifier"],
                                                 delivery=self.token_delivery.name,
                                                 client=delivery.client_info(request))
        return session_response(request, tokens)


class _LinkStartInput(serializers.Serializer[Any]):
    returnUrl = StrictCharField(max_length=MAX_RETURN_URL_LENGTH, required=False, trim_whitespace=False)
    returnTo = StrictCharField(max_length=MAX_RETURN_URL_LENGTH, required=False, trim_whitespace=False)
    return_path = StrictCharField(max_length=MAX_RETURN_URL_LENGTH, required=False, trim_whitespace=False)
    app = serializers.BooleanField(required=False, default=False)
    code_challenge = StrictCharField(max_length=128, required=False, trim_whitespace=False)
    code_challenge_method = StrictCharField(max_length=16, required=False, trim_whitespace=False)


class OAuthLinkStartView(_SocialView):
    """Link a provider account to the caller's through the redirect flow: ``{"url", "expiresAt"}``,
    the address (this provider's ``GET oauth/<provider>`` with a single-use ``linkTicket``) that
    the caller opens in a browser: a web page navigates to it; an app (``app: true``) opens it in
    the system browser. For a cookie session the callback then links instead of signing in, and
    sends the browser to the return URL with ``linked=<provider>`` (or ``error=``). Any other
    session's browser is not bound to it, so it sends its PKCE ``code_challenge`` (S256) here,
    and the callback links nothing: it sends the return URL a one-time ``code`` that the same
    session redeems at ``oauth/<provider>/link/finish``.

    Authenticated (a cookie request passes CSRF and Origin) and within
    ``DUALAUTH_FRESH_SIGN_IN_WINDOW`` of the session's sign-in, as ``oauth/<provider>/link``."""

    authentication_classes = [DualAuthentication]
    permission_classes = [IsAuthenticated]

    def post(self, request: Request, provider: str) -> Response:
        chosen = social_redirect.redirect_provider(provider)
        ratelimits.hit(request, "oauth_redirect_ip", client_ip_key(request))
        data = validated(_LinkStartInput, request.data)
        user = request_user(request)
        fresh_sign_in.require_fresh_sign_in(session_id(request), user.pk)
        app = bool(data.get("app"))
        return_url = social_redirect.return_url_for(
            url=data.get("returnUrl"), alias=data.get("returnTo"), path=data.get("return_path"),
            allowlist=social_redirect.return_allowlist(app=app), preferred_origin=delivery.request_origin(request))
        started = social_redirect.start_link(chosen, user, session_id(request), app=app, return_url=return_url,
                                             client=delivery.client_info(request),
                                             app_code_challenge=data.get("code_challenge"),
                                             app_code_challenge_method=data.get("code_challenge_method"))
        return no_store(Response({"url": social_redirect.link_start_url(chosen, started.ticket),
                                  "expiresAt": started.expires_at}))


class OAuthLinkFinishView(_SocialView):
    """An app's link flow's end: ``{code, codeVerifier}`` (the code its app URL received) for
    ``{"success": true, "linkedAccount"}``, as ``oauth/<provider>/link`` answers.

    Authenticated by the very session that called ``link/start`` (a cookie request passes CSRF
    and Origin); a code of another session, a wrong verifier, a spent or expired code: 400
    ``INVALID_OAUTH_CODE``, the code spent. No fresh sign-in needed: ``link/start`` asked it of
    the session the code is bound to."""

    authentication_classes = [DualAuthentication]
    permission_classes = [IsAuthenticated]

    def post(self, request: Request, provider: str) -> Response:
        chosen = social_redirect.redirect_provider(provider)
        ratelimits.hit(request, "oauth_exchange_ip", client_ip_key(request))
        data = validated(_ExchangeInput, request.data)
        link = social_redirect.finish_app_link(chosen, request_user(request), session_id(request), data["code"],
                                               data["codeVerifier"])
        return no_store(Response({"success": True, "linkedAccount": linked_account_body(link)}))
