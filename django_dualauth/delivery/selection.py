"""Which delivery a request asks for, bounded by ``DUALAUTH_DELIVERY_POLICY``."""

from __future__ import annotations

from typing import Any

from ..conf import dualauth_settings
from ..exceptions import DeliveryNotAllowed

__all__ = ["COOKIE", "BEARER", "asks_for_bearer", "requested_delivery"]

COOKIE = "cookie"
BEARER = "bearer"


def _meta_key(header: str) -> str:
    return "HTTP_" + header.upper().replace("-", "_")


def asks_for_bearer(request: Any) -> bool:
    """True when a configured header carries one of its accepted values exactly.

    Unknown values mean "not bearer" and are never echoed back.
    """
    meta = request.META
    return any(meta.get(_meta_key(name)) in values
               for name, values in dualauth_settings.BEARER_HEADERS.items())


def requested_delivery(request: Any) -> str:
    """``"bearer"`` or ``"cookie"`` for a token-issuing request.

    Raises :class:`DeliveryNotAllowed` when the client asks for bearer under a cookie-only policy.
    """
    policy = dualauth_settings.DELIVERY_POLICY
    if policy == BEARER:
        return BEARER
    wants_bearer = asks_for_bearer(request)
    if policy == COOKIE:
        if wants_bearer:
            raise DeliveryNotAllowed("Bearer delivery is disabled on this server")
        return COOKIE
    return BEARER if wants_bearer else COOKIE
