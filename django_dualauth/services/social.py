"""Social sign-in with an id_token (Google, Apple, any OpenID Connect provider), and the linked
provider accounts. No HTTP.

The native flow: the app asks :func:`issue_nonce` for a nonce (single use, short-lived, stored as
a keyed digest, bound to the provider), hands it to the platform SDK, and sends the id_token it
gets back with the nonce. :func:`verify_id_token` checks the token against the provider's keys
(fetched once per process and cached: ``gateways.ProviderKeys``), its pinned algorithms, issuers
and client ids, its times and the nonce; :func:`sign_in_with_id_token` then spends the nonce (one
conditional UPDATE) and ends in the login module's :func:`~.login.sign_in`, so the e-mail and 2FA
policies apply as to every other method.

Accounts: a provider account (provider name + ``sub``) is a :class:`LinkedAccount`. A first
sign-in creates the user (no usable password) when the provider verified an address no account
has; an address an account already has is never merged silently (``409
OAUTH_ACCOUNT_CONFLICT``) unless the provider's ``link_verified_email`` allows it. First sign-ins
of the same identity at the same moment all end signed in to the one account the first made.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar

import jwt
from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.utils import timezone

from .. import audit
from ..conf import SocialProvider, dualauth_settings, snapshot
from ..crypto import digest, looks_like_secret, new_secret
from ..exceptions import (
    EmailTaken,
    IdTokenInvalid,
    InvalidCredentials,
    LastSignInMethod,
    LinkedAccountNotFound,
    OAuthAccountConflict,
    OAuthAccountLinkedElsewhere,
    OAuthCodeExchangeFailed,
    OAuthEmailNotVerified,
    OAuthNonceInvalid,
    ProviderFlowUnsupported,
    ProviderNotConfigured,
    ProviderUnavailable,
    ValidationFailed,
)
from ..gateways import CodeExchangeRefused, ProviderUnreachable, UnknownSigningKey, exchange_code
from ..models import AccountState, LinkedAccount, OAuthNonce, OAuthNoncePurpose
from ..signals import social_account_linked, social_account_unlinked
from ..types import ClientInfo, Delivery, IssuedTokens
from . import email_claims, first_proof, login, profile_names, social_linking, social_tokens, users
from .claims import account_state

if TYPE_CHECKING:
    from ..types import User

__all__ = [
    "AMR_FEDERATED",
    "ProviderIdentity",
    "configured_provider",
    "exchange_authorization_code",
    "identity_from_claims",
    "issue_nonce",
    "link_identity",
    "link_with_id_token",
    "linked_accounts",
    "sign_in_identity",
    "sign_in_with_id_token",
    "unlink",
    "verified_claims",
    "verify_id_token",
]

#: The ``amr`` a session signed in through a provider records (federated authentication).
AMR_FEDERATED = "fed"
NONCE_PURPOSE = "oauth_nonce"
#: id_tokens are a few hundred bytes to a few KB; refuse anything larger before parsing it.
MAX_ID_TOKEN_LENGTH = 16 * 1024
#: An authorization code is a few hundred characters; refuse anything longer before sending it on.
MAX_CODE_LENGTH = 2048
#: Header parameters that would let a token name its own key; never honoured, so refused.
_FORBIDDEN_HEADERS = frozenset({"jku", "jwk", "x5u", "x5c"})

log = logging.getLogger("django_dualauth.social")
_Outcome = TypeVar("_Outcome")


@dataclass(frozen=True)
class ProviderIdentity:
    """What a verified id_token says about its user."""

    provider: str
    subject: str
    email: str
    email_verified: bool
    first_name: str = ""
    last_name: str = ""


def configured_provider(name: str, *, id_token: bool = False) -> SocialProvider:
    """The provider configured as ``name``; raises :class:`ProviderNotConfigured` (404) for any
    other, and :class:`ProviderFlowUnsupported` when ``id_token`` is asked of one without them."""
    provider = snapshot().social_providers.get(name)
    if provider is None:
        raise ProviderNotConfigured(name)
    if id_token and not provider.config.uses_id_tokens:
        raise ProviderFlowUnsupported()
    return provider


# --- nonces ----------------------------------------------------------------------------------------

def issue_nonce(provider: SocialProvider, *, client: ClientInfo) -> tuple[str, datetime]:
    """A new nonce for one sign-in with ``provider`` and when it expires. One INSERT; the raw
    value is returned once and only its keyed digest is stored."""
    now = timezone.now()
    raw = new_secret()
    expires = now + dualauth_settings.SOCIAL_NONCE_LIFETIME
    OAuthNonce.objects.create(provider=provider.config.name, purpose=OAuthNoncePurpose.NATIVE,
                              digest=digest(raw, NONCE_PURPOSE), created_at=now, expires_at=expires,
                              ip_address=client.ip_address)
    return raw, expires


def _spend_nonce(provider: SocialProvider, raw: str) -> None:
    """Consume the nonce: one conditional UPDATE that exactly one request wins, whatever the
    number of processes. Raises :class:`OAuthNonceInvalid` for an unknown, spent or expired
    nonce, and for one issued for another provider."""
    now = timezone.now()
    spent = (OAuthNonce.objects.filter(digest=digest(raw, NONCE_PURPOSE), provider=provider.config.name,
                                       purpose=OAuthNoncePurpose.NATIVE, consumed_at__isnull=True,
                                       expires_at__gt=now)
             .update(consumed_at=now))
    if spent != 1:
        _refuse(provider, "nonce_unusable")
        raise OAuthNonceInvalid()


def nonce_claim_matches(provider: SocialProvider, claim: object, raw: str) -> bool:
    """Whether the id_token's ``nonce`` is the one issued: the raw value, or (``nonce_hashed``,
    Apple's convention: the app hands Apple SHA-256 of the nonce) its hex SHA-256."""
    if not isinstance(claim, str):
        return False
    expected = hashlib.sha256(raw.encode()).hexdigest() if provider.config.nonce_hashed else raw
    return hmac.compare_digest(claim.encode(), expected.encode())


