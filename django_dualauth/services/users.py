"""Looking users up and describing their state, for the mailed and texted flows. No HTTP."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string

from ..crypto import digest

__all__ = ["active_user_by_email", "email_field", "email_of", "render_mail", "state_stamp"]


def email_field() -> str:
    return str(get_user_model().get_email_field_name())


def email_of(user: Any) -> str:
    return getattr(user, email_field(), "") or ""


def active_user_by_email(email: str) -> Any | None:
    """The one active user with this address (case-insensitive), else ``None`` (unknown,
    ambiguous or inactive: the callers answer the same in every case)."""
    model = get_user_model()
    found = list(model._default_manager.filter(**{f"{email_field()}__iexact": email.strip()})[:2])
    return found[0] if len(found) == 1 and found[0].is_active else None


def state_stamp(user: Any, purpose: str) -> str:
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
