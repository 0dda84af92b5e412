"""The cipher of provider tokens kept at rest (Apple's refresh token). Pure: no settings.

``conf.Snapshot.social_token_cipher`` builds it once per process from ``DUALAUTH_SOCIAL_TOKEN_KEYS``
(or ``SECRET_KEY`` and its fallbacks); ``crypto.seal_token`` / ``crypto.open_token`` use it.
"""

from __future__ import annotations

import base64

from cryptography.fernet import Fernet, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

__all__ = ["token_cipher"]

_TOKEN_KEY_INFO = b"django_dualauth.social_token"


def token_cipher(secrets: list[str]) -> MultiFernet:
    """A ``MultiFernet`` (AES-128-CBC + HMAC-SHA256, authenticated) over one key per secret, each
    stretched from the secret by HKDF-SHA256 with a purpose label, so ``SECRET_KEY`` itself is
    never the cipher key. The first encrypts, all decrypt."""
    return MultiFernet([Fernet(base64.urlsafe_b64encode(HKDF(algorithm=hashes.SHA256(), length=32, salt=None,
                                                             info=_TOKEN_KEY_INFO).derive(secret.encode())))
                        for secret in secrets])
