"""The ``{error, code}`` body of the schema and the enum of its stable codes, both taken from the
code that answers them: the domain errors of :mod:`django_dualauth.exceptions` and the mapping of
:mod:`django_dualauth.api.errors`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rest_framework import exceptions as drf
from rest_framework import serializers

from ..api.errors import DRF_CODES, FALLBACK, VALIDATION
from ..exceptions import DualAuthError
from .bodies import NamedChoiceField

__all__ = ["Refusal", "domain", "drf_refusal", "error_codes", "DualAuthErrorSerializer", "VALIDATION_REFUSAL"]


def _domain_errors() -> list[type[DualAuthError]]:
    found: list[type[DualAuthError]] = [DualAuthError]
    for cls in found:  # grows while it is walked: every subclass, at any depth
        found.extend(sub for sub in cls.__subclasses__() if sub not in found)
    return found


def error_codes() -> list[str]:
    """Every ``code`` an endpoint of the package can answer, sorted."""
    codes = {cls.code for cls in _domain_errors()}
    codes.update(code for _, code, _ in DRF_CODES)
    codes.update((VALIDATION[0], FALLBACK[0]))
    return sorted(codes)


@dataclass(frozen=True)
class Refusal:
    """One error answer: its status, its code and its default message."""

    status: int
    code: str
    message: str

    @property
    def example(self) -> dict[str, Any]:
        return {"error": self.message, "code": self.code}


def domain(error: type[DualAuthError]) -> Refusal:
    return Refusal(error.status, error.code, error.message)


def drf_refusal(code: str) -> Refusal:
    """The answer of the DRF exception mapped to ``code``."""
    cls, message = next((cls, m) for cls, c, m in DRF_CODES if c == code)
    return Refusal(int(cls.status_code), code, message)


VALIDATION_REFUSAL = Refusal(drf.ValidationError.status_code, *VALIDATION)


class DualAuthErrorSerializer(serializers.Serializer[Any]):
    """Every error: branch on `code` (stable); `error` is for people and may change (docs/errors.md)."""

    error = serializers.CharField()
    code = NamedChoiceField("DualAuthErrorCode", choices=error_codes(), help_text="Stable: branch on it.")
    # The body's name for it; DRF's metaclass takes it out of the class, so ``Serializer.fields`` stays.
    fields = serializers.DictField(  # type: ignore[assignment]
        child=serializers.ListField(child=serializers.CharField()), required=False,
        help_text="`VALIDATION_ERROR`: the messages per input field.")
    accepted = serializers.ListField(child=serializers.CharField(), required=False,
                                     help_text="`REAUTHENTICATION_REQUIRED`, `EMAIL_REQUIRED`: the fields that "
                                               "carry an accepted proof.")
    # The body's name for it; DRF's metaclass takes it out of the class, so ``Field.required`` stays.
    required = serializers.ListField(  # type: ignore[assignment]
        child=serializers.CharField(), required=False,
        help_text="`PERMISSION_DENIED` (the staff API): the missing permissions (`app_label.codename`, "
                  "`is_staff`, `is_active`, `is_superuser`).")
    requires2FASetup = serializers.BooleanField(required=False, help_text="`2FA_SETUP_REQUIRED`.")
    tempToken = serializers.CharField(required=False,
                                      help_text="`2FA_SETUP_REQUIRED`: the setup temp token for `2fa/setup`.")
