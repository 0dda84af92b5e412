"""The access-token format: a short-lived JWT (RFC 9068 ``typ: at+jwt``) bound to a session.

One algorithm per key (RFC 8725 §3.1): the key is chosen by ``kid`` from the configured
map only, and the token's ``alg`` must equal that key's algorithm. Header parameters that
would let a token name its own key (``jwk``, ``jku``, ``x5u``, ``x5c``) are refused.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from datetime import datetime
from typing import TYPE_CHECKING, Any

import jwt
from django.utils import timezone
from jwt.utils import base64url_decode

from .._seam.jwt_decoder import Decoder
from ..conf import TokenVerification, snapshot
from ..exceptions import AccessTokenInvalid
from ..jwt_keys import SigningKey
from ..types import AccessClaims
from .claims import user_claims

if TYPE_CHECKING:
    from ..types import User

__all__ = ["TOKEN_TYPE", "encode_access_token", "decode_access_token", "signing_keys", "SigningKey"]

TOKEN_TYPE = "at+jwt"
TOKEN_USE = "access"
_REQUIRED = ["exp", "iat", "jti", "sub", "sid", "iss", "aud"]
_FORBIDDEN_HEADERS = frozenset({"jwk", "jku", "x5u", "x5c", "x5t", "x5t#S256", "crit"})
_JWT_SHAPE = re.compile(r"\A[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*\Z")
# PyJWT with our configured-key HMAC and a faster segment check (the private seam); with
# DUALAUTH_PRIVATE_SPEEDUPS off it decodes as plain ``jwt.PyJWT`` does.
_DECODER = Decoder()


def signing_keys() -> tuple[SigningKey, ...]:
    """All keys, signing key first (``conf.Snapshot.signing_keys``)."""
    return snapshot().signing_keys


def encode_access_token(session: Any, user: User, *, now: datetime | None = None) -> tuple[str, datetime]:
    """Sign an access token for ``session``; returns ``(token, expires_at)``.

    The expiry never passes the session's absolute expiry.
    """
    now = now or timezone.now()
    issuance = snapshot().token_issuance
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


#: Header segments remembered per configuration: one per key in practice (encode writes the same
#: header for every token of a key); the bound only caps memory.
_VERIFIED_HEADERS_MAX = 16
#: Tokens remembered per configuration: a client presents the same access token on every request
#: until it is refreshed; past the bound the memo starts again from empty.
_VERIFIED_TOKENS_MAX = 4096


# PyJWT's options for decode, built once (PyJWT copies them before merging with its defaults).
_DECODE_OPTIONS = {verify_exp: {"require": _REQUIRED, "verify_exp": verify_exp, "strict_aud": True}
                   for verify_exp in (True, False)}


_DATE_CLAIMS = ("exp", "iat", "nbf")


def _is_numeric_date(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _unverified_header(raw: str) -> Any:
    """The JOSE header segment only, to choose the key. ``jwt.get_unverified_header`` would load
    (and check character by character) every segment, which ``jwt.decode`` below does again; the
    shape check has already limited the token to the base64url alphabet, and ``jwt.decode``
    re-parses and verifies the whole token, header included."""
    segment = raw.split(".", 1)[0]
    return json.loads(base64url_decode(segment))


def _key_for_header(raw: str, config: TokenVerification) -> SigningKey:
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
    config = snapshot().token_verification
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
    claims = _access_claims(_verified_payload(raw, config, verify_exp))
    if verify_exp:
        if len(config.verified_tokens) >= _VERIFIED_TOKENS_MAX:
            config.verified_tokens.clear()
        config.verified_tokens[raw] = _own_copy(claims)
    return claims


def _verified_payload(raw: str, config: TokenVerification, verify_exp: bool) -> dict[str, Any]:
    """The payload of ``raw`` once its shape, header, signature, issuer, audience and (with
    ``verify_exp``) expiry are checked, by PyJWT with the key its header names."""
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
        payload: dict[str, Any] = _DECODER.decode(
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
    return payload


def _access_claims(payload: dict[str, Any]) -> AccessClaims:
    """The claims of a verified payload, once they are what this package signs: an access token
    (``token_use``), string ``sub``/``jti``, a UUID ``sid``, JSON numbers as dates."""
    sub, sid, jti = payload.get("sub"), payload.get("sid"), payload.get("jti")
    if (payload.get("token_use") != TOKEN_USE or not isinstance(sub, str) or not isinstance(sid, str)
            or not isinstance(jti, str)):
        raise AccessTokenInvalid()
    # PyJWT coerces with int(): "9999999999" would pass as an expiry. NumericDate is a JSON number.
    if not all(_is_numeric_date(payload[claim]) for claim in _DATE_CLAIMS if claim in payload):
        raise AccessTokenInvalid()
    try:
        uuid.UUID(sid)
    except ValueError as exc:
        raise AccessTokenInvalid() from exc
    return AccessClaims(sub=sub, sid=sid, jti=jti, iat=payload["iat"], exp=payload["exp"], claims=payload)