# --- the id_token ----------------------------------------------------------------------------------

def _refuse(provider: SocialProvider, reason: str) -> None:
    audit.record("auth.social.refused", level=logging.WARNING, provider=provider.config.name, reason=reason)


refuse = _refuse  # for the redirect flow and the code exchange: the same audit event


def _truthy(value: object) -> bool:
    """``email_verified`` as providers send it: a boolean, or (Apple) the string ``"true"``."""
    return value is True or (isinstance(value, str) and value.strip().lower() == "true")


def verify_id_token(provider: SocialProvider, raw_token: object, raw_nonce: object) -> ProviderIdentity:
    """Check an id_token of ``provider`` for the nonce ``raw_nonce``; returns who it names.

    In order, each refusal being :class:`IdTokenInvalid` (401) unless said otherwise: the shape
    and size; the header's ``alg`` one of the provider's pinned algorithms (so ``none`` and HS256
    never reach a key) and no header naming its own key (``jku``, ``jwk``, ``x5u``, ``x5c``); the
    key by ``kid`` from the provider's key set (cached; one refetch for an unknown ``kid``; a
    provider that cannot be reached is :class:`ProviderUnavailable`, 503); the signature; ``iss``
    one of the provider's issuers; ``aud`` one of its client ids, and ``azp`` too where present
    (required when ``aud`` names several); ``exp``, ``nbf`` and ``iat`` with
    ``DUALAUTH_SOCIAL_ID_TOKEN_LEEWAY``, ``iat`` no older than ``DUALAUTH_SOCIAL_ID_TOKEN_MAX_AGE``;
    a ``sub``; the ``nonce`` claim matching ``raw_nonce`` (:class:`OAuthNonceInvalid`). Makes no
    network call in steady state and writes nothing; the nonce is spent by the caller.
    """
    return _verify_with_claims(provider, raw_token, raw_nonce)[0]


def _verify_with_claims(provider: SocialProvider, raw_token: object,
                        raw_nonce: object) -> tuple[ProviderIdentity, dict[str, Any]]:
    if not looks_like_secret(raw_nonce):
        _refuse(provider, "nonce_malformed")
        raise OAuthNonceInvalid()
    claims = verified_claims(provider, raw_token)
    if not nonce_claim_matches(provider, claims.get("nonce"), raw_nonce):
        _refuse(provider, "nonce_mismatch")
        raise OAuthNonceInvalid()
    return identity_from_claims(provider, claims), claims


