"""The browser and app redirect flow of social sign-in (OpenID Connect providers and GitHub). No HTTP.

:func:`start` makes one :class:`OAuthState` row and returns the provider's authorization URL:
``state`` (its raw value goes to the provider and back; only its digest is stored), PKCE S256
and, for the OpenID Connect kinds, a nonce; the verifier and the nonce are derived from the raw
state with ``crypto.derive_secret``, so neither is stored. The caller binds the flow to the
browser with a cookie whose value's digest is in the row (RFC 9700 §4.7: login CSRF).

:func:`callback` spends the row once (a conditional UPDATE), checks the binding, RFC 9207's
``iss``, exchanges the code (``gateways.exchange_code``, with the verifier) and verifies the
id_token through :func:`.social.verify_id_token` (the nonce), or reads GitHub's user API; then
the account rules of every social sign-in (:func:`.social.sign_in_identity`). The web flow ends
in a session (cookies) or the 2FA challenge; the app flow in a one-time code, single use,
short-lived, stored as a digest and bound to the app's own PKCE challenge, that
:func:`redeem_app_code` exchanges for a session. The link flow started by a web page links at
the callback; started by an app, it ends like the app sign-in, in a one-time code that only the
session which started the link redeems, with its PKCE verifier (:func:`finish_app_link`).
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import urllib.parse
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from .. import audit
from ..conf import SocialProvider, dualauth_settings
from ..crypto import derive_secret, digest, equal, looks_like_secret, new_secret, open_token, seal_token
from ..exceptions import (
    DualAuthError,
    IdTokenInvalid,
    InvalidCredentials,
    OAuthAccessDenied,
    OAuthAccountConflict,
    OAuthAccountLinkedElsewhere,
    OAuthAppCodeInvalid,
    OAuthCodeExchangeFailed,
    OAuthIssuerMismatch,
    OAuthNonceInvalid,
    OAuthStateInvalid,
    ProviderNotConfigured,
    ProviderUnavailable,
    ReauthenticationRequired,
    ReturnUrlNotAllowed,
    ValidationFailed,
)
from ..gateways import CodeExchangeRefused, ProviderUnreachable, exchange_code, fetch_json
from ..models import AuthSession, LinkedAccount, OAuthFlow, OAuthState
from ..social_providers import GITHUB, MAX_RETURN_URL_LENGTH
from ..types import ClientInfo, Delivery, IssuedTokens
from . import login, profile_names, social, social_tokens
from .sessions import issue_session

if TYPE_CHECKING:
    from ..types import User

__all__ = ["CallbackFailed", "CallbackOutcome", "LinkStarted", "Started", "allowed_return_url", "callback",
           "finish_app_link", "link_start_url", "redeem_app_code", "redirect_provider", "return_allowlist",
           "return_url_for", "start", "start_from_ticket", "start_link"]

STATE_PURPOSE = "oauth_state"
BROWSER_PURPOSE = "oauth_browser"
APP_CODE_PURPOSE = "oauth_app_code"
LINK_TICKET_PURPOSE = "oauth_link_ticket"
LINK_CODE_PURPOSE = "oauth_link_code"
_VERIFIER_PURPOSE = "oauth_redirect_pkce"
_NONCE_PURPOSE = "oauth_redirect_nonce"
#: RFC 7636 §4.1: a verifier is 43 to 128 unreserved characters; S256 of it is 43 characters.
_PKCE_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")

log = logging.getLogger("django_dualauth.social")


def redirect_provider(name: str) -> SocialProvider:
    """The provider ``name`` when the redirect flow serves it; :class:`ProviderNotConfigured` (404) otherwise."""
    provider = social.configured_provider(name)
    if not provider.config.redirect_flow:
        raise ProviderNotConfigured(name)
    return provider


# --- return URLs -----------------------------------------------------------------------------------

def allowed_return_url(raw: object, allowlist: list[str]) -> str:
    """``raw`` if it is exactly one of ``allowlist``'s URLs, or the first of them when ``raw`` is
    None; raises :class:`ReturnUrlNotAllowed` otherwise.

    Exact string equality is the rule: no prefix, suffix, case folding or normalisation, so
    ``https://app.example.com.evil.test``, ``https://app.example.com@evil.test``, ``//evil.test``
    or ``https:\\\\evil.test`` never pass for ``https://app.example.com``. The shape checks before
    it refuse what no allowlist should hold (system check E018 refuses such entries too).
    """
    if raw is None:
        if not allowlist:
            raise ReturnUrlNotAllowed()
        return allowlist[0]
    if not isinstance(raw, str) or not raw or len(raw) > MAX_RETURN_URL_LENGTH or not raw.isprintable() \
            or " " in raw or "\\" in raw or raw.startswith("/"):
        raise ReturnUrlNotAllowed()
    if raw not in allowlist:
        raise ReturnUrlNotAllowed()
    return raw


def return_url_for(*, url: object = None, alias: object = None, path: object = None, allowlist: list[str],
                   preferred_origin: str | None = None) -> str:
    """The return URL a start asks for, by any of the names clients send, checked by
    :func:`allowed_return_url` (exact match) whatever the name.

    ``url`` is ours (``returnUrl``), ``alias`` node-auth's ``returnTo`` (a URL, or a path as
    ``path``), ``path`` node-auth's ``return_path``: a path of one of the allowlist's origins,
    ``preferred_origin`` (the request's ``Origin`` or ``Referer`` origin) when it is one of them,
    else the first entry's (node-auth picks the origin the same way). Names that disagree are
    refused (which one would win is not the client's guess)."""
    given = [value for value in (url, alias, path) if value is not None]
    if not given:
        return allowed_return_url(None, allowlist)
    # Ours is a URL only, as it always was; node-auth's names may be paths.
    found = {value if value is url else _absolute(value, allowlist, preferred_origin) for value in given}
    if len(found) != 1:
        raise ReturnUrlNotAllowed()
    return allowed_return_url(found.pop(), allowlist)


def _absolute(raw: object, allowlist: list[str], preferred_origin: str | None) -> object:
    """``raw`` itself, or for a path (one leading ``/``, no ``//``) the allowlisted origin plus it."""
    if not isinstance(raw, str) or not raw.startswith("/") or raw.startswith("//") or not allowlist:
        return raw
    origins = list(dict.fromkeys(_origin(entry) for entry in allowlist))
    origin = preferred_origin if preferred_origin in origins else origins[0]
    return origin + raw


def _origin(url: str) -> str:
    split = urllib.parse.urlsplit(url)
    return f"{split.scheme}://{split.netloc}"


def with_params(url: str, **params: str) -> str:
    """``url`` with ``params`` added to its query (those it had kept)."""
    split = urllib.parse.urlsplit(url)
    query = urllib.parse.parse_qsl(split.query, keep_blank_values=True) + list(params.items())
    return urllib.parse.urlunsplit(split._replace(query=urllib.parse.urlencode(query)))


def two_factor_url(return_url: str, step: login.LoginChallengeIssued) -> str:
    """node-auth's answer for a pending second factor: ``<return origin>/auth/2fa?tempToken&methods``
    (what its Flutter example reads). The temp token is a challenge, not a session."""
    split = urllib.parse.urlsplit(return_url)
    params = {"tempToken": step.temp_token, "methods": ",".join(step.methods)}
    if step.setup_required:
        params["setupRequired"] = "true"
    return urllib.parse.urlunsplit((split.scheme, split.netloc, "/auth/2fa", urllib.parse.urlencode(params), ""))


# --- start -----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Started:
    """Where to send the browser, and the binding cookie to plant (``cookie_key``, ``cookie_value``).
    ``cross_site_post``: the provider answers by a cross-site POST (Apple's ``form_post``), on
    which a ``SameSite=Lax`` cookie is not sent."""

    authorization_url: str
    cookie_key: str
    cookie_value: str
    max_age: int
    cross_site_post: bool = False


def _s256(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode("ascii")).digest()).rstrip(b"=").decode("ascii")


def _endpoint(provider: SocialProvider, name: str) -> str:
    configured: str = getattr(provider.config, name)
    if configured:
        return configured
    try:
        found = provider.keys.discovery_document().get(name)
    except ProviderUnreachable as exc:
        log.warning("provider %s: %s", provider.config.name, exc)
        raise ProviderUnavailable() from None
    if not isinstance(found, str) or urllib.parse.urlsplit(found).scheme not in ("http", "https"):
        log.warning("provider %s: no usable %s", provider.config.name, name)
        raise ProviderUnavailable()
    return found


def _nonce_for(provider: SocialProvider, raw_state: str) -> str:
    return derive_secret(raw_state, f"{_NONCE_PURPOSE}:{provider.config.name}")


def start(provider: SocialProvider, *, app: bool, return_url: object, app_code_challenge: object,
          app_code_challenge_method: object, client: ClientInfo) -> Started:
    """Begin a sign-in: one INSERT. ``app``: a native app that opened the system browser, whose
    ``return_url`` must be one of ``DUALAUTH_SOCIAL_APP_RETURN_URLS`` and which sends its own
    PKCE ``code_challenge`` (S256) for the one-time code; the web flow's must be one of
    ``DUALAUTH_SOCIAL_RETURN_URLS``. Raises :class:`ReturnUrlNotAllowed` and
    :class:`ProviderUnavailable` (a discovery document that cannot be fetched)."""
    settings = dualauth_settings
    url = allowed_return_url(return_url, return_allowlist(app=app))
    challenge = _app_challenge(app_code_challenge, app_code_challenge_method) if app else ""
    config = provider.config
    authorize = _endpoint(provider, "authorization_endpoint")
    raw_state, browser = new_secret(), new_secret()
    now = timezone.now()
    lifetime = settings.SOCIAL_STATE_LIFETIME
    OAuthState.objects.create(provider=config.name, state_digest=digest(raw_state, STATE_PURPOSE),
                              browser_digest=digest(browser, BROWSER_PURPOSE),
                              flow=OAuthFlow.APP if app else OAuthFlow.WEB, return_url=url,
                              app_code_challenge=challenge, created_at=now, expires_at=now + lifetime,
                              ip_address=client.ip_address)
    audit.record("auth.social.redirect_started", provider=config.name, flow="app" if app else "web",
                 ip=client.ip_address)
    return _started(provider, authorize, raw_state, browser, lifetime)


def _app_challenge(challenge: object, method: object) -> str:
    """The app's PKCE ``code_challenge`` (S256: 43 characters); :class:`ReturnUrlNotAllowed` otherwise."""
    if method not in (None, "S256") or not isinstance(challenge, str) or len(challenge) != 43 \
            or not set(challenge) <= _PKCE_CHARS:
        raise ReturnUrlNotAllowed("The app flow needs its code_challenge (S256)")
    return challenge


def return_allowlist(*, app: bool) -> list[str]:
    """The allowlist of an app's (``DUALAUTH_SOCIAL_APP_RETURN_URLS``) or the web's return URLs."""
    return dualauth_settings.SOCIAL_APP_RETURN_URLS if app else dualauth_settings.SOCIAL_RETURN_URLS


def _started(provider: SocialProvider, authorize: str, raw_state: str, browser: str, lifetime: timedelta) -> Started:
    """The authorization URL for ``raw_state`` (PKCE S256, the nonce) and the binding cookie."""
    config = provider.config
    params = {"response_type": "code", "client_id": config.client_ids[0], "redirect_uri": config.redirect_uri,
              "scope": " ".join(config.scopes), "state": raw_state}
    if config.pkce:
        params.update(code_challenge=_s256(derive_secret(raw_state, _VERIFIER_PURPOSE)), code_challenge_method="S256")
    if config.form_post:
        # Apple requires it when name or email is asked, and then POSTs code, state and user.
        params["response_mode"] = "form_post"
    if config.uses_id_tokens:
        nonce = _nonce_for(provider, raw_state)
        params["nonce"] = hashlib.sha256(nonce.encode()).hexdigest() if config.nonce_hashed else nonce
    separator = "&" if "?" in authorize else "?"
    return Started(authorize + separator + urllib.parse.urlencode(params), cookie_key_for(raw_state), browser,
                   int(lifetime.total_seconds()), cross_site_post=config.form_post)


# --- linking from a session ------------------------------------------------------------------------

@dataclass(frozen=True)
class LinkStarted:
    """The single-use link ticket (raw, once) and when it expires."""

    ticket: str
    expires_at: datetime


def start_link(provider: SocialProvider, user: User, session_id: object, *, app: bool, return_url: object,
               client: ClientInfo, app_code_challenge: object = None,
               app_code_challenge_method: object = None) -> LinkStarted:
    """Begin linking the provider account to the signed-in ``user`` (one INSERT): a ticket the
    browser brings to ``GET oauth/<provider>?linkTicket=`` (the web page's own browser, or the
    system browser an app opens), which plants the binding cookie there and goes on to the
    provider. ``return_url`` must be one of the web's or, with ``app``, the app's allowlist.

    Only a cookie session's ticket is bound to its browser (the hop needs that session's cookie),
    so only its link completes at the callback. Any other (an app's, a bearer page's) needs the
    client's PKCE ``code_challenge`` (S256), as ``app`` always does: its callback links nothing
    and hands a one-time code to :func:`finish_app_link`. The caller has checked the session may
    make this change (a fresh sign-in)."""
    url = allowed_return_url(return_url, return_allowlist(app=app))
    try:
        session = uuid.UUID(str(session_id))
    except ValueError:
        raise OAuthStateInvalid() from None
    bound = not app and AuthSession.objects.filter(pk=session, delivery=Delivery.COOKIE).exists()
    challenge = "" if bound else _app_challenge(app_code_challenge, app_code_challenge_method)
    _endpoint(provider, "authorization_endpoint")  # the provider reachable now, not after the hop
    raw = new_secret()
    now = timezone.now()
    lifetime = dualauth_settings.SOCIAL_STATE_LIFETIME
    # The state is made at the hop (its raw value is never stored): a placeholder digest until then.
    OAuthState.objects.create(provider=provider.config.name, state_digest=digest(new_secret(), STATE_PURPOSE),
                              browser_digest="", flow=OAuthFlow.LINK, return_url=url, created_at=now,
                              expires_at=now + lifetime, ip_address=client.ip_address, user=user,
                              link_session_id=session, app_code_challenge=challenge,
                              code_digest=digest(raw, LINK_TICKET_PURPOSE), code_expires_at=now + lifetime)
    audit.record("auth.social.redirect_started", user=str(user.pk), provider=provider.config.name,
                 flow="link" if bound else "app_link", ip=client.ip_address)
    return LinkStarted(raw, now + lifetime)


def start_from_ticket(provider: SocialProvider, raw_ticket: object,
                      browser_session: tuple[str, str] | None = None) -> Started:
    """The browser's hop of the link flow: spend the ticket (one conditional UPDATE), bind the
    flow to this browser and make its state. Raises :class:`OAuthStateInvalid` (400) for a
    ticket that is unknown, spent, expired or another provider's, or opened in a browser that
    is not the starter's (spent then too).

    ``browser_session``: ``(session id, user id)`` of the valid access cookie this browser
    carries, if any. A ticket made by a cookie session must come back with that very session
    (the web page's own browser); any ticket is refused in a browser signed in as another user.
    Without this an attacker's own ticket, opened by a victim, links the victim's provider
    account to the attacker's account (login CSRF, RFC 9700 §4.7)."""
    if not looks_like_secret(raw_ticket):
        raise OAuthStateInvalid()
    authorize = _endpoint(provider, "authorization_endpoint")
    now = timezone.now()
    ticket = OAuthState.objects.filter(code_digest=digest(raw_ticket, LINK_TICKET_PURPOSE),
                                       provider=provider.config.name, flow=OAuthFlow.LINK)
    row = ticket.only("link_session_id", "user_id").first()
    if row is not None and not _hop_allowed(row, browser_session):
        ticket.filter(code_consumed_at__isnull=True).update(code_consumed_at=now)
        _refuse(provider, "link_ticket_other_browser")
        raise OAuthStateInvalid()
    raw_state, browser = new_secret(), new_secret()
    spent = OAuthState.objects.filter(code_digest=digest(raw_ticket, LINK_TICKET_PURPOSE),
                                      provider=provider.config.name, flow=OAuthFlow.LINK,
                                      code_consumed_at__isnull=True, code_expires_at__gt=now,
                                      ).update(code_consumed_at=now, state_digest=digest(raw_state, STATE_PURPOSE),
                                               browser_digest=digest(browser, BROWSER_PURPOSE))
    if spent != 1:
        _refuse(provider, "link_ticket_unusable")
        raise OAuthStateInvalid()
    return _started(provider, authorize, raw_state, browser, dualauth_settings.SOCIAL_STATE_LIFETIME)


def _hop_allowed(row: OAuthState, browser_session: tuple[str, str] | None) -> bool:
    """Whether the browser at the hop may be the one the ticket's starter meant (see
    :func:`start_from_ticket`). An app's system browser carries no session of the app's, so a
    bearer session's ticket is only refused where the browser is signed in as someone else."""
    if row.link_session_id is None or (browser_session is not None and browser_session[1] != str(row.user_id)):
        return False
    started_by_cookie = AuthSession.objects.filter(pk=row.link_session_id, delivery=Delivery.COOKIE).exists()
    return not started_by_cookie or (browser_session is not None and browser_session[0] == str(row.link_session_id))


def link_start_url(provider: SocialProvider, ticket: str) -> str:
    """Where the browser takes a link ticket: this provider's ``GET oauth/<provider>``, derived
    from its registered ``redirect_uri`` (``…/oauth/<provider>/callback``), never from the Host."""
    base = provider.config.redirect_uri
    base = base[:-len("/callback")] if base.endswith("/callback") else base.rsplit("/", 1)[0]
    return with_params(base, linkTicket=ticket)


def cookie_key_for(raw_state: object) -> str:
    """The binding cookie's name suffix for a state (a digest prefix: the name reveals nothing)."""
    return digest(raw_state if isinstance(raw_state, str) else "", STATE_PURPOSE)[:16]


# --- callback --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class CallbackOutcome:
    """The callback's result. Web: ``tokens`` (a cookie session) or ``challenge``; app: ``app_code``
    (raw, once) or ``challenge``. ``location`` is where to send the browser."""

    flow: str
    location: str
    tokens: IssuedTokens | None = None


class CallbackFailed(Exception):
    """A refusal at the callback once the return URL is known: the view redirects there with
    ``error=<code>`` (``location``). ``error`` is the domain error."""

    def __init__(self, error: DualAuthError, location: str) -> None:
        super().__init__(error.code)
        self.error, self.location = error, location


def callback(provider: SocialProvider, params: dict[str, str], *, browser_value: str | None,
             client: ClientInfo) -> CallbackOutcome:
    """Finish a sign-in at the provider's redirect back (``code``, ``state``, ``iss``, or ``error``;
    Apple's form_post adds ``user``, the JSON of the name it sends at the first authorization
    only, which fills a new account's names and is ignored otherwise).

    Raises :class:`OAuthStateInvalid` (400, no redirect possible: the state names no flow of
    this provider) or :class:`CallbackFailed` carrying the refusal and the return URL: a spent
    or expired state or another browser's (``INVALID_STATE``), the provider's ``error``
    (``OAUTH_ACCESS_DENIED``), an ``iss`` mismatch, a refused code, an id_token or nonce that
    does not verify, an unverified address, a conflict, a policy refusal, the provider down
    (``PROVIDER_UNAVAILABLE``). The state is spent first, whatever follows: nothing half-written.
    """
    raw_state = params.get("state")
    if not looks_like_secret(raw_state):
        raise OAuthStateInvalid()
    row = OAuthState.objects.filter(state_digest=digest(raw_state, STATE_PURPOSE),
                                    provider=provider.config.name).first()
    if row is None:
        raise OAuthStateInvalid()
    now = timezone.now()
    spent = OAuthState.objects.filter(pk=row.pk, consumed_at__isnull=True, expires_at__gt=now).update(consumed_at=now)
    location = row.return_url
    try:
        if spent != 1 or not isinstance(browser_value, str) \
                or not equal(digest(browser_value, BROWSER_PURPOSE), row.browser_digest):
            _refuse(provider, "state_unusable" if spent != 1 else "browser_mismatch")
            raise OAuthStateInvalid()
        if params.get("error"):
            _refuse(provider, "provider_error")
            raise OAuthAccessDenied()
        _check_issuer(provider, params.get("iss"))
        if provider.config.form_post:
            identity, token = _apple_identity(provider, raw_state, params.get("code"))
        else:
            identity, token = _identity(provider, raw_state, params.get("code")), None
        if row.flow == OAuthFlow.LINK and row.app_code_challenge:
            return CallbackOutcome(OAuthFlow.LINK, _hold_app_link(provider, row, identity, token))
        if row.flow == OAuthFlow.LINK:
            _finish_link(provider, row, identity, token)
            return CallbackOutcome(OAuthFlow.LINK, with_params(row.return_url, linked=provider.config.name))
        names = _form_post_names(params.get("user")) if provider.config.form_post else None
        if row.flow == OAuthFlow.APP:
            return social.sign_in_identity(provider, identity, client=client, names=names, provider_token=token,
                                           finish=lambda user: _finish_app(row, user, client))
        outcome = social.sign_in_identity(
            provider, identity, client=client, names=names, provider_token=token,
            finish=lambda user: login.sign_in(user, first_factor=social.AMR_FEDERATED, delivery=Delivery.COOKIE,
                                              client=client))
    except DualAuthError as exc:
        if isinstance(exc, OAuthAccountConflict | OAuthAccountLinkedElsewhere):
            # node-auth's clients know this answer (the linked-elsewhere case included).
            location = with_params(location, error=OAuthAccountConflict.code, code=OAuthAccountConflict.code,
                                   provider=provider.config.name)
        else:
            location = with_params(location, error=exc.code)
        raise CallbackFailed(exc, location) from None
    if isinstance(outcome, login.LoginChallengeIssued):
        return CallbackOutcome(OAuthFlow.WEB, two_factor_url(row.return_url, outcome))
    return CallbackOutcome(OAuthFlow.WEB, row.return_url, tokens=outcome)


def _finish_link(provider: SocialProvider, row: OAuthState, identity: social.ProviderIdentity,
                 token: social_tokens.ProviderToken | None) -> None:
    """The web link flow's end: the account of the session that started it, if that session is
    still live and its user active, gets the identity. No session is issued."""
    user = _link_starter(provider, row)
    social.link_identity(user, provider, identity, how="redirect", provider_token=token)


def _link_starter(provider: SocialProvider, row: OAuthState) -> User:
    """The user of the link flow ``row``, while the session that started it is live and the user active."""
    user = row.user
    if user is None or row.link_session_id is None or not user.is_active or not AuthSession.objects.filter(
            pk=row.link_session_id, user_id=user.pk, revoked_at__isnull=True).exists():
        _refuse(provider, "link_session_gone")
        raise ReauthenticationRequired((), "The session that started this link has ended")
    return user


def _hold_app_link(provider: SocialProvider, row: OAuthState, identity: social.ProviderIdentity,
                   token: social_tokens.ProviderToken | None) -> str:
    """An app's link flow at the callback: nothing linked. The browser here may be anyone's (an
    attacker's ticket opened by a victim), so the identity is kept on the row (the provider's
    token sealed) with a one-time code, and only the session that started the link, with its
    PKCE verifier, completes it (:func:`finish_app_link`). Returns the app URL with the code."""
    _link_starter(provider, row)
    raw = new_secret()
    code_expires = timezone.now() + dualauth_settings.SOCIAL_APP_CODE_LIFETIME
    OAuthState.objects.filter(pk=row.pk).update(
        code_digest=digest(raw, LINK_CODE_PURPOSE), code_expires_at=code_expires, code_consumed_at=None,
        expires_at=max(row.expires_at, code_expires), link_subject=identity.subject, link_email=identity.email[:254],
        link_email_verified=identity.email_verified,
        link_provider_token=seal_token(token.refresh_token) if token is not None else "",
        link_provider_token_client_id=token.client_id if token is not None else "")
    return with_params(row.return_url, code=raw)


def _refuse(provider: SocialProvider, reason: str) -> None:
    audit.record("auth.social.refused", level=logging.WARNING, provider=provider.config.name, reason=reason)


def _check_issuer(provider: SocialProvider, iss: str | None) -> None:
    """RFC 9207: where the provider says it sends ``iss`` (its metadata) or sends it, it must be
    the provider's issuer; an answer from another issuer is a mix-up attack."""
    config = provider.config
    declared = False
    if config.discovery_url:
        try:
            declared = provider.keys.discovery_document().get("authorization_response_iss_parameter_supported") is True
        except ProviderUnreachable:
            raise ProviderUnavailable() from None
    if iss is None and not declared:
        return
    if iss is None or iss not in config.issuers:
        _refuse(provider, "issuer_mismatch")
        raise OAuthIssuerMismatch()


def _identity(provider: SocialProvider, raw_state: str, code: str | None) -> social.ProviderIdentity:
    config = provider.config
    if not code or len(code) > 2048:
        raise OAuthCodeExchangeFailed()
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": config.redirect_uri,
            "client_id": config.client_ids[0], "code_verifier": derive_secret(raw_state, _VERIFIER_PURPOSE)}
    if config.client_secret:
        form["client_secret"] = config.client_secret
    try:
        tokens = exchange_code(_endpoint(provider, "token_endpoint"), form, timeout=config.timeout)
        if config.kind == GITHUB:
            return _github_identity(provider, tokens)
    except CodeExchangeRefused as exc:
        log.warning("provider %s refused the code: %s", config.name, exc)
        _refuse(provider, "code_refused")
        raise OAuthCodeExchangeFailed() from None
    except ProviderUnreachable as exc:
        log.warning("provider %s: %s", config.name, exc)
        raise ProviderUnavailable() from None
    id_token = tokens.get("id_token")
    if not isinstance(id_token, str):
        _refuse(provider, "no_id_token")
        raise IdTokenInvalid()
    return social.verify_id_token(provider, id_token, _nonce_for(provider, raw_state))


