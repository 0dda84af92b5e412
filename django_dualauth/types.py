"""Plain value types passed between the layers."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    # The project's AUTH_USER_MODEL: django-stubs' plugin resolves this alias of its stubs to the
    # configured model (typeddjango/django-stubs#2335); other checkers see AbstractBaseUser. It
    # exists for the type checker only, so nothing of Django's is imported at run time.
    from django.contrib.auth.models import _User as User

__all__ = ["ClientInfo", "Delivery", "IssuedTokens", "AccessClaims", "User", "UserRef"]


class UserRef(Protocol):
    """What a service that works by primary key needs of a user: a model instance, or in cache
    mode the ``TokenUser`` a view holds without a query (``request.user``)."""

    @property
    def pk(self) -> Any: ...


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
