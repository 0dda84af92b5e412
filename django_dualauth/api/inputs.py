"""Input serializers (validation only; no business logic)."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from ..conf import dualauth_settings

__all__ = ["StrictCharField", "StrictEmailField", "PasswordField", "CredentialsInput", "EmailInput", "ModeInput",
           "TempTokenInput"]


class StrictCharField(serializers.CharField):
    """A ``CharField`` that refuses numbers and booleans instead of coercing them."""

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)  # type: ignore[no-any-return]


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
        return super().to_internal_value(data)  # type: ignore[no-any-return]


class CredentialsInput(serializers.Serializer):
    email = StrictEmailField(max_length=254)
    password = PasswordField()


class EmailInput(serializers.Serializer):
    email = StrictEmailField(max_length=254)


class ModeInput(serializers.Serializer):
    """``mode``: "login" (the default) or "2fa" (a second step of a pending login)."""

    mode = serializers.ChoiceField(choices=["login", "2fa"], required=False, default="login")


class TempTokenInput(serializers.Serializer):
    tempToken = StrictCharField(max_length=256)
