"""The access-token format: a short-lived JWT (RFC 9068 ``typ: at+jwt``) bound to a session.

One algorithm per key (RFC 8725 §3.1): the key is chosen by ``kid`` from the configured
map only, and the token's ``alg`` must equal that key's algorithm. Header parameters that
would let a token name its own key (``jwk``, ``jku``, ``x5u``, ``x5c``) are refused.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

import jwt
from django.utils import timezone
from django.utils.crypto import salted_hmac
from jwt.algorithms import get_default_algorithms
from jwt.utils import base64url_decode

from .._seam.jwt_decoder import Decoder
from ..conf import dualauth_settings, per_process
from ..exceptions import AccessTokenInvalid
from ..types import AccessClaims
from .claims import user_claims

__all__ = ["TOKEN_TYPE", "encode_access_token", "decode_access_token", "signing_keys"]

TOKEN_TYPE = "at+jwt"
TOKEN_USE = "access"
_REQUIRED = ["exp", "iat", "jti", "sub", "sid", "iss", "aud"]
_FORBIDDEN_HEADERS = frozenset({"jwk", "jku", "x5u", "x5c", "x5t", "x5t#S256", "crit"})
_JWT_SHAPE = re.compile(r"\A[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*\Z")
HMAC_ALGORITHMS = frozenset({"HS256", "HS384", "HS512"})
# PyJWT with our configured-key HMAC and a faster segment check (the private seam); with
# DUALAUTH_PRIVATE_SPEEDUPS off it decodes as plain ``jwt.PyJWT`` does.
_DECODER = Decoder()


@dataclass(frozen=True)
class SigningKey:
    kid: str
    algorithm: str
    signing_key: Any  # None for verify-only keys
    verifying_key: Any


@lru_cache(maxsize=16)
def _derived_keys(secrets: tuple[str, ...]) -> tuple[SigningKey, ...]:
    keys = []
    for secret in secrets:
        material = salted_hmac("django_dualauth.access_token", "HS256", secret=secret,
                               algorithm="sha256").digest()
        kid = "dk-" + hashlib.sha256(material).hexdigest()[:12]
        keys.append(SigningKey(kid, "HS256", material, material))
    # Only SECRET_KEY signs; fallbacks verify tokens issued before a key rotation.
    return (keys[0], *(SigningKey(k.kid, k.algorithm, None, k.verifying_key) for k in keys[1:]))


@lru_cache(maxsize=16)
def _configured_keys(frozen: tuple[tuple[tuple[str, str], ...], ...]) -> tuple[SigningKey, ...]:
    algorithms = get_default_algorithms()
    keys = []
    for items in frozen:
        entry = dict(items)
        alg = entry["algorithm"]
        impl = algorithms[alg]
        if alg in HMAC_ALGORITHMS:
            secret = entry["secret"].encode()
            keys.append(SigningKey(entry["kid"], alg, secret, secret))
        else:
            private = entry.get("private_key")
            signing = impl.prepare_key(private) if private else None
            public = entry.get("public_key")
            verifying = impl.prepare_key(public) if public else signing.public_key()
            keys.append(SigningKey(entry["kid"], alg, signing, verifying))
    return tuple(keys)


def signing_keys() -> tuple[SigningKey, ...]:
    """All keys, signing key first. Prepared keys are memoised by their configuration."""
    config = dualauth_settings.JWT_KEYS
    if not config:
        return _derived_keys(tuple(dualauth_settings.SECRET_KEYS))
    frozen = tuple(tuple(sorted((k, str(v)) for k, v in e.items())) for e in config)
    return _configured_keys(frozen)


def _signing_key() -> SigningKey:
    for key in signing_keys():
        if key.signing_key is not None:
            return key
    raise RuntimeError("DUALAUTH_JWT_KEYS has no key with private material")  # system check E004


@dataclass(frozen=True)
class _Issuance:
    key: SigningKey
    issuer: str
    audience: str
    lifetime: timedelta


@per_process
def _issuance() -> _Issuance:
    """What signing a token needs from the settings, resolved once per process (see
    :func:`~django_dualauth.conf.per_process`), as :func:`_verification` is for verifying."""
    return _Issuance(key=_signing_key(), issuer=dualauth_settings.JWT_ISSUER,
                     audience=dualauth_settings.JWT_AUDIENCE, lifetime=dualauth_settings.ACCESS_TOKEN_LIFETIME)


def encode_access_token(session: Any, user: Any, *, now: datetime | None = None) -> tuple[str, datetime]:
    """Sign an access token for ``session``; returns ``(token, expires_at)``.

    The expiry never passes the session's absolute expiry.
    """
    now = now or timezone.now()
    issuance = _issuance()
    expires_at = min(now + issuance.lifetime, session.absolute_expires_at)
    key = issuance.key
    payload = {
        **user_claims(user),
        "iss": issuance.issuer,
        "aud": issuance.audience,
        "sub": str(user.pk),
        "sid": str(session.pk),
        "jti": uuid.uuid4().hex,
        "iat": int(now.timestamp()),
        "exp": int(expires_at.timestamp()),
        "token_use": TOKEN_USE,
        "amr": list(session.auth_methods),
    }
    token = _DECODER.encode(payload, key.signing_key, algorithm=key.algorithm,
                            headers={"kid": key.kid, "typ": TOKEN_TYPE})
    return token, expires_at


@dataclass(frozen=True)
class _Verification:
    """What verifying a token needs from the settings, resolved once (see :func:`_verification`)."""

    max_length: int
    keys: dict[str, SigningKey]  # by kid; the first key of a kid wins, as a scan in order would
    audience: str
    issuer: str
    leeway: float  # seconds
    # Header segments of tokens that verified, and their key: see decode_access_token.
    verified_headers: dict[str, SigningKey] = field(default_factory=dict)
    # Whole tokens that verified, and their claims: see decode_access_token.
    verified_tokens: dict[str, AccessClaims] = field(default_factory=dict)


#: Header segments remembered per configuration: one per key in practice (encode writes the same
#: header for every token of a key); the bound only caps memory.
_VERIFIED_HEADERS_MAX = 16
#: Tokens remembered per configuration: a client presents the same access token on every request
#: until it is refreshed; past the bound the memo starts again from empty.
_VERIFIED_TOKENS_MAX = 4096


@per_process
def _verification() -> _Verification:
    """Resolved per process and dropped on ``setting_changed`` (:func:`~django_dualauth.conf.per_process`):
    reading the six settings and building the key list on every request cost more than the HMAC."""
    keys: dict[str, SigningKey] = {}
    for key in signing_keys():
        keys.setdefault(key.kid, key)
    return _Verification(
        max_length=dualauth_settings.ACCESS_TOKEN_MAX_LENGTH,
        keys=keys,
        audience=dualauth_settings.JWT_AUDIENCE,
        issuer=dualauth_settings.JWT_ISSUER,
        leeway=dualauth_settings.JWT_LEEWAY.total_seconds(),
    )


# PyJWT's options for decode, built once (PyJWT copies them before merging with its defaults).
_DECODE_OPTIONS = {verify_exp: {"require": _REQUIRED, "verify_exp": verify_exp, "strict_aud": True}
                   for verify_exp in (True, False)}


def _is_numeric_date(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _unverified_header(raw: str) -> Any:
    """The JOSE header segment only, to choose the key. ``jwt.get_unverified_header`` would load
    (and check character by character) every segment, which ``jwt.decode`` below does again; the
    shape check has already limited the token to the base64url alphabet, and ``jwt.decode``
    re-parses and verifies the whole token, header included."""
    segment = raw.split(".", 1)[0]
    return json.loads(base64url_decode(segment))


def _key_for_header(raw: str, config: _Verification) -> SigningKey:
    """The key a token's header names, after the header checks (RFC 8725: the key by ``kid``
    from our map only, its one algorithm, no key-bearing header parameters)."""
    try:
        header = _unverified_header(raw)
    except (ValueError, TypeError, RecursionError) as exc:
        raise AccessTokenInvalid() from exc
    if not isinstance(header, dict) or header.get("typ") != TOKEN_TYPE or _FORBIDDEN_HEADERS.intersection(header):
        raise AccessTokenInvalid()
    kid = header.get("kid")
    key = config.keys.get(kid) if isinstance(kid, str) else None
    if key is None or header.get("alg") != key.algorithm:
        raise AccessTokenInvalid()
    return key


def _own_copy(c: AccessClaims) -> AccessClaims:
    """The same claims with a dict of their own (callers may change theirs; the memo's must not)."""
    return AccessClaims(sub=c.sub, sid=c.sid, jti=c.jti, iat=c.iat, exp=c.exp, claims=dict(c.claims))


def decode_access_token(raw: object, *, verify_exp: bool = True) -> AccessClaims:
    """Verify an access token and return its claims.

    Raises :class:`AccessTokenInvalid` for anything but a well-formed, correctly signed,
    unexpired access token of this issuer and audience. Runs no query and no I/O.
    """
    config = _verification()
    if not isinstance(raw, str) or len(raw) > config.max_length:
        raise AccessTokenInvalid()
    # The exact bytes of a token that verified under this configuration (same keys, issuer,
    # audience: a settings change makes a new one) verify again until they expire, which is
    # the one check that depends on the clock. PyJWT's decode costs about 65 us (it re-checks
    # every character of the token in Python), most of an authenticated request's overhead.
    # Each caller gets its own claims dict.
    known = config.verified_tokens.get(raw) if verify_exp else None
    if known is not None and known.exp > time.time() - config.leeway:  # PyJWT: exp <= now - leeway fails
        return _own_copy(known)
    if not _JWT_SHAPE.match(raw):
        raise AccessTokenInvalid()
    # The header checks depend on the header segment and the configuration alone. A segment that
    # passed them, in a token whose signature then verified, is remembered with its key for this
    # configuration, so the same bytes are not parsed and checked again; only headers we signed
    # get there. PyJWT below still parses and verifies the whole token, header included.
    header_segment = raw.partition(".")[0]
    key = config.verified_headers.get(header_segment)
    if key is None:
        key = _key_for_header(raw, config)
    try:
        payload = _DECODER.decode(
            raw,
            key.verifying_key,
            algorithms=[key.algorithm],
            audience=config.audience,
            issuer=config.issuer,
            leeway=config.leeway,
            options=_DECODE_OPTIONS[bool(verify_exp)],
        )
    except (jwt.PyJWTError, ValueError, TypeError) as exc:
        raise AccessTokenInvalid() from exc
    if header_segment not in config.verified_headers and len(config.verified_headers) < _VERIFIED_HEADERS_MAX:
        config.verified_headers[header_segment] = key
    sub, sid, jti = payload.get("sub"), payload.get("sid"), payload.get("jti")
    if (payload.get("token_use") != TOKEN_USE or not isinstance(sub, str) or not isinstance(sid, str)
            or not isinstance(jti, str)):
        raise AccessTokenInvalid()
    # PyJWT coerces with int(): "9999999999" would pass as an expiry. NumericDate is a JSON number.
    for claim in ("exp", "iat", "nbf"):
        if claim in payload and not _is_numeric_date(payload[claim]):
            raise AccessTokenInvalid()
    try:
        uuid.UUID(sid)
    except ValueError as exc:
        raise AccessTokenInvalid() from exc
    claims = AccessClaims(sub=sub, sid=sid, jti=jti, iat=payload["iat"], exp=payload["exp"], claims=payload)
    if verify_exp:
        if len(config.verified_tokens) >= _VERIFIED_TOKENS_MAX:
            config.verified_tokens.clear()
        config.verified_tokens[raw] = _own_copy(claims)
    return claims
