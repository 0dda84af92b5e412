"""``EmailBackend``: password authentication by e-mail address for any user model."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.core.exceptions import PermissionDenied

__all__ = ["EmailBackend"]


class EmailBackend(ModelBackend):
    """Authenticates ``authenticate(request, email=..., password=...)``, case-insensitively.

    The password hasher runs exactly once on every path (unknown address, ambiguous address,
    wrong password, inactive user, unusable password), so response time does not tell them
    apart. A failure stops the backend chain (``PermissionDenied``) so that a later backend
    cannot hash the same attempt a second time. Calls without ``email`` (the admin's
    username login) pass through untouched to the next backend.
    """

    def authenticate(self, request: Any, email: str | None = None, password: str | None = None,
                     **kwargs: Any) -> Any:
        if email is None or password is None:
            return None
        model = get_user_model()
        field = model.get_email_field_name()
        try:
            # The account state joined in: the login reads it next (e-mail policy, 2FA, claims).
            user = (model._default_manager.select_related("dualauth_state")
                    .get(**{f"{field}__iexact": email.strip()}))
        except (model.DoesNotExist, model.MultipleObjectsReturned):
            model().set_password(password)  # same work as a real check
            raise PermissionDenied from None
        if user.check_password(password) and self.user_can_authenticate(user):
            return user
        raise PermissionDenied