def verified_claims(provider: SocialProvider, raw_token: object) -> dict[str, Any]:
    """The claims of an id_token of ``provider`` once every check of :func:`verify_id_token` but
    the nonce passed (the code exchange's id_token, compared by ``sub`` instead). Raises
    :class:`IdTokenInvalid` and :class:`ProviderUnavailable`."""
    config = provider.config
    if not isinstance(raw_token, str) or not raw_token or len(raw_token) > MAX_ID_TOKEN_LENGTH \
            or raw_token.count(".") != 2:
        _refuse(provider, "malformed")
        raise IdTokenInvalid()
    try:
        header = jwt.get_unverified_header(raw_token)
    except jwt.InvalidTokenError:
        _refuse(provider, "malformed_header")
        raise IdTokenInvalid() from None
    alg, kid = header.get("alg"), header.get("kid")
    if alg not in config.algorithms or _FORBIDDEN_HEADERS & set(header) or not isinstance(kid, str) or not kid:
        _refuse(provider, "header_refused")
        raise IdTokenInvalid()
    try:
        key = provider.keys.key_for(kid)
    except UnknownSigningKey:
        _refuse(provider, "unknown_kid")
        raise IdTokenInvalid() from None
    except ProviderUnreachable as exc:
        audit.record("auth.social.provider_unavailable", level=logging.ERROR, provider=config.name,
                     error=repr(str(exc)[:200]))
        raise ProviderUnavailable() from None
    if key.algorithm_name not in config.algorithms:
        _refuse(provider, "key_algorithm")
        raise IdTokenInvalid()
    leeway = dualauth_settings.SOCIAL_ID_TOKEN_LEEWAY.total_seconds()
    try:
        claims: dict[str, Any] = jwt.decode(
            raw_token, key, algorithms=list(config.algorithms), audience=list(config.client_ids),
            issuer=list(config.issuers), leeway=leeway,
            options={"require": ["iss", "aud", "exp", "iat", "sub"]})
    except jwt.InvalidTokenError as exc:
        _refuse(provider, type(exc).__name__)
        raise IdTokenInvalid() from None
    aud = claims["aud"]
    azp = claims.get("azp")
    if (azp is not None and azp not in config.client_ids) or (isinstance(aud, list) and len(aud) > 1 and azp is None):
        _refuse(provider, "azp")
        raise IdTokenInvalid()
    iat = claims["iat"]
    if not isinstance(iat, int | float) or \
            timezone.now().timestamp() - iat > dualauth_settings.SOCIAL_ID_TOKEN_MAX_AGE.total_seconds() + leeway:
        _refuse(provider, "too_old")
        raise IdTokenInvalid()
    subject = claims["sub"]
    if not isinstance(subject, str) or not subject or len(subject) > 255:
        _refuse(provider, "sub")
        raise IdTokenInvalid()
    return claims


def identity_from_claims(provider: SocialProvider, claims: Mapping[str, Any]) -> ProviderIdentity:
    """Who verified claims name (``sub``, the address and whether the provider verified it, the names)."""
    email = claims.get("email")
    email = email.strip() if isinstance(email, str) else ""
    return ProviderIdentity(
        provider=provider.config.name, subject=claims["sub"], email=email,
        email_verified=bool(email) and _truthy(claims.get("email_verified")),
        first_name=_claim_text(claims.get("given_name")), last_name=_claim_text(claims.get("family_name")))


def token_client_id(claims: Mapping[str, Any]) -> str:
    """The client id an id_token was issued to (``azp``, else its one ``aud``): the app whose
    authorization code came with it."""
    azp, aud = claims.get("azp"), claims["aud"]  # verified: aud is present
    if isinstance(azp, str):
        return azp
    return aud if isinstance(aud, str) else str(aud[0])


def _claim_text(value: object) -> str:
    """A provider's name claim as text to store; "" for a non-string or one with NUL or another
    control or format character (PostgreSQL refuses NUL in text; a user may set such a name)."""
    return value.strip() if isinstance(value, str) and value.strip().isprintable() else ""


# --- Apple's authorization code --------------------------------------------------------------------

