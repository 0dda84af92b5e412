"""The user-facing claims shared by access tokens and the ``me`` endpoint (node-auth's shape)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..conf import dualauth_settings
from ..models import AccountState, SMSDevice

if TYPE_CHECKING:
    from ..types import User

__all__ = ["RESERVED_CLAIMS", "account_fields", "account_state", "update_account_state", "user_claims", "profile"]

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
    """``email, role, loginProvider, isEmailVerified, isTotpEnabled`` plus custom claims.

    ``loginProvider`` is how the account was created, as node-auth's users carry it: ``"local"``
    (registration, the admin) or the name of the sign-in provider of its first sign-in."""
    state = account_state(user)
    claims: dict[str, Any] = {
        "email": getattr(user, user.get_email_field_name(), "") or "",
        "role": _role(user),
        "loginProvider": state.login_provider or "local",
        "isEmailVerified": bool(state.email_verified),
        "isTotpEnabled": bool(state.two_factor_enabled),
    }
    hook = dualauth_settings.CUSTOM_CLAIMS
    if hook is not None:
        extra = hook(user) or {}
        claims.update({k: v for k, v in extra.items() if k not in RESERVED_CLAIMS})
    return claims


def profile(user: User) -> dict[str, Any]:
    """The ``me`` document: ``sub``, the account fields node-auth's clients read
    (:func:`account_fields`) and :func:`user_claims` (custom claims win), rebuilt from the database."""
    return {"sub": str(user.pk), **account_fields(user), **user_claims(user)}


def account_fields(user: User) -> dict[str, Any]:
    """``id, firstName, lastName, name, phoneNumber, hasPassword, lastLogin, isAdmin``: what the
    Flutter package's ``AuthUser`` reads, each of its type (strings, booleans, an ISO time) or
    null. Not in access tokens: names and a phone number are personal data a token need not carry.
    ``phoneNumber`` is the verified phone, looked up (one query) only while SMS is on."""
    last_login = getattr(user, "last_login", None)
    full_name = getattr(user, "get_full_name", None)
    return {
        "id": str(user.pk),
        "firstName": getattr(user, "first_name", None),
        "lastName": getattr(user, "last_name", None),
        "name": full_name() if callable(full_name) else None,
        "phoneNumber": _verified_phone(user) if dualauth_settings.SMS_ENABLED else None,
        "hasPassword": bool(user.has_usable_password()),
        "lastLogin": last_login.isoformat() if last_login is not None else None,
        "isAdmin": bool(getattr(user, "is_superuser", False)),
    }


def _verified_phone(user: User) -> str | None:
    number: str | None = (SMSDevice.objects.filter(user_id=user.pk, confirmed=True)
                          .values_list("number", flat=True).first())
    return number
