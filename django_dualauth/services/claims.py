"""The user-facing claims shared by access tokens and the ``me`` endpoint (node-auth's shape)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..conf import dualauth_settings
from ..models import AccountState

if TYPE_CHECKING:
    from ..types import User

__all__ = ["RESERVED_CLAIMS", "account_state", "update_account_state", "user_claims", "profile"]

#: Claims the custom-claims hook may not override: they carry the token's security meaning.
RESERVED_CLAIMS = frozenset(
    {"iss", "aud", "sub", "sid", "jti", "iat", "exp", "nbf", "token_use", "typ"}
)


def account_state(user: User) -> AccountState:
    """The user's :class:`AccountState`, or an unsaved default when none exists."""
    try:
        return user.dualauth_state
    except AccountState.DoesNotExist:
        return AccountState(user_id=user.pk)


def update_account_state(user: User, **flags: bool) -> AccountState:
    """Set flags on the user's :class:`AccountState` (creating it) and refresh the cached relation."""
    state, _ = AccountState.objects.update_or_create(user_id=user.pk, defaults=flags)
    user.dualauth_state = state
    return state


def _role(user: User) -> str:
    if getattr(user, "is_superuser", False):
        return "admin"
    if getattr(user, "is_staff", False):
        return "staff"
    return "user"


def user_claims(user: User) -> dict[str, Any]:
    """``email, role, loginProvider, isEmailVerified, isTotpEnabled`` plus custom claims."""
    state = account_state(user)
    claims: dict[str, Any] = {
        "email": getattr(user, user.get_email_field_name(), "") or "",
        "role": _role(user),
        "loginProvider": "local",
        "isEmailVerified": bool(state.email_verified),
        "isTotpEnabled": bool(state.two_factor_enabled),
    }
    hook = dualauth_settings.CUSTOM_CLAIMS
    if hook is not None:
        extra = hook(user) or {}
        claims.update({k: v for k, v in extra.items() if k not in RESERVED_CLAIMS})
    return claims


def profile(user: User) -> dict[str, Any]:
    """The ``me`` document: ``sub`` plus :func:`user_claims`, rebuilt from the database."""
    return {"sub": str(user.pk), **user_claims(user)}