def exchange_authorization_code(provider: SocialProvider, code: object, *, client_id: str, redirect_uri: str = "",
                                ) -> tuple[dict[str, Any], social_tokens.ProviderToken | None]:
    """Exchange Apple's authorization ``code`` issued to ``client_id``; returns the verified claims
    of the id_token Apple answered with (no nonce check: the caller compares ``sub`` or checks
    the nonce) and the refresh token, if Apple gave one.

    Raises :class:`OAuthCodeExchangeFailed` (400: Apple refused the code, used, expired, another
    client's, or the client secret), :class:`ProviderUnavailable` (503: Apple unreachable) and
    :class:`IdTokenInvalid` (its id_token does not verify)."""
    signer = provider.client_secret_jwt
    if signer is None or not isinstance(code, str) or not code or len(code) > MAX_CODE_LENGTH:
        _refuse(provider, "code_malformed")
        raise OAuthCodeExchangeFailed()
    form = {"grant_type": "authorization_code", "code": code, "client_id": client_id,
            "client_secret": signer.for_client(client_id)}
    if redirect_uri:
        form["redirect_uri"] = redirect_uri
    config = provider.config
    try:
        answer = exchange_code(config.token_endpoint, form, timeout=config.timeout)
    except CodeExchangeRefused as exc:
        log.warning("provider %s refused the code: %s", config.name, exc)
        _refuse(provider, "code_refused")
        raise OAuthCodeExchangeFailed() from None
    except ProviderUnreachable as exc:
        log.warning("provider %s: %s", config.name, exc)
        audit.record("auth.social.provider_unavailable", level=logging.ERROR, provider=config.name,
                     error=repr(str(exc)[:200]))
        raise ProviderUnavailable() from None
    id_token = answer.get("id_token")
    if not isinstance(id_token, str):
        _refuse(provider, "no_id_token")
        raise IdTokenInvalid()
    claims = verified_claims(provider, id_token)
    refresh = answer.get("refresh_token")
    if not isinstance(refresh, str) or not 0 < len(refresh) <= 4096:
        return claims, None
    return claims, social_tokens.ProviderToken(client_id, refresh)


# --- sign-in ---------------------------------------------------------------------------------------

def sign_in_with_id_token(provider: SocialProvider, raw_token: object, raw_nonce: object, *, delivery: Delivery,
                          client: ClientInfo, names: Mapping[str, str] | None = None,
                          authorization_code: object = None) -> IssuedTokens | login.LoginChallengeIssued:
    """Sign in (or up) with an id_token: the session, or the 2FA challenge password login would
    answer. ``names`` (``firstName``, ``lastName``: Apple sends the name to the app at the first
    authorization only) fill a new account; the token's ``given_name``/``family_name`` otherwise.

    ``authorization_code`` (Apple's ``authorizationCode``, sent with the identity token): where the
    provider has its client key (``has_client_key``) it is exchanged at the provider
    (:func:`exchange_authorization_code`) before any account is touched; the id_token that answer
    carries must verify and name the same ``sub``, and the refresh token is kept sealed on the
    linked account for its revocation. A code that was sent and fails refuses the sign-in
    (:class:`OAuthCodeExchangeFailed`, 400; :class:`ProviderUnavailable` while Apple is down):
    signing in without it would leave a token nobody can revoke. Without a client key the code
    is ignored (system check W012).

    The nonce is spent once the token verified, whatever follows; then the account is found or
    made and the session issued in one transaction, so a refusal (a conflict, a policy) writes
    nothing else. Raises what :func:`verify_id_token` raises, :class:`OAuthNonceInvalid`,
    :class:`OAuthEmailNotVerified` (no account yet, and no verified address to make one with),
    :class:`OAuthAccountConflict`, :class:`InvalidCredentials` (the linked user is inactive) and
    the login module's policy errors.
    """
    identity, claims = _verify_with_claims(provider, raw_token, raw_nonce)
    assert isinstance(raw_nonce, str)  # verify_id_token refused any other
    _spend_nonce(provider, raw_nonce)
    token = _exchange_for(provider, identity, claims, authorization_code)
    return sign_in_identity(provider, identity, client=client, names=names, provider_token=token,
                            finish=lambda user: login.sign_in(user, first_factor=AMR_FEDERATED, delivery=delivery,
                                                              client=client))