def _apple_identity(provider: SocialProvider, raw_state: str,
                    code: str | None) -> tuple[social.ProviderIdentity, social_tokens.ProviderToken | None]:
    """Apple's web flow: the code exchanged with the client secret JWT (no PKCE: Apple documents
    none) for an id_token that must carry this flow's nonce, and Apple's refresh token. The
    ``id_token`` Apple also POSTs to the callback is not used: the one from the token endpoint
    came straight from Apple, to a client it authenticated."""
    config = provider.config
    claims, token = social.exchange_authorization_code(provider, code, client_id=config.client_ids[0],
                                                       redirect_uri=config.redirect_uri)
    if not social.nonce_claim_matches(provider, claims.get("nonce"), _nonce_for(provider, raw_state)):
        _refuse(provider, "nonce_mismatch")
        raise OAuthNonceInvalid()
    return social.identity_from_claims(provider, claims), token


def _form_post_names(raw: str | None) -> dict[str, str] | None:
    """The names of Apple's ``user`` field (``{"name": {"firstName", "lastName"}, "email"}``),
    sent at the first authorization only; None when absent or unreadable (never a refusal:
    the names are a courtesy, the verified id_token is the proof)."""
    if not raw or len(raw) > 4096:
        return None
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError):  # 4096 characters of "[" nest deeper than the recursion limit
        return None
    name = data.get("name") if isinstance(data, dict) else None
    if not isinstance(name, dict):
        return None
    # The browser can forge the field: NUL and other control characters (PostgreSQL refuses NUL
    # in text, a 500) leave the name out, as a name too long does.
    names = {key: value.strip() for key in ("firstName", "lastName")
             if isinstance(value := name.get(key), str) and value.strip() and value.strip().isprintable()}
    try:  # names the user model cannot hold (too long) are dropped, not a refused sign-in
        profile_names.names_to_store(get_user_model(), dict(names), skip_missing=True)
    except ValidationFailed:
        return None
    return names or None


