"""The delivery layer: the only code that reads or writes cookies and the Authorization header.

Views and the authentication class call these functions; nothing else in the package
touches ``request.COOKIES``, ``set_cookie`` or ``HTTP_AUTHORIZATION``.
"""

from __future__ import annotations

from .base import BearerDelivery, CookieDelivery, TokenDelivery, get_delivery, no_store
from .client import client_info, client_ip
from .cookies import access_cookie_name, has_token_cookie, read_cookie, refresh_cookie_name
from .credentials import (
    OTHER_SCHEME,
    Credential,
    existing_refresh_cookie,
    read_access_credential,
    read_logout_credentials,
    read_refresh_credential,
)
from .csrf import SAFE_METHODS, protect_cookie_request
from .selection import BEARER, COOKIE, asks_for_bearer, requested_delivery

__all__ = [
    "BEARER",
    "COOKIE",
    "OTHER_SCHEME",
    "SAFE_METHODS",
    "BearerDelivery",
    "CookieDelivery",
    "Credential",
    "TokenDelivery",
    "access_cookie_name",
    "asks_for_bearer",
    "client_info",
    "client_ip",
    "existing_refresh_cookie",
    "get_delivery",
    "has_token_cookie",
    "no_store",
    "protect_cookie_request",
    "read_access_credential",
    "read_cookie",
    "read_logout_credentials",
    "read_refresh_credential",
    "refresh_cookie_name",
    "requested_delivery",
]
