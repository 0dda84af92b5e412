"""Who is calling: the client IP (trusted-proxy aware) and the User-Agent."""

from __future__ import annotations

import functools
import ipaddress

from django.http import HttpRequest

from ..conf import dualauth_settings
from ..types import ClientInfo

__all__ = ["client_ip", "client_info"]


@functools.lru_cache(maxsize=1024)
def _valid_ip(value: str) -> str | None:
    # Memoised: the same few addresses (a proxy's, a NAT's) come back on request after request.
    try:
        return str(ipaddress.ip_address(value.strip()))
    except ValueError:
        return None


def client_ip(request: HttpRequest) -> str | None:
    """``REMOTE_ADDR``, or with ``DUALAUTH_TRUSTED_PROXY_DEPTH = N`` the address the N-th
    trusted proxy saw, counted from the right of ``X-Forwarded-For``. Spoofed entries to
    the left of the trusted hops are never used."""
    depth = dualauth_settings.TRUSTED_PROXY_DEPTH
    if depth > 0:
        hops = [h for h in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if h.strip()]
        if len(hops) >= depth:
            found = _valid_ip(hops[-depth])
            if found:
                return found
    return _valid_ip(request.META.get("REMOTE_ADDR", ""))


def client_info(request: HttpRequest) -> ClientInfo:
    agent = request.META.get("HTTP_USER_AGENT", "")
    if not agent.isprintable():  # rare: most agents are printable, checked at C speed
        agent = "".join(ch for ch in agent if ch.isprintable())
    agent = agent[:512]
    return ClientInfo(ip_address=client_ip(request), user_agent=agent)
