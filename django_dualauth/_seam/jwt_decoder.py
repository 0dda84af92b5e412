"""PyJWT with its per-segment base64url check done by C string methods, and each configured
HMAC key checked once instead of on every token.

:class:`Decoder` is a ``jwt.PyJWT``: ``encode`` and ``decode`` as PyJWT documents them. With
``DUALAUTH_PRIVATE_SPEEDUPS`` off both are plain ``jwt.PyJWT``'s (the reference path).
"""

from __future__ import annotations

import binascii
from functools import lru_cache
from typing import Any

import jwt
from jwt.algorithms import HMACAlgorithm

from ..conf import snapshot

__all__ = ["Decoder"]

_BASE64URL_ALPHABET = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
_URLSAFE_TO_STANDARD = bytes.maketrans(b"-_", b"+/")


class _JWS(jwt.PyJWS):
    """PyJWT's JWS layer, with its per-segment check done by C string methods.

    PyJWT (2.10+) checks every character of every segment against the base64url alphabet in a
    Python generator: about a third of the time of decoding our ~550-character tokens. This
    override makes the same checks (alphabet, length, canonical encoding), stricter on one point:
    no ``=`` padding, which ``access_tokens._JWT_SHAPE`` refuses anyway. The decoding and the canonical
    re-encoding call :mod:`binascii` directly (what ``base64url_decode``/``base64url_encode``
    reach through five Python frames each, for each of the three segments). It overrides a private
    PyJWT method: if a PyJWT release renames it, PyJWT's own check runs instead (slower, as strict).
    """

    @staticmethod
    def _decode_base64url_segment(segment: bytes, name: str) -> bytes:
        if segment.translate(None, _BASE64URL_ALPHABET) or len(segment) % 4 == 1:
            raise jwt.DecodeError(f"Invalid {name} padding")
        padded = segment.translate(_URLSAFE_TO_STANDARD) + b"=" * (-len(segment) % 4)
        try:
            decoded = binascii.a2b_base64(padded, strict_mode=True)
        except (TypeError, ValueError) as err:  # binascii.Error is a ValueError
            raise jwt.DecodeError(f"Invalid {name} padding") from err
        # Non-zero trailing bits decode too: only the canonical form re-encodes to the same text.
        if binascii.b2a_base64(decoded, newline=False) != padded:
            raise jwt.DecodeError(f"Invalid {name} padding")
        return decoded


@lru_cache(maxsize=32)
def _checked_hmac_secret(key: str | bytes) -> bytes:
    return HMACAlgorithm(HMACAlgorithm.SHA256).prepare_key(key)


class _ConfiguredKeyHMAC(HMACAlgorithm):
    """PyJWT's HMAC algorithm, with its key check run once per key instead of on every token.

    PyJWT checks an HMAC secret on every call (that it is not PEM, SSH, DER or JWK material: a
    DER parse among them), which costs more than the HMAC itself. The keys given to this decoder
    are our configured keys (``access_tokens.signing_keys``), never a token's data, so the checked secret
    is memoised per key. The check itself is PyJWT's and does not depend on the hash; a key that
    fails it raises on every call (exceptions are not cached). Signing and verification are
    PyJWT's, unchanged.
    """

    def prepare_key(self, key: str | bytes) -> bytes:
        return _checked_hmac_secret(key)


class _JWT(jwt.PyJWT):
    def __init__(self) -> None:
        super().__init__()
        self._jws = _JWS()
        for name, hash_alg in (("HS256", HMACAlgorithm.SHA256), ("HS384", HMACAlgorithm.SHA384),
                               ("HS512", HMACAlgorithm.SHA512)):
            self._jws.unregister_algorithm(name)
            self._jws.register_algorithm(name, _ConfiguredKeyHMAC(hash_alg))




class Decoder(_JWT):
    """``jwt.PyJWT`` with the speed-ups above while ``DUALAUTH_PRIVATE_SPEEDUPS`` is on."""

    def __init__(self) -> None:
        super().__init__()
        self._reference = jwt.PyJWT()

    def encode(self, *args: Any, **kwargs: Any) -> str:
        if not snapshot().private_speedups:
            return self._reference.encode(*args, **kwargs)
        return super().encode(*args, **kwargs)

    def decode(self, *args: Any, **kwargs: Any) -> Any:
        if not snapshot().private_speedups:
            return self._reference.decode(*args, **kwargs)
        return super().decode(*args, **kwargs)
