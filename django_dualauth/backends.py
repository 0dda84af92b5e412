"""``EmailBackend``: password authentication by e-mail address for any user model."""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING, Any

from django.contrib.auth.backends import ModelBackend
from django.core.exceptions import PermissionDenied

from ._seam.compiled import CompiledSelect, plain_default_manager
from .conf import snapshot
from .services.users import normalize_address

if TYPE_CHECKING:
    from .types import User

__all__ = ["EmailBackend"]


def _matching_users(model: Any, field: str, email: str) -> Any:
    # The account state joined in: the login reads it next (e-mail policy, 2FA, claims). Two
    # rows are enough to tell an ambiguous address.
    return model._default_manager.select_related("dualauth_state").filter(**{f"{field}__iexact": email})[:2]


@cache
def _compiled_lookup(model: type[User]) -> CompiledSelect[User] | None:
    """The look-up compiled once per database (building and compiling this queryset cost more
    than the database spends answering it), unless the user model's default manager builds its
    queryset itself: that queryset may differ from one call to the next.

    Memoised by the model it compiles for, not by the settings: it cannot go stale, and a
    changed ``AUTH_USER_MODEL`` (``conf.Snapshot.user_model``) is another key."""
    if not plain_default_manager(model):
        return None
    field = model.get_email_field_name()
    return CompiledSelect(model, field, lambda email: _matching_users(model, field, email), lookup="iexact")


class EmailBackend(ModelBackend):
    """Authenticates ``authenticate(request, email=..., password=...)``, case-insensitively,
    after normalising the address the way registration does (the domain lower-cased).

    The password hasher runs exactly once on every path (unknown address, ambiguous address,
    wrong password, inactive user, unusable password), so response time does not tell them
    apart. A failure stops the backend chain (``PermissionDenied``) so that a later backend
    cannot hash the same attempt a second time. Calls without ``email`` (the admin's
    username login) pass through untouched to the next backend.
    """

    # Keyword ``email`` where ModelBackend has ``username``: Django passes credentials by keyword.
    def authenticate(self, request: Any, email: str | None = None,  # type: ignore[override]
                     password: str | None = None, **kwargs: Any) -> Any:
        if email is None or password is None:
            return None
        model = snapshot().user_model
        email = normalize_address(email)  # as registration stored it: SQLite's LIKE folds ASCII only
        compiled = _compiled_lookup(model)
        users = (compiled.all(email) if compiled is not None
                 else list(_matching_users(model, model.get_email_field_name(), email)))
        if len(users) != 1:  # unknown or ambiguous
            model().set_password(password)  # same work as a real check
            raise PermissionDenied
        user = users[0]
        if user.check_password(password) and self.user_can_authenticate(user):
            return user
        raise PermissionDenied
