"""The private seam's accelerated path is the reference path, outcome for outcome.

Every refresh case (a rotation, each rotation rule broken alone, reuse of a spent token, a retry
inside the grace window, an unknown token) runs twice on the same data: once through the seam
(``DUALAUTH_PRIVATE_SPEEDUPS = True``: compiled statements, and on PostgreSQL the one-statement
rotation) and once through the plain ORM path of ``services/``. What the caller gets and what the
database holds afterwards must be the same. On SQLite and (stage 2) on PostgreSQL.

The rotation rules are one table (``services.rotation_rules``): lifting a rule there lifts it on
both paths, so neither restates it. Catalogue: RT-05, RT-06, RT-08 (and RT-02 reuse, RT-04 grace) on
both paths.

Cache mode's lazy user (``TokenUser.resolve``) loads the same user with the same fields and
account state through the compiled look-up as through ``get()``, and a user deactivated, left
without an account state or deleted after the token was issued ends alike.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from django_dualauth._seam.rotation_statement import RotationStatement
from django_dualauth.exceptions import DualAuthError
from django_dualauth.models import AccountState, AuthSession, RotatedRefreshToken
from django_dualauth.services import issue_session, rotate_refresh_token, rotation_rules, verification
from django_dualauth.services import sessions as sessions_service
from django_dualauth.services.access_tokens import decode_access_token
from django_dualauth.services.claims import update_account_state
from django_dualauth.types import ClientInfo

pytestmark = [pytest.mark.django_db, pytest.mark.both_backends]

CLIENT = ClientInfo(ip_address="203.0.113.9", user_agent="equivalence")
PAST = timedelta(seconds=-1)


def _revoked(s: AuthSession) -> None:
    AuthSession.objects.filter(pk=s.pk).update(revoked_at=timezone.now(), revoked_reason="logout")


def _idle_expired(s: AuthSession) -> None:
    AuthSession.objects.filter(pk=s.pk).update(expires_at=timezone.now() + PAST)


def _absolute_expired(s: AuthSession) -> None:
    AuthSession.objects.filter(pk=s.pk).update(absolute_expires_at=timezone.now() + PAST)


def _inactive_user(s: AuthSession) -> None:
    type(s.user).objects.filter(pk=s.user_id).update(is_active=False)


# (name, how the session is changed before the refresh, the delivery the token comes through)
CASES: list[tuple[str, Callable[[AuthSession], None] | None, str]] = [
    ("rotates", None, "bearer"),
    ("revoked", _revoked, "bearer"),
    ("idle-expired", _idle_expired, "bearer"),
    ("absolute-expired", _absolute_expired, "bearer"),
    ("wrong-delivery", None, "cookie"),
    ("inactive-user", _inactive_user, "bearer"),
]


def _outcome(call: Callable[[], Any]) -> str:
    try:
        call()
    except DualAuthError as exc:
        return type(exc).__name__
    return "ok"


def _state(session_id: str) -> tuple[Any, ...]:
    s = AuthSession.objects.select_related("user").get(pk=session_id)
    spent = sorted(RotatedRefreshToken.objects.filter(session_id=session_id).values_list("generation", flat=True))
    return (s.generation, s.revoked_at is not None, s.revoked_reason, s.user.is_active, tuple(spent),
            s.ip_address, s.user_agent)


def _run(user_factory: Any, settings: Any, speedups: bool, email: str,
         case: tuple[str, Callable[[AuthSession], None] | None, str]) -> tuple[str, tuple[Any, ...]]:
    settings.DUALAUTH_PRIVATE_SPEEDUPS = speedups
    _, change, via = case
    user = user_factory(email=email)
    tokens = issue_session(user, delivery="bearer", client=CLIENT)
    if change is not None:
        change(AuthSession.objects.select_related("user").get(pk=tokens.session_id))
    outcome = _outcome(lambda: rotate_refresh_token(tokens.refresh_token, presented_via=via, client=CLIENT))
    return outcome, _state(tokens.session_id)


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_each_refresh_case_ends_alike_through_the_seam_and_the_reference(
        user_factory: Any, settings: Any, case: Any) -> None:
    accelerated = _run(user_factory, settings, True, "seam@example.com", case)
    reference = _run(user_factory, settings, False, "reference@example.com", case)
    assert accelerated == reference
    assert accelerated[0] == {"rotates": "ok", "revoked": "SessionRevoked"}.get(case[0], "RefreshTokenInvalid")


@pytest.mark.parametrize("second", ["reuse", "grace-retry", "unknown"])
def test_spent_and_unknown_tokens_end_alike_through_the_seam_and_the_reference(
        user_factory: Any, settings: Any, second: str) -> None:
    results = []
    for speedups, email in ((True, "seam@example.com"), (False, "reference@example.com")):
        settings.DUALAUTH_PRIVATE_SPEEDUPS = speedups
        settings.DUALAUTH_REFRESH_REUSE_GRACE = timedelta(seconds=60 if second == "grace-retry" else 0)
        tokens = issue_session(user_factory(email=email), delivery="bearer", client=CLIENT)
        first = _outcome(lambda t=tokens: rotate_refresh_token(t.refresh_token, presented_via="bearer",
                                                               client=CLIENT))
        raw = tokens.refresh_token if second != "unknown" else tokens.refresh_token[::-1]
        again = _outcome(lambda r=raw: rotate_refresh_token(r, presented_via="bearer", client=CLIENT))
        results.append((first, again, _state(tokens.session_id)))
    assert results[0] == results[1]
    assert results[0][1] == {"reuse": "SessionRevoked", "grace-retry": "ok", "unknown": "RefreshTokenInvalid"}[second]


def test_a_rule_lifted_from_the_one_table_is_lifted_on_both_paths(
        user_factory: Any, settings: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Both paths read ``ROTATION_RULES``: without the delivery rule a bearer family's token
    rotates through the cookie delivery on both (neither restates the rule)."""
    lifted = tuple(r for r in rotation_rules.ROTATION_RULES if r.holds != rotation_rules.IS_DELIVERY)
    assert len(lifted) == len(rotation_rules.ROTATION_RULES) - 1
    monkeypatch.setattr(rotation_rules, "ROTATION_RULES", lifted)
    statement = RotationStatement(sessions_service._LOCKED_BY_DIGEST, lifted)
    monkeypatch.setattr(sessions_service, "_ROTATE_IN_ONE", statement)
    wrong_delivery = CASES[4]
    assert _run(user_factory, settings, True, "seam@example.com", wrong_delivery)[0] == "ok"
    assert _run(user_factory, settings, False, "reference@example.com", wrong_delivery)[0] == "ok"


