"""Input serializers (validation only; no business logic)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rest_framework import serializers

from ..conf import dualauth_settings

if TYPE_CHECKING:  # DRF's serializers are generic only in its stubs; these validate input, no instance
    _Input = serializers.Serializer[None]
else:
    _Input = serializers.Serializer

__all__ = ["StrictCharField", "StrictEmailField", "PasswordField", "CredentialsInput", "NamesInput", "RegisterInput",
           "EmailInput", "ModeInput", "TempTokenInput"]

#: A bound on a name before the user model's own limits are looked at: no field of a user model
#: is this long.
NAME_CAP = 1024


class StrictCharField(serializers.CharField):
    """A ``CharField`` that refuses numbers and booleans instead of coercing them."""

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class PasswordField(StrictCharField):
    """Verified exactly as received: no trimming, a length cap checked before any hashing."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("trim_whitespace", False)
        kwargs.setdefault("max_length", dualauth_settings.PASSWORD_MAX_LENGTH)
        super().__init__(**kwargs)


class StrictEmailField(serializers.EmailField):
    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class CredentialsInput(_Input):
    email = StrictEmailField(max_length=254)
    password = PasswordField()


class NamesInput(_Input):
    """``firstName`` and ``lastName``, each optional (``services.profile_names`` applies the user
    model's limits). ``allow_blank``: an empty string clears a name (Django's fields are blank=True)."""

    firstName = StrictCharField(required=False, allow_blank=True, max_length=NAME_CAP)
    lastName = StrictCharField(required=False, allow_blank=True, max_length=NAME_CAP)


class RegisterInput(CredentialsInput, NamesInput):
    """``register``: the credentials and, as node-auth's Flutter package sends them, the names."""


class EmailInput(_Input):
    email = StrictEmailField(max_length=254)


class ModeInput(_Input):
    """``mode``: "login" (the default) or "2fa" (a second step of a pending login)."""

    mode = serializers.ChoiceField(choices=["login", "2fa"], required=False, default="login")


class TempTokenInput(_Input):
    tempToken = StrictCharField(max_length=256)
