"""``PATCH profile``: the user's first and last name. No HTTP.

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

__all__ = ["PROFILE_FIELDS", "update_names"]

#: The body's names and the user model's fields they set.
PROFILE_FIELDS: dict[str, str] = {"firstName": "first_name", "lastName": "last_name"}


def _field_problem(user: Any, field: str, value: str) -> str | None:
    try:
        model_field = user._meta.get_field(field)
    except FieldDoesNotExist:
        return "This user model does not store this field."
    limit = getattr(model_field, "max_length", None)
    if limit is not None and len(value) > limit:
        return f"Ensure this field has no more than {limit} characters."
    return None


def update_names(user: Any, changes: dict[str, str]) -> list[str]:
    """Set the given names (body keys of :data:`PROFILE_FIELDS`) on ``user`` and save them.

    Raises :class:`ValidationFailed` naming each field the model lacks or whose value is longer
    than the model allows; then nothing is saved. Returns the model fields written, and sends
    ``profile_updated`` with them (never the values).
    """
    problems = {name: [problem] for name, value in changes.items()
                if (problem := _field_problem(user, PROFILE_FIELDS[name], value)) is not None}
    if problems:
        raise ValidationFailed(fields=problems)
    fields = [PROFILE_FIELDS[name] for name in changes]
    for name, value in changes.items():
        setattr(user, PROFILE_FIELDS[name], value)
    user.save(update_fields=fields)
    profile_updated.send(sender=type(user), user=user, fields=fields)
    audit.record("auth.profile.updated", user=str(user.pk), fields=",".join(fields))
    return fields
