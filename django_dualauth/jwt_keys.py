"""The access-token keys: ``DUALAUTH_JWT_KEYS`` (or keys derived from ``SECRET_KEY``) prepared for PyJWT.

Pure functions of the configuration, memoised by it, so a key is prepared (an RSA or EC key
parsed) once however often the settings snapshot is rebuilt. ``conf.Snapshot.signing_keys`` is
the one caller that reads the settings.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ec import EllipticCurvePrivateKey
from cryptography.hazmat.primitives.asymmetric.ed448 import Ed448PrivateKey
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey
from django.utils.crypto import salted_hmac
from jwt.algorithms import get_default_algorithms

__all__ = ["SigningKey", "HMAC_ALGORITHMS", "PRIVATE_JWK_MEMBERS", "prepare_keys", "public_jwks"]

HMAC_ALGORITHMS = frozenset({"HS256", "HS384", "HS512"})

#: JWK members that carry private material (RFC 7518 §6.2.2, §6.3.2, §6.4; RFC 8037 §2):
#: never published. ``k`` is an HMAC secret, ``oth`` RSA's other primes.
PRIVATE_JWK_MEMBERS = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth", "k"})


_PRIVATE_KEY_TYPES = (RSAPrivateKey, EllipticCurvePrivateKey, Ed25519PrivateKey, Ed448PrivateKey)


@dataclass(frozen=True)
class SigningKey:
    kid: str
    algorithm: str
    # PyJWT's prepared key objects: bytes for HMAC, a ``cryptography`` key object otherwise.
    signing_key: Any  # None for verify-only keys
    verifying_key: Any


def prepare_keys(config: Sequence[Mapping[str, object]], secrets: Iterable[str]) -> tuple[SigningKey, ...]:
    """All keys, signing key first: ``config`` (``DUALAUTH_JWT_KEYS``) or, when it is empty,
    HS256 keys derived from ``secrets`` (``SECRET_KEY``, then its fallbacks, which only verify)."""
    if not config:
        return _derived_keys(tuple(secrets))
    frozen = tuple(tuple(sorted((k, str(v)) for k, v in e.items())) for e in config)
    return _configured_keys(frozen)


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
            if public:
                verifying = impl.prepare_key(public)
            elif signing is not None:
                verifying = signing.public_key()
            else:  # system check E004 refuses such a key first
                raise ValueError(f"DUALAUTH_JWT_KEYS: key {entry['kid']!r} has neither private nor public key")
            keys.append(SigningKey(entry["kid"], alg, signing, verifying))
    return tuple(keys)


def public_jwks(keys: Iterable[SigningKey]) -> list[dict[str, Any]]:
    """The public JWKs (RFC 7517) of the asymmetric ``keys``, in their order, one per ``kid`` (the
    first of a kid, as verification picks it): ``kid``, ``alg``, ``use: "sig"`` and the public
    members PyJWT's ``to_jwk`` gives. HMAC keys are left out: their secret verifies *and* signs.

    The public half is taken of whatever key object was prepared, so a private PEM given as a
    ``public_key`` is published as its public half only; a private member that slipped through
    anyway raises rather than being served.
    """
    algorithms = get_default_algorithms()
    published: dict[str, dict[str, Any]] = {}
    for key in keys:
        if key.algorithm in HMAC_ALGORITHMS or key.kid in published:
            continue
        public = key.verifying_key
        if isinstance(public, _PRIVATE_KEY_TYPES):
            public = public.public_key()
        jwk = dict(algorithms[key.algorithm].to_jwk(public, as_dict=True))
        # key_ops would say the same as use; RFC 7517 §4.3: they SHOULD NOT be used together.
        jwk.pop("key_ops", None)
        leaked = PRIVATE_JWK_MEMBERS & set(jwk)
        if leaked:
            raise ValueError(f"JWK {key.kid!r} would publish private members {sorted(leaked)}")
        published[key.kid] = {"kid": key.kid, "alg": key.algorithm, "use": "sig", **jwk}
    return list(published.values())
