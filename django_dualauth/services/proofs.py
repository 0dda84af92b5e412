"""The one gate of every check of a password or a code (TOTP, recovery, SMS). No HTTP.

Each check calls :func:`attempt` first, with the account it is about to check. That call
reaches the failure budget the caller opened (:func:`guarded_by`; the API opens it with
``ratelimits.guarded_check``), which refuses (``RateLimited``) once the per-IP or the
per-account budget is spent, before the password or code is looked at, and which learns the
account on paths where only the check knows it (a temp token). Without an open budget
:func:`attempt` raises :class:`UnguardedCheck`: a new caller that forgets the budget fails
its first test instead of answering unlimited guesses. ``tests/test_architecture.py``
checks that every password or code check in the package calls :func:`attempt`.
"""

from __future__ import annotations

from contextvars import ContextVar, Token
from typing import TYPE_CHECKING, Any, Literal, Protocol

from django.contrib import auth

if TYPE_CHECKING:
    from ..types import User

__all__ = ["Budget", "UnguardedCheck", "attempt", "authenticate_by_email", "guarded_by", "password_matches",
           "without_budget"]


class Budget(Protocol):
    def admit(self, user_id: object | None) -> None:
        """Raise (429 or 503) when a check of ``user_id``'s proof must not run."""


class UnguardedCheck(RuntimeError):
    """A password or code was about to be checked with no failure budget open: a programming error."""


_current: ContextVar[Budget | None] = ContextVar("dualauth_proof_budget", default=None)


class guarded_by:  # noqa: N801 - used as a ``with`` statement, like a function
    """``with guarded_by(budget):`` opens ``budget`` for the checks made in the block (this
    thread or task only; a thread started inside does not inherit it)."""

    def __init__(self, budget: Budget) -> None:
        self.budget = budget
        self._token: Token[Budget | None] | None = None

    def __enter__(self) -> Budget:
        self._token = _current.set(self.budget)
        return self.budget

    def __exit__(self, *exc_info: object) -> Literal[False]:
        assert self._token is not None
        _current.reset(self._token)
        return False


class _Unmetered:
    def admit(self, user_id: object | None) -> None:
        return None


def without_budget() -> guarded_by:
    """Checks with no limit, for scripts and tests that call the services directly. Never in a
    view (``tests/test_architecture.py`` refuses it in ``api/``): requests go through
    ``ratelimits.guarded_check``."""
    return guarded_by(_Unmetered())


def attempt(user_id: object | None) -> None:
    """Call before checking a password or code of ``user_id`` (``None``: not known yet).

    Raises :class:`UnguardedCheck` outside a budget, or the budget's refusal."""
    budget = _current.get()
    if budget is None:
        raise UnguardedCheck("a password or code check outside a failure budget "
                             "(django_dualauth.api.ratelimits.guarded_check)")
    budget.admit(user_id)


def password_matches(user: User, raw: object) -> bool:
    """Whether ``raw`` is ``user``'s password (a non-string never is), within the budget."""
    attempt(user.pk)
    return isinstance(raw, str) and user.check_password(raw)


def authenticate_by_email(request: Any, *, email: str, password: str) -> User | None:
    """Django's ``authenticate()`` by e-mail address, within the budget (the login's account
    key is the address, known before any user is found). Returns the user or ``None``."""
    attempt(None)
    return auth.authenticate(request, email=email, password=password)
