"""Input serializers (validation only; no business logic)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.contrib.auth import get_user_model
from django.core.exceptions import FieldDoesNotExist
from rest_framework import serializers

from ..conf import dualauth_settings

if TYPE_CHECKING:  # DRF's serializers are generic only in its stubs; these validate input, no instance
    _Input = serializers.Serializer[None]
else:
    _Input = serializers.Serializer

__all__ = ["StrictCharField", "StrictEmailField", "PasswordField", "NameField", "CredentialsInput", "NamesInput",
           "RegisterInput", "EmailInput", "ModeInput", "ModeEmailInput", "TempTokenInput"]

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


class NameField(StrictCharField):
    """A first or last name, stored in the user model's field ``model_field``, whose length limit
    ``services.profile_names`` applies after this field's own bound (:data:`NAME_CAP`)."""

    def __init__(self, model_field: str, **kwargs: Any) -> None:
        self.model_field = model_field
        super().__init__(**kwargs)

    def model_limit(self) -> int:
        """The longest name that is stored: the model field's ``max_length`` (the schema's maxLength)."""
        try:
            limit = getattr(get_user_model()._meta.get_field(self.model_field), "max_length", None)
        except FieldDoesNotExist:
            limit = None
        return min(limit or NAME_CAP, NAME_CAP)


class CredentialsInput(_Input):
    email = StrictEmailField(max_length=254)
    password = PasswordField()


class NamesInput(_Input):
    """``firstName`` and ``lastName``, each optional (``services.profile_names`` applies the user
    model's limits). ``allow_blank``: an empty string clears a name (Django's fields are blank=True)."""

    firstName = NameField("first_name", required=False, allow_blank=True, max_length=NAME_CAP)
    lastName = NameField("last_name", required=False, allow_blank=True, max_length=NAME_CAP)


class RegisterInput(CredentialsInput, NamesInput):
    """``register``: the credentials and, as node-auth's Flutter package sends them, the names."""


class EmailInput(_Input):
    email = StrictEmailField(max_length=254)


class ModeInput(_Input):
    """``mode``: "login" (the default) or "2fa" (a second step of a pending login), and the shape of
    ``tempToken`` in either mode: one body serves both modes, so a malformed field is refused even
    where the mode does not use it (as the schema, which describes that one body, says)."""

    mode = serializers.ChoiceField(choices=["login", "2fa"], required=False, default="login")
    tempToken = StrictCharField(max_length=256, required=False)


class ModeEmailInput(ModeInput):
    """:class:`ModeInput` of a body that names the account by ``email`` in mode "login"."""

    email = StrictEmailField(max_length=254, required=False)


class TempTokenInput(_Input):
    tempToken = StrictCharField(max_length=256)