def _github_identity(provider: SocialProvider, tokens: dict[str, Any]) -> social.ProviderIdentity:
    """GitHub has no id_token: ``GET /user`` names the account (its numeric ``id``, stable),
    ``GET /user/emails`` its addresses, of which only the primary one, if verified, counts."""
    access = tokens.get("access_token")
    if not isinstance(access, str) or not access:
        raise CodeExchangeRefused("no access_token")
    base = provider.config.userinfo_endpoint.rstrip("/")
    user = fetch_json(base, timeout=provider.config.timeout, bearer=access)
    emails = fetch_json(base + "/emails", timeout=provider.config.timeout, bearer=access)
    if not isinstance(user, dict) or isinstance(user.get("id"), bool) or not isinstance(user.get("id"), int | str):
        raise ProviderUnreachable("GitHub's /user has no id")
    listed = emails if isinstance(emails, list) else []
    primary: dict[str, Any] = next((e for e in listed if isinstance(e, dict) and e.get("primary") is True), {})
    found = primary.get("email")
    email = found if isinstance(found, str) else ""
    verified = bool(email) and primary.get("verified") is True
    name = social._claim_text(user.get("name"))  # a GitHub user's own text: no NUL, no control characters
    first, _, last = name.partition(" ")
    return social.ProviderIdentity(provider=provider.config.name, subject=str(user["id"]),
                                   email=email if verified else "", email_verified=verified,
                                   first_name=first, last_name=last)