def _exchange_for(provider: SocialProvider, identity: ProviderIdentity, claims: Mapping[str, Any],
                  authorization_code: object) -> social_tokens.ProviderToken | None:
    """The provider token of the code that came with a verified id_token (None without a code or
    a client key): exchanged for the client the id_token names, and refused unless the exchange's
    id_token names the same ``sub``."""
    if authorization_code is None or provider.client_secret_jwt is None:
        return None
    client_id = token_client_id(claims)
    # A code from Apple's JS on the web (the Services ID, the first client id) was issued for
    # the configured redirect_uri, which Apple then requires; a native app's needs none.
    redirect_uri = provider.config.redirect_uri if client_id == provider.config.client_ids[0] else ""
    exchanged, token = exchange_authorization_code(provider, authorization_code, client_id=client_id,
                                                   redirect_uri=redirect_uri)
    if exchanged["sub"] != identity.subject:
        _refuse(provider, "code_subject_mismatch")
        raise OAuthCodeExchangeFailed()
    return token


def sign_in_identity(provider: SocialProvider, identity: ProviderIdentity, *, client: ClientInfo,
                     finish: Callable[[User], _Outcome], names: Mapping[str, str] | None = None,
                     provider_token: social_tokens.ProviderToken | None = None) -> _Outcome:
    """The account rules of every social sign-in for a verified ``identity`` (the native flow's
    id_token, the redirect flow's id_token or user API): the linked user, a new user, or
    :class:`OAuthAccountConflict` / :class:`OAuthEmailNotVerified`; then ``finish(user)`` (the
    login module's ``sign_in`` or the like) in the same transaction, so a refusal writes nothing.
    ``provider_token`` (Apple's refresh token) is kept sealed on the linked account, in it too.

    Parallel first sign-ins of one new identity make one user and one link, and every one of them
    is signed in to it: the losers, whose INSERT met a unique index, look the identity up once
    more (docs/social-login.md, "Security reasoning")."""
    linked: list[tuple[User, str, bool]] = []

    def attempt(retried: bool) -> tuple[User, _Outcome]:
        with transaction.atomic():
            user, how, created = _account_for(provider, identity, names or {}, retried=retried)
            if how:
                linked.append((user, how, created))
            if provider_token is not None:
                social_tokens.store(identity.provider, identity.subject, provider_token)
            return user, finish(user)

    try:
        try:
            user, outcome = attempt(retried=False)
        except _LostFirstSignIn:
            # A parallel first sign-in with the same identity (or a sign-up with its address)
            # committed between our look-up and our INSERT, and this transaction was rolled back.
            # Looked up again: the same proven identity now finds the link the winner made and
            # signs in to that one account, as the client's next attempt would; an address taken
            # by another account is the usual conflict. Once only: the winner has committed.
            user, outcome = attempt(retried=True)
    except OAuthAccountConflict:
        # The identity is proven: kept for link-request to mail the address's owner (social_linking).
        social_linking.remember_conflict(identity.provider, identity.subject, identity.email)
        raise
    for user, how, created in linked:
        social_account_linked.send(sender=LinkedAccount, user=user, provider=identity.provider,
                                   provider_account_id=identity.subject, created=created, how=how)
    audit.record("auth.social.signed_in", user=str(user.pk), provider=identity.provider, ip=client.ip_address,
                 challenge=isinstance(outcome, login.LoginChallengeIssued) or None)
    return outcome


class _LostFirstSignIn(Exception):  # noqa: N818 - internal signal, never leaves this module
    """A parallel transaction created the link or claimed the address first (a unique index)."""


