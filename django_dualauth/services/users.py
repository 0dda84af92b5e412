"""Looking users up and describing their state, for the mailed and texted flows. No HTTP."""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Any

from django.contrib.auth import get_user_model
from django.contrib.auth.base_user import BaseUserManager
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string

from ..crypto import digest
from ..exceptions import ValidationFailed

if TYPE_CHECKING:
    from ..types import User

__all__ = ["active_user_by_email", "email_field", "email_of", "normalize_address", "render_mail", "state_stamp",
           "user_fields_for_address", "username_for_address"]

#: Hex characters of the address digest that end a username cut to fit its field (64 bits).
_USERNAME_DIGEST_LENGTH = 16


def email_field() -> str:
    return str(get_user_model().get_email_field_name())


def email_of(user: User) -> str:
    return getattr(user, email_field(), "") or ""


def normalize_address(email: str) -> str:
    """The address as registration stores it: stripped, the domain lower-cased in Python (so
    ``BÜCHER.example`` becomes ``bücher.example`` on every database, where SQLite's ``LIKE``
    folds ASCII only), by the user model's manager when it has its own ``normalize_email``.
    Every look-up by address goes through this first."""
    manager = get_user_model()._default_manager
    normalize = getattr(manager, "normalize_email", BaseUserManager.normalize_email)
    return str(normalize(email.strip()))


def _max_length(model: Any, name: str) -> int | None:
    return getattr(model._meta.get_field(name), "max_length", None)


def user_fields_for_address(email: str, *, field: str = "email", username: bool = True) -> dict[str, str]:
    """The user-model fields that hold a (normalised) address: the e-mail field, and (with
    ``username``) the ``USERNAME_FIELD`` when that is another field, as ``register`` and the
    e-mail change fill it. ``field`` names the input in the error.

    Whatever the model's limits: an address longer than its e-mail field is refused with
    :class:`ValidationFailed` on ``field`` (never a database error); a username field shorter
    than the address gets the address's first characters and a digest of the whole address,
    so that two addresses never share a username.
    """
    model = get_user_model()
    name = email_field()
    limit = _max_length(model, name)
    if limit is not None and len(email) > limit:
        raise ValidationFailed(fields={field: [f"Ensure this field has no more than {limit} characters."]})
    fields = {name: email}
    if username and model.USERNAME_FIELD != name:
        derived = username_for_address(email)
        if derived is None:
            raise ValidationFailed(fields={field: ["This address cannot be used on this site."]})
        fields[model.USERNAME_FIELD] = derived
    return fields


def username_for_address(email: str) -> str | None:
    """The username that :func:`user_fields_for_address` derives from ``email`` (``None`` when
    the username field is too short even for the digest). The cut form has a ``+`` after the
    address's first characters, so it never equals an address that fits whole."""
    model = get_user_model()
    limit = _max_length(model, model.USERNAME_FIELD)
    if limit is None or len(email) <= limit:
        return email
    keep = limit - _USERNAME_DIGEST_LENGTH - 1
    if keep < 0:
        return None
    suffix = hashlib.sha256(email.casefold().encode()).hexdigest()[:_USERNAME_DIGEST_LENGTH]
    return f"{email[:keep]}+{suffix}"


def active_user_by_email(email: str) -> User | None:
    """The one active user with this address (case-insensitive, after :func:`normalize_address`),
    else ``None`` (unknown, ambiguous or inactive: the callers answer the same in every case)."""
    model = get_user_model()
    found = list(model._default_manager.filter(**{f"{email_field()}__iexact": normalize_address(email)})[:2])
    return found[0] if len(found) == 1 and found[0].is_active else None


def state_stamp(user: User, purpose: str) -> str:
    """A digest of the account state a mailed token depends on (password hash, address, active
    flag): when any of them changes, every token stamped before no longer matches."""
    return digest(f"{user.password}\x00{email_of(user)}\x00{user.is_active}", purpose)


def render_mail(template: str, to: str, context: dict[str, Any]) -> EmailMultiAlternatives:
    """``django_dualauth/email/<template>_subject.txt``, ``.txt`` and ``.html`` rendered into one
    mail to ``to``: projects override the templates."""
    base = f"django_dualauth/email/{template}"
    subject = " ".join(render_to_string(f"{base}_subject.txt", context).split())
    message = EmailMultiAlternatives(subject, render_to_string(f"{base}.txt", context), to=[to])
    message.attach_alternative(render_to_string(f"{base}.html", context), "text/html")
    return message