def _finish_app(row: OAuthState, user: User, client: ClientInfo) -> CallbackOutcome:
    """The app flow's end: the 2FA challenge (bound to bearer delivery) in the app URL, or a
    one-time code stored on the row as a digest."""
    step = login.begin_login(user, delivery=Delivery.BEARER, client=client, first_factors=[social.AMR_FEDERATED])
    if step is not None:
        return CallbackOutcome(OAuthFlow.APP, two_factor_url(row.return_url, step))
    raw = new_secret()
    code_expires = timezone.now() + dualauth_settings.SOCIAL_APP_CODE_LIFETIME
    # The row lives until its code expires too, so the purge (expires_at) never takes a live code.
    OAuthState.objects.filter(pk=row.pk).update(user=user, code_digest=digest(raw, APP_CODE_PURPOSE),
                                                code_expires_at=code_expires,
                                                expires_at=max(row.expires_at, code_expires))
    return CallbackOutcome(OAuthFlow.APP, with_params(row.return_url, code=raw))


# --- the app's redemption --------------------------------------------------------------------------

def redeem_app_code(provider: SocialProvider, raw_code: object, verifier: object, *, delivery: Delivery,
                    client: ClientInfo) -> IssuedTokens:
    """Exchange the app flow's one-time code and the app's PKCE ``verifier`` for a session.

    The code is spent first (one conditional UPDATE, exactly one concurrent request wins), then
    the verifier checked against the app's ``code_challenge`` (S256): a wrong verifier spends the
    code, so an intercepted code cannot be tried twice. Raises :class:`OAuthAppCodeInvalid`."""
    row = _spend_code(provider, raw_code, verifier, flow=OAuthFlow.APP, purpose=APP_CODE_PURPOSE, refusal="app")
    user = row.user
    if user is None or not user.is_active:
        raise InvalidCredentials()
    tokens = issue_session(user, delivery=delivery, client=client, methods=[social.AMR_FEDERATED])
    audit.record("auth.social.app_code_redeemed", user=str(user.pk), provider=provider.config.name,
                 ip=client.ip_address)
    return tokens