def _account_for(provider: SocialProvider, identity: ProviderIdentity, names: Mapping[str, str], *,
                 retried: bool = False) -> tuple[User, str, bool]:
    """The user the identity signs in, and how it was linked now ("" when it already was) and
    whether the user was created. Call inside ``atomic``. Raises :class:`_LostFirstSignIn` when a
    unique index shows that a parallel first sign-in got there first (``retried``: the conflict
    answer instead, so a look-up is retried once at most)."""
    now = timezone.now()
    # The user's AccountState in the same query: the login's policies read it next.
    link = (LinkedAccount.objects.select_related("user", "user__dualauth_state")
            .filter(provider=identity.provider, provider_account_id=identity.subject).first())
    if link is not None:
        user = link.user
        if not user.is_active:
            raise InvalidCredentials()
        changes: dict[str, Any] = {"last_used_at": now}
        if identity.email and identity.email != link.email:
            changes["email"] = identity.email[:254]
        LinkedAccount.objects.filter(pk=link.pk).update(**changes)
        if identity.email_verified and _same_address(identity.email, users.email_of(user)) \
                and not account_state(user).email_verified:
            # A provider-verified address counts as verified (the e-mail verification policy). No
            # reset as for a first proof: the link was made from a session of this account.
            _set_state(user, email_verified=True)
        return user, "", False
    if not identity.email_verified:
        _refuse(provider, "email_not_verified")
        raise OAuthEmailNotVerified()
    address = users.normalize_address(identity.email)
    existing = get_user_model()._default_manager.filter(**{f"{users.email_field()}__iexact": address}).first()
    if existing is not None:
        if not provider.config.link_verified_email or not existing.is_active:
            if not retried:
                # A parallel first sign-in of this identity may have committed its user and link
                # between the link look-up above and this one (READ COMMITTED): look again once.
                raise _LostFirstSignIn()
            _refuse(provider, "account_conflict")
            raise OAuthAccountConflict(identity.provider, identity.email)
        # The provider proved the mailbox: whatever was set up on an unproven account goes
        # (pre-account hijacking), as after a magic-link sign-in.
        first_proof.reset_before_first_proof(existing, proof=first_proof.PROOF_PROVIDER)
        _set_state(existing, email_verified=True)
        try:
            _create_link(existing, identity, now)
        except OAuthAccountLinkedElsewhere:
            if retried:
                raise
            raise _LostFirstSignIn() from None
        return existing, "verified_email", False
    try:
        return _create_user(provider, identity, address, names, now), "sign_up", True
    except (EmailTaken, IntegrityError, OAuthAccountLinkedElsewhere):
        if retried:
            raise OAuthAccountConflict(identity.provider, identity.email) from None
        raise _LostFirstSignIn() from None


def _same_address(a: str, b: str) -> bool:
    return bool(a) and bool(b) and users.normalize_address(a).casefold() == users.normalize_address(b).casefold()


def _set_state(user: User, **values: Any) -> None:
    state, _ = AccountState.objects.update_or_create(user_id=user.pk, defaults=values)
    user.dualauth_state = state


def _create_user(provider: SocialProvider, identity: ProviderIdentity, address: str,
                 names: Mapping[str, str], now: datetime) -> User:
    model = get_user_model()
    fields = users.user_fields_for_address(address, field="idToken")
    given = {k: v for k, v in names.items() if v} or {
        k: v for k, v in (("firstName", identity.first_name), ("lastName", identity.last_name)) if v}
    try:
        fields.update(profile_names.names_to_store(model, dict(given), skip_missing=True))
    except ValidationFailed:
        if names:
            raise  # the app's own input: a clear 400
        # The provider's names do not fit the model's fields: the account is made without them.
    # EmailTaken or an IntegrityError (a parallel sign-up took the address or the username) and
    # OAuthAccountLinkedElsewhere from _create_link go to the caller, which looks up again.
    claim = email_claims.claim_address(address)
    user = model._default_manager.create_user(**fields)
    user.set_unusable_password()
    user.save(update_fields=["password"])
    email_claims.bind_claim(claim, user)
    _set_state(user, email_verified=True, login_provider=provider.config.name)
    _create_link(user, identity, now)
    return user


def _create_link(user: User, identity: ProviderIdentity, now: datetime) -> LinkedAccount:
    try:
        with transaction.atomic():  # a savepoint: PostgreSQL aborts the transaction on a conflict
            return LinkedAccount.objects.create(user=user, provider=identity.provider,
                                                provider_account_id=identity.subject, email=identity.email[:254],
                                                linked_at=now, last_used_at=now)
    except IntegrityError:  # a parallel first sign-in with the same account linked it first
        raise OAuthAccountLinkedElsewhere() from None


