"""The delivery layer: the only code that reads or writes cookies and the Authorization header.

Views and the authentication class get a :class:`TokenDelivery` from :func:`for_request`,
:func:`for_session`, :func:`for_credential`, :func:`for_headers` or :func:`for_ended_session`
and call it; nothing else in the package touches ``request.COOKIES``, ``set_cookie`` or
``HTTP_AUTHORIZATION``, and no view compares delivery names.
"""

from __future__ import annotations

from .base import BearerDelivery, CookieDelivery, TokenDelivery, get_delivery, no_store
from .client import client_info, client_ip
from .cookies import (
    access_cookie_name,
    clear_flow_cookie,
    has_token_cookie,
    read_cookie,
    read_flow_cookie,
    refresh_cookie_name,
    set_flow_cookie,
)
from .credentials import (
    OTHER_SCHEME,
    Credential,
    existing_refresh_cookie,
    logout_credential,
    read_access_credential,
    read_header_credential,
    read_logout_credentials,
    read_refresh_credential,
)
from .csrf import SAFE_METHODS, csrf_header_name, protect_cookie_request, request_origin
from .csrf_cookie import plant_csrf_cookie
from .selection import (
    BEARER,
    COOKIE,
    asks_for_bearer,
    for_credential,
    for_ended_session,
    for_headers,
    for_request,
    for_session,
    requested_delivery,
)

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
    "clear_flow_cookie",
    "client_ip",
    "csrf_header_name",
    "existing_refresh_cookie",
    "for_credential",
    "for_ended_session",
    "for_headers",
    "for_request",
    "for_session",
    "get_delivery",
    "has_token_cookie",
    "read_flow_cookie",
    "logout_credential",
    "no_store",
    "plant_csrf_cookie",
    "protect_cookie_request",
    "read_access_credential",
    "read_cookie",
    "read_header_credential",
    "read_logout_credentials",
    "read_refresh_credential",
    "refresh_cookie_name",
    "request_origin",
    "requested_delivery",
    "set_flow_cookie",
]