def _spend_code(provider: SocialProvider, raw_code: object, verifier: object, *, flow: str, purpose: str,
                refusal: str) -> OAuthState:
    """Spend the one-time code of a ``flow`` row and check the app's PKCE ``verifier`` against the
    row's ``code_challenge`` (S256). The code is spent first (one conditional UPDATE: exactly one
    concurrent request wins), so a wrong verifier spends it too and an intercepted code cannot be
    tried twice; a link row's sealed provider token leaves the row in the same transaction,
    whatever follows. Raises :class:`OAuthAppCodeInvalid`; ``refusal`` names the audit reasons."""
    if not looks_like_secret(raw_code) or not isinstance(verifier, str) or not 43 <= len(verifier) <= 128 \
            or not set(verifier) <= _PKCE_CHARS:
        raise OAuthAppCodeInvalid()
    now = timezone.now()
    code_digest = digest(raw_code, purpose)
    with transaction.atomic():
        spent = OAuthState.objects.filter(code_digest=code_digest, provider=provider.config.name, flow=flow,
                                          code_consumed_at__isnull=True, code_expires_at__gt=now,
                                          ).exclude(app_code_challenge="").update(code_consumed_at=now)
        if spent != 1:
            _refuse(provider, f"{refusal}_code_unusable")
            raise OAuthAppCodeInvalid()
        row = OAuthState.objects.select_related("user").get(code_digest=code_digest)
        if row.link_provider_token:
            OAuthState.objects.filter(pk=row.pk).update(link_provider_token="")
    if not equal(_s256(verifier), row.app_code_challenge):
        _refuse(provider, f"{refusal}_pkce_mismatch")
        raise OAuthAppCodeInvalid()
    return row