# --- linking from a session, listing, unlinking ----------------------------------------------------

def link_with_id_token(user: User, provider: SocialProvider, raw_token: object, raw_nonce: object, *,
                       authorization_code: object = None) -> LinkedAccount:
    """Link the provider account of an id_token to the signed-in ``user`` (idempotent for an
    account already theirs). ``authorization_code``: Apple's, exchanged as at sign-in
    (:func:`sign_in_with_id_token`), its refresh token kept on the link for its revocation.
    Raises what :func:`verify_id_token` raises, :class:`OAuthNonceInvalid`,
    :class:`OAuthAccountLinkedElsewhere` (before any exchange) and the exchange's errors. The
    caller has checked that the session may make this change (a fresh sign-in)."""
    identity, claims = _verify_with_claims(provider, raw_token, raw_nonce)
    assert isinstance(raw_nonce, str)
    _spend_nonce(provider, raw_nonce)
    _linkable(user, provider, identity)  # before the exchange: a refused link redeems no code
    token = _exchange_for(provider, identity, claims, authorization_code)
    return link_identity(user, provider, identity, how="session", provider_token=token)


def _linkable(user: User, provider: SocialProvider, identity: ProviderIdentity) -> LinkedAccount | None:
    """The link of ``identity`` if it is already ``user``'s; :class:`OAuthAccountLinkedElsewhere`
    if it is another user's."""
    existing = LinkedAccount.objects.filter(provider=identity.provider, provider_account_id=identity.subject).first()
    if existing is not None and existing.user_id != user.pk:
        _refuse(provider, "linked_elsewhere")
        raise OAuthAccountLinkedElsewhere()
    return existing


def link_identity(user: User, provider: SocialProvider, identity: ProviderIdentity, *, how: str,
                  provider_token: social_tokens.ProviderToken | None = None) -> LinkedAccount:
    """Link a verified ``identity`` to ``user`` (idempotent for one already theirs): the signal
    (``how``) and the audit event for a new link; ``provider_token`` (Apple's refresh token) kept
    sealed on the link. Raises :class:`OAuthAccountLinkedElsewhere`."""
    existing = _linkable(user, provider, identity)
    if existing is not None:
        if provider_token is not None:
            social_tokens.store(identity.provider, identity.subject, provider_token)
        return existing
    with transaction.atomic():
        link = _create_link(user, identity, timezone.now())
        if provider_token is not None:
            social_tokens.store(identity.provider, identity.subject, provider_token)
    social_account_linked.send(sender=LinkedAccount, user=user, provider=identity.provider,
                               provider_account_id=identity.subject, created=False, how=how)
    audit.record("auth.social.linked", user=str(user.pk), provider=identity.provider, how=how)
    return link


def linked_accounts(user: User) -> list[LinkedAccount]:
    """The user's linked provider accounts, oldest first. One query."""
    return list(LinkedAccount.objects.filter(user_id=user.pk).order_by("linked_at", "pk"))


def unlink(user: User, provider: str, provider_account_id: str) -> None:
    """Remove one of the user's linked accounts. Raises :class:`LinkedAccountNotFound` (not theirs
    or unknown: the same 404) and :class:`LastSignInMethod` when the user would be left with no
    way to sign in: no usable password and no other linked account. The user's links are locked,
    so two parallel unlinks cannot each leave the other as the last one and remove both."""
    with transaction.atomic():
        links = list(LinkedAccount.objects.select_for_update().filter(user_id=user.pk).order_by("pk"))
        target = next((a for a in links if a.provider == provider and a.provider_account_id == provider_account_id),
                      None)
        if target is None:
            raise LinkedAccountNotFound()
        # A mailbox linked as "email" is listed but signs nobody in: it does not count.
        if target.provider != social_linking.EMAIL_PROVIDER and not user.has_usable_password() and not any(
                a is not target and a.provider != social_linking.EMAIL_PROVIDER for a in links):
            raise LastSignInMethod()
        target.delete()
    social_account_unlinked.send(sender=LinkedAccount, user=user, provider=provider,
                                 provider_account_id=provider_account_id)
    audit.record("auth.social.unlinked", user=str(user.pk), provider=provider)
