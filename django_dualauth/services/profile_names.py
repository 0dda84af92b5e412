"""``PATCH profile`` and the names of ``register``: the user's first and last name. No HTTP.

The names are the user model's own ``first_name`` / ``last_name`` (Django's ``AbstractUser``);
their length limits are the model fields'. Nothing security-relevant changes, so no proof is
asked and no session is revoked; ``profile_updated`` tells the project what changed.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import FieldDoesNotExist

from .. import audit
from ..exceptions import ValidationFailed
from ..signals import profile_updated

__all__ = ["PROFILE_FIELDS", "names_to_store", "update_names"]

#: The body's names and the user model's fields they set.
PROFILE_FIELDS: dict[str, str] = {"firstName": "first_name", "lastName": "last_name"}


_MISSING = "This user model does not store this field."


def _field_problem(model: Any, field: str, value: str) -> str | None:
    try:
        model_field = model._meta.get_field(field)
    except FieldDoesNotExist:
        return _MISSING
    limit = getattr(model_field, "max_length", None)
    if limit is not None and len(value) > limit:
        return f"Ensure this field has no more than {limit} characters."
    return None


def names_to_store(model: Any, names: dict[str, str], *, skip_missing: bool = False) -> dict[str, str]:
    """The model fields and values for ``names`` (body keys of :data:`PROFILE_FIELDS`) on the
    user model (class or instance) ``model``.

    Raises :class:`ValidationFailed` naming each name longer than its field allows, and each
    name the model has no field for unless ``skip_missing`` (then it is left out).
    """
    values: dict[str, str] = {}
    problems: dict[str, list[str]] = {}
    for name, value in names.items():
        problem = _field_problem(model, PROFILE_FIELDS[name], value)
        if problem is None:
            values[PROFILE_FIELDS[name]] = value
        elif not (skip_missing and problem == _MISSING):
            problems[name] = [problem]
    if problems:
        raise ValidationFailed(fields=problems)
    return values


def update_names(user: Any, changes: dict[str, str]) -> list[str]:
    """Set the given names (body keys of :data:`PROFILE_FIELDS`) on ``user`` and save them.

    Raises :class:`ValidationFailed` naming each field the model lacks or whose value is longer
    than the model allows; then nothing is saved. Returns the model fields written, and sends
    ``profile_updated`` with them (never the values).
    """
    values = names_to_store(user, changes)
    fields = list(values)
    for field, value in values.items():
        setattr(user, field, value)
    user.save(update_fields=fields)
    profile_updated.send(sender=type(user), user=user, fields=fields)
    audit.record("auth.profile.updated", user=str(user.pk), fields=",".join(fields))
    return fields
