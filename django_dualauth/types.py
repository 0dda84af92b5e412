"""Plain value types passed between the layers."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

__all__ = ["ClientInfo", "Delivery", "IssuedTokens", "AccessClaims"]


class Delivery(StrEnum):
    """How a session's tokens travel: the one definition of the delivery names.

    The values are what ``AuthSession.delivery`` stores and what the services accept; being
    ``str``, a member equals its stored value.
    """

    COOKIE = "cookie"
    BEARER = "bearer"


@dataclass(frozen=True)
class ClientInfo:
    """Who is calling: recorded on the session, never used to authenticate."""

    ip_address: str | None = None
    user_agent: str = ""


@dataclass(frozen=True)
class IssuedTokens:
    """The result of a login or a rotation. ``refresh_token`` is the only copy of the secret."""

    access_token: str
    access_expires_at: datetime
    refresh_token: str
    refresh_expires_at: datetime
    session_id: str
    delivery: str
    user: Any = field(repr=False, compare=False, default=None)

    def __repr__(self) -> str:  # never print secrets
        return f"IssuedTokens(session_id={self.session_id!r}, delivery={self.delivery!r})"


@dataclass(frozen=True)
class AccessClaims:
    """Verified claims of an access token."""

    sub: str
    sid: str
    jti: str
    iat: int
    exp: int
    claims: dict[str, Any]
