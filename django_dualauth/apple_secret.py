"""Apple's client authentication: a *client secret* that is a JWT signed ES256 by the team's key.

Apple documents its claims (`Creating a client secret`_): header ``alg: ES256`` and ``kid`` (the
key id); ``iss`` the team id, ``iat``, ``exp`` (at most six months later), ``aud``
``https://appleid.apple.com`` and ``sub`` the client id (the app's bundle id or the Services
ID) the code was issued to. Signed with PyJWT and ``cryptography``; no hand-made crypto.

A secret is made for :data:`LIFETIME` and kept per client id by the provider's one
:class:`AppleClientSecret` (``conf.Snapshot.social_providers``: one per process), renewed once
less than :data:`RENEW_BEFORE` is left. A short lifetime bounds what a leaked secret is worth.

.. _Creating a client secret: https://developer.apple.com/documentation/accountorganizationaldatasharing/creating-a-client-secret
"""

from __future__ import annotations

import threading
import time
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

__all__ = ["APPLE_AUDIENCE", "AppleClientSecret", "load_apple_key"]

APPLE_AUDIENCE = "https://appleid.apple.com"
LIFETIME = 3600
RENEW_BEFORE = 300


def load_apple_key(pem: str) -> ec.EllipticCurvePrivateKey:
    """The team's private key (the ``.p8`` file Apple hands out: a PKCS#8 PEM of a P-256 key);
    raises :class:`ValueError` for anything else (system check E019)."""
    try:
        key = serialization.load_pem_private_key(pem.encode(), password=None)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"not a PEM private key without a password ({type(exc).__name__})") from None
    if not isinstance(key, ec.EllipticCurvePrivateKey) or not isinstance(key.curve, ec.SECP256R1):
        raise ValueError("not a P-256 (ES256) key")
    return key


class AppleClientSecret:
    """The client secrets of one Apple provider, by client id, each reused until near its end.
    Thread-safe. The key is parsed on first use."""

    def __init__(self, *, team_id: str, key_id: str, private_key: str) -> None:
        self.team_id, self.key_id, self._pem = team_id, key_id, private_key
        self._key: Any = None
        self._cache: dict[str, tuple[str, float]] = {}
        self._lock = threading.Lock()

    def for_client(self, client_id: str) -> str:
        """A valid client secret JWT whose ``sub`` is ``client_id``."""
        now = time.time()
        with self._lock:
            cached = self._cache.get(client_id)
            if cached is not None and cached[1] - now > RENEW_BEFORE:
                return cached[0]
            if self._key is None:
                self._key = load_apple_key(self._pem)
            issued = int(now)
            secret = jwt.encode({"iss": self.team_id, "iat": issued, "exp": issued + LIFETIME, "aud": APPLE_AUDIENCE,
                                 "sub": client_id}, self._key, algorithm="ES256", headers={"kid": self.key_id})
            self._cache[client_id] = (secret, issued + LIFETIME)
            return secret