# --- the app's link ------------------------------------------------------------------------------

def finish_app_link(provider: SocialProvider, user: User, session_id: object, raw_code: object,
                    verifier: object) -> LinkedAccount:
    """Complete an app's link flow: the one-time code of its callback, the app's PKCE
    ``verifier``, from the session that started the link (``session_id``, of ``user``).

    The code is spent first (one conditional UPDATE), then the verifier and the session checked:
    any mismatch spends it too. So a victim who opened an attacker's ticket links nothing: the
    code lands in the victim's device, and neither the attacker (no code) nor the victim's own
    app (another session, no verifier) can redeem it. Raises :class:`OAuthAppCodeInvalid` and
    what :func:`.social.link_identity` raises (:class:`OAuthAccountLinkedElsewhere`)."""
    row = _spend_code(provider, raw_code, verifier, flow=OAuthFlow.LINK, purpose=LINK_CODE_PURPOSE, refusal="link")
    if row.link_session_id is None or str(row.link_session_id) != str(session_id) or row.user_id != user.pk:
        _refuse(provider, "link_code_other_session")
        raise OAuthAppCodeInvalid()
    token = None
    if row.link_provider_token:
        raw_token = open_token(row.link_provider_token)
        if raw_token is None:  # a key dropped from DUALAUTH_SOCIAL_TOKEN_KEYS meanwhile: link without it
            log.warning("provider %s: the sealed token of a link flow no longer opens", provider.config.name)
        else:
            token = social_tokens.ProviderToken(row.link_provider_token_client_id, raw_token)
    identity = social.ProviderIdentity(provider=provider.config.name, subject=row.link_subject,
                                       email=row.link_email, email_verified=row.link_email_verified)
    return social.link_identity(user, provider, identity, how="redirect", provider_token=token)
