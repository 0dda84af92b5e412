"""Secrets, keyed digests and the encryption of provider tokens at rest. Only standard primitives
(``secrets``, Django's ``salted_hmac``, ``cryptography``'s Fernet and HKDF).

Refresh tokens and other random 256-bit secrets are stored as HMAC-SHA256 digests:
they carry enough entropy that a slow password hash would add cost and no safety, and a
keyed fast digest stays indexable (Knox and django-oauth-toolkit do the same).
"""

from __future__ import annotations

import base64
import re
import secrets
from typing import TypeGuard

from cryptography.fernet import InvalidToken, MultiFernet
from django.utils.crypto import constant_time_compare, salted_hmac

from .conf import dualauth_settings, snapshot

__all__ = ["new_secret", "digest", "digests", "derive_secret", "looks_like_secret", "seal_token", "open_token"]

_SECRET_RE = re.compile(r"\A[A-Za-z0-9_-]{32,128}\Z")


def new_secret() -> str:
    """A fresh 256-bit URL-safe secret (43 characters)."""
    return secrets.token_urlsafe(32)


def looks_like_secret(raw: object) -> TypeGuard[str]:
    """Cheap shape check run before any digest or query: true only for a ``str`` of 32 to 128
    URL-safe base64 characters, so a caller's ``raw`` is a ``str`` past it (a type guard)."""
    return isinstance(raw, str) and bool(_SECRET_RE.match(raw))


def _salt(purpose: str) -> str:
    return f"django_dualauth.{purpose}"


def digest(raw: str, purpose: str, *, secret: str | None = None) -> str:
    """Hex HMAC-SHA256 of ``raw`` under a key derived from ``SECRET_KEY`` and ``purpose``."""
    key = secret if secret is not None else dualauth_settings.SECRET_KEYS[0]
    return salted_hmac(_salt(purpose), raw, secret=key, algorithm="sha256").hexdigest()


def digests(raw: str, purpose: str) -> list[str]:
    """Digests under ``SECRET_KEY`` and each of ``SECRET_KEY_FALLBACKS`` (for look-ups)."""
    return [digest(raw, purpose, secret=key) for key in dualauth_settings.SECRET_KEYS]


def derive_secret(parent: str, purpose: str) -> str:
    """A secret derived from ``parent``: unpredictable without ``SECRET_KEY``, stable for a parent.

    Used for refresh-token successors so that a retry of the immediate parent inside the
    grace window can be answered with the same successor without storing it.
    """
    mac = salted_hmac(_salt(purpose), parent, secret=dualauth_settings.SECRET_KEYS[0],
                      algorithm="sha256").digest()
    return base64.urlsafe_b64encode(mac).rstrip(b"=").decode("ascii")


def equal(a: str, b: str) -> bool:
    """Constant-time comparison of two digests."""
    return constant_time_compare(a, b)


# --- provider tokens kept at rest (Apple's refresh token) ------------------------------------------

def seal_token(raw: str) -> str:
    """``raw`` encrypted for storage (``DUALAUTH_SOCIAL_TOKEN_KEYS``' first key), as text."""
    cipher: MultiFernet = snapshot().social_token_cipher
    return cipher.encrypt(raw.encode()).decode("ascii")


def reseal_token(sealed: str) -> str | None:
    """``sealed`` encrypted again under the first configured key (MultiFernet's ``rotate``), so an
    older key can leave the list; None when no configured key opens it."""
    cipher: MultiFernet = snapshot().social_token_cipher
    try:
        return cipher.rotate(sealed.encode("ascii")).decode("ascii")
    except (InvalidToken, UnicodeError):
        return None


def open_token(sealed: str) -> str | None:
    """The raw value of :func:`seal_token`'s output, under any configured key; None when no key
    opens it (a key dropped from the list) or it was tampered with."""
    cipher: MultiFernet = snapshot().social_token_cipher
    try:
        return cipher.decrypt(sealed.encode("ascii")).decode()
    except (InvalidToken, UnicodeError):
        return None
