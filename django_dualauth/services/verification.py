"""Per-request verification of an access token against its session.

``REVOCATION_CHECK = "database"`` (default): one query fetches the session, the user and
the account state together; a revoked session or an inactive user is refused at once.
``"cache"``: a revocation marker look-up in the shared cache and no query at all; the user
is a :class:`TokenUser` built from the claims that loads the real user only when an
attribute the claims do not carry is read. If the cache cannot answer, the database check runs.
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING, Any

from .._seam.compiled import CompiledSelect, plain_default_manager
from ..conf import dualauth_settings, snapshot
from ..exceptions import AccessTokenInvalid, SessionRevoked
from ..models import AuthSession
from ..types import AccessClaims
from . import revocation
from .access_tokens import decode_access_token

if TYPE_CHECKING:
    from django.db.models import QuerySet

    from ..types import User

__all__ = ["authenticate_access_token", "TokenUser"]


class TokenUser:
    """A user resolved from verified claims, without a query.

    ``pk``, ``id``, ``email``, ``is_authenticated``, ``is_active`` and ``claims`` come from
    the token. Reading any other attribute loads the user from the database once.
    """

    is_authenticated = True
    is_anonymous = False
    is_active = True

    def __init__(self, claims: AccessClaims) -> None:
        self.pk = self.id = snapshot().user_pk_to_python(claims.sub)
        self.email = claims.claims.get("email", "")
        self.claims = claims.claims

    def resolve(self) -> User:
        """The real user (one query, with its account state), loaded once."""
        user = self.__dict__.get("_user")
        if user is None:
            user = self.__dict__["_user"] = _load_user(snapshot().user_model, self.pk)
        return user

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") or name == "_user":
            raise AttributeError(name)
        return getattr(self.resolve(), name)

    def __str__(self) -> str:
        return str(self.email or self.pk)


def _user_with_state(model: type[User], pk: Any) -> QuerySet[User]:
    return model._default_manager.select_related("dualauth_state").filter(pk=pk).order_by()[:1]


@cache
def _compiled_user(model: type[User]) -> CompiledSelect[User] | None:
    """The user look-up compiled once per database (building and compiling it cost more than the
    rest of a request), unless the default manager builds its queryset itself.

    Memoised by the model, not by the settings: a changed ``AUTH_USER_MODEL`` is another key."""
    if not plain_default_manager(model):
        return None
    return CompiledSelect(model, "pk", lambda pk: _user_with_state(model, pk))


def _load_user(model: type[User], pk: Any) -> User:
    """``model``'s user ``pk`` with its account state: what ``get(pk=pk)`` returns or raises
    (``model.DoesNotExist`` for a deleted user; an inactive one is returned, as by ``get``)."""
    compiled = _compiled_user(model) if snapshot().private_speedups else None
    if compiled is None:  # the reference path
        return model._default_manager.select_related("dualauth_state").get(pk=pk)
    user = compiled.first(pk)
    if user is None:
        raise model.DoesNotExist(f"{model._meta.object_name} matching query does not exist.")
    return user


# Only the session's user and revocation are read here; the other columns are not selected.
_UNUSED_SESSION_FIELDS = ("delivery", "auth_methods", "refresh_digest", "generation", "created_at",
                          "last_used_at", "rotated_at", "expires_at", "absolute_expires_at",
                          "ip_address", "user_agent", "revoked_reason")


def _session_with_user(sid: str) -> QuerySet[AuthSession]:
    return (AuthSession.objects.select_related("user", "user__dualauth_state")
            .defer(*_UNUSED_SESSION_FIELDS).filter(pk=sid).order_by()[:1])


# The one query of every authenticated request: compiled by the ORM once, not per request.
_SESSION_WITH_USER = CompiledSelect(AuthSession, "pk", _session_with_user)


def authenticate_access_token(raw: object) -> tuple[User | TokenUser, AccessClaims]:
    """Verify ``raw`` and its session. Returns ``(user, claims)``.

    Raises :class:`AccessTokenInvalid` (bad token, unknown session, inactive or deleted
    user) or :class:`SessionRevoked` (logout, logout-all, admin, reuse detection).
    """
    claims = decode_access_token(raw)
    if dualauth_settings.REVOCATION_CHECK == "cache":
        revoked = revocation.is_revoked(claims.sid)
        if revoked is True:
            raise SessionRevoked()
        if revoked is False:
            return TokenUser(claims), claims
    found = _SESSION_WITH_USER.first(claims.sid)
    if found is None or str(found.user_id) != claims.sub:
        raise AccessTokenInvalid()
    if found.revoked_at is not None:
        raise SessionRevoked()
    if not found.user.is_active:
        raise AccessTokenInvalid()
    return found.user, claims