# --- cache mode's lazy user --------------------------------------------------------------------

def _deactivated(user: Any) -> None:
    type(user).objects.filter(pk=user.pk).update(is_active=False)


def _without_state(user: Any) -> None:
    AccountState.objects.filter(user_id=user.pk).delete()


def _deleted(user: Any) -> None:
    type(user).objects.filter(pk=user.pk).delete()


USER_CASES: list[tuple[str, Callable[[Any], None] | None]] = [
    ("as-issued", None), ("deactivated", _deactivated), ("without-account-state", _without_state),
    ("deleted", _deleted),
]


def _resolved(user_factory: Any, settings: Any, speedups: bool, email: str,
              change: Callable[[Any], None] | None) -> tuple[Any, ...]:
    """What the view gets from a ``TokenUser`` of a fresh token: every concrete field of the
    user and of its account state, without the primary keys, which differ between the runs."""
    settings.DUALAUTH_PRIVATE_SPEEDUPS = speedups
    user = user_factory(email=email)
    update_account_state(user, email_verified=True)
    token_user = verification.TokenUser(decode_access_token(
        issue_session(user, delivery="bearer", client=CLIENT).access_token))
    if change is not None:
        change(user)
    try:
        loaded = token_user.resolve()
    except Exception as exc:  # noqa: BLE001 - the outcome compared is whatever is raised
        return (type(exc), str(exc))
    assert type(loaded) is type(user) and loaded.pk == user.pk and loaded is token_user.resolve()
    state = getattr(loaded, "dualauth_state", None)  # cached absent or joined: no query either way
    return (_fields(loaded, {"id", "email", "username", "password", "last_login", "date_joined"}),
            (loaded.email, loaded.username) == (email, email),
            None if state is None else _fields(state, {"id", "user"}))


def _fields(obj: Any, skip: set[str]) -> tuple[Any, ...]:
    return tuple((f.name, getattr(obj, f.attname)) for f in obj._meta.concrete_fields if f.name not in skip)


@pytest.mark.parametrize("case", USER_CASES, ids=[c[0] for c in USER_CASES])
def test_the_lazy_user_loads_alike_through_the_seam_and_the_reference(
        user_factory: Any, settings: Any, django_user_model: Any, case: Any) -> None:
    accelerated = _resolved(user_factory, settings, True, "seam@example.com", case[1])
    reference = _resolved(user_factory, settings, False, "reference@example.com", case[1])
    assert accelerated == reference
    if case[0] == "deleted":
        assert accelerated[0] is django_user_model.DoesNotExist
    else:
        assert accelerated[0] == reference[0] and dict(accelerated[0])["is_active"] is (case[0] != "deactivated")
        assert (accelerated[2] is None) is (case[0] == "without-account-state")
