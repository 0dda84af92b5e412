"""Which delivery serves a request: the one a token-issuing request asks for (bounded by
``DUALAUTH_DELIVERY_POLICY``), the one a session was created with, the one a credential came in.

Views get a :class:`~.base.TokenDelivery` from these functions and call it; they never compare
delivery names.
"""

from __future__ import annotations

from typing import Protocol

from django.http import HttpRequest

from ..conf import dualauth_settings
from ..exceptions import DeliveryNotAllowed
from ..types import Delivery
from .base import TokenDelivery, get_delivery
from .cookies import has_token_cookie
from .credentials import Credential

__all__ = ["COOKIE", "BEARER", "asks_for_bearer", "requested_delivery", "for_request",
           "for_session", "for_credential", "for_headers", "for_ended_session"]

COOKIE = Delivery.COOKIE
BEARER = Delivery.BEARER


def _meta_key(header: str) -> str:
    return "HTTP_" + header.upper().replace("-", "_")


def asks_for_bearer(request: HttpRequest) -> bool:
    """True when a configured header carries one of its accepted values exactly.

    Unknown values mean "not bearer" and are never echoed back.
    """
    meta = request.META
    return any(meta.get(_meta_key(name)) in values
               for name, values in dualauth_settings.BEARER_HEADERS.items())


def requested_delivery(request: HttpRequest) -> Delivery:
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


def for_request(request: HttpRequest) -> TokenDelivery:
    """The delivery a token-issuing request asks for; :class:`DeliveryNotAllowed` as
    :func:`requested_delivery`."""
    return get_delivery(requested_delivery(request))


class _HasDelivery(Protocol):
    @property
    def delivery(self) -> str: ...


def for_session(session: _HasDelivery) -> TokenDelivery:
    """The delivery ``session`` was created with (anything with a ``delivery`` name: a session,
    a pending login challenge, :class:`~django_dualauth.types.IssuedTokens`)."""
    return get_delivery(session.delivery)


def for_credential(credential: Credential) -> TokenDelivery:
    """The delivery whose channel ``credential`` was read from (never :data:`OTHER_SCHEME`)."""
    return get_delivery(credential.via)


def for_headers(request: HttpRequest) -> TokenDelivery:
    """The delivery the request's headers declare, whatever the policy allows: for requests
    that issue no token but must be guarded like a browser's unless they say they are not."""
    return get_delivery(BEARER if asks_for_bearer(request) else COOKIE)


def for_ended_session(request: HttpRequest) -> TokenDelivery:
    """The delivery that answers the end of the caller's session: the cookie one when the
    request carries token cookies (they must be cleared), else bearer."""
    return get_delivery(COOKIE if has_token_cookie(request) else BEARER)
