"""Registration: one new account per address, its password validated. No HTTP.

It does not log in. The names node-auth's clients send (``firstName``, ``lastName``) are stored
where the user model has the fields, with ``PATCH profile``'s length rules. The verification
mail (``DUALAUTH_EMAIL_VERIFICATION`` other than ``"none"``) is returned, not sent: the caller
sends it off the request path.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.mail import EmailMultiAlternatives
from django.db import IntegrityError, transaction

from ..conf import dualauth_settings
from ..exceptions import EmailTaken, ValidationFailed
from ..types import ClientInfo
from . import account_tokens, email_claims, profile_names, users

if TYPE_CHECKING:
    from ..types import User

__all__ = ["Registered", "register_user"]


@dataclass(frozen=True)
class Registered:
    user: User
    #: The verification mail to send, or ``None``.
    verification: EmailMultiAlternatives | None


def register_user(email: str, password: str, *, client: ClientInfo,
                  names: Mapping[str, str] | None = None) -> Registered:
    """Create the account for ``email`` (normalised) with ``password`` and ``names`` (body keys of
    :data:`~.profile_names.PROFILE_FIELDS`; a name the user model has no field for is left out).

    Raises :class:`ValidationFailed` (an address the user model cannot hold, a name longer than
    its field, a password that ``AUTH_PASSWORD_VALIDATORS`` refuse) before anything is written,
    and :class:`EmailTaken` when an account has the address (or its derived username), also
    under a concurrent registration of the same address (docs/security.md, "One account per
    address")."""
    model = get_user_model()
    email_field = model.get_email_field_name()
    address = users.normalize_address(email)
    fields = users.user_fields_for_address(address)  # a clear 400 when the model cannot hold it
    # A project without name fields still serves the package, which always sends them.
    fields.update(profile_names.names_to_store(model, dict(names or {}), skip_missing=True))
    try:
        # With the names: UserAttributeSimilarityValidator compares the password to them.
        validate_password(password, user=model(**fields))
    except DjangoValidationError as exc:
        raise ValidationFailed(fields={"password": list(exc.messages)}) from None
    with transaction.atomic():
        # The claim first: a concurrent registration of the same address waits here, then
        # gets 409.
        claim = email_claims.claim_address(address)
        if model._default_manager.filter(**{f"{email_field}__iexact": address}).exists():
            raise EmailTaken()
        try:
            user = model._default_manager.create_user(password=password, **fields)
        except IntegrityError:  # the username of another account
            raise EmailTaken() from None
        email_claims.bind_claim(claim, user)
    message = None
    if dualauth_settings.EMAIL_VERIFICATION != "none":
        message = account_tokens.send_verification_email(user, client=client)
    return Registered(user=user, verification=message)
