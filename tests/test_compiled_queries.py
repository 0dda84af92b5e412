"""The hot-path statements compiled once (_seam/compiled.py) behave exactly like the ORM calls
they replace (SES-01's one-query check, RT-03's rotation). Query counts: test_query_counts.py.

* the session look-up returns the same session, user and account state as the queryset, with the
  relations cached (no further query), including a user without an AccountState row;
* the compiled SQL is the SQL the queryset itself sends;
* shapes the plan cannot reproduce (duplicate or NULL values) take the queryset path;
* the compiled UPDATE writes NULL for a missing client IP, and the compiled INSERT stores the spent digest;
* the login's case-insensitive user look-up is compiled too, keeps LIKE wildcards escaped on SQLite,
  still refuses an ambiguous address, and is left to a default manager that builds its own queryset;
* so is cache mode's user load (``TokenUser.resolve``): one statement, the queryset's, with the
  account state joined; pk, e-mail and claims need none.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth import authenticate, get_user_model
from django.db import connection, connections, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from django_dualauth import backends
from django_dualauth._seam.compiled import CompiledSelect
from django_dualauth.models import AccountState, AuthSession, RotatedRefreshToken
from django_dualauth.services import issue_session, rotate_refresh_token, verification
from django_dualauth.services import sessions as sessions_service
from django_dualauth.services.access_tokens import decode_access_token
from django_dualauth.services.claims import update_account_state
from django_dualauth.types import ClientInfo
from tests.conftest import PASSWORD

pytestmark = [pytest.mark.django_db, pytest.mark.both_backends]

CLIENT = ClientInfo(ip_address="203.0.113.7", user_agent="pytest")


@pytest.fixture(autouse=True)
def _through_the_seam(settings: Any) -> None:
    """These tests are of the accelerated path itself, also when the suite runs the reference."""
    settings.DUALAUTH_PRIVATE_SPEEDUPS = True


def _issued(user: Any, delivery: str = "bearer") -> Any:
    return issue_session(user, delivery=delivery, client=CLIENT)


def test_session_lookup_matches_the_queryset(user: Any) -> None:
    update_account_state(user, email_verified=True)
    tokens = _issued(user)
    expected = next(iter(verification._session_with_user(tokens.session_id)))
    found = verification._SESSION_WITH_USER.first(tokens.session_id)
    assert found.pk == expected.pk and found.revoked_at == expected.revoked_at
    assert found.user == user and found.user.is_active is True
    with CaptureQueriesContext(connection) as captured:
        assert found.user.dualauth_state.email_verified is True
        assert found.user.email == user.email
    assert len(captured) == 0  # joined and cached, as select_related does


def test_user_without_account_state_is_cached_as_absent(user: Any) -> None:
    AccountState.objects.filter(user_id=user.pk).delete()
    tokens = _issued(user)
    found = verification._SESSION_WITH_USER.first(tokens.session_id)
    with CaptureQueriesContext(connection) as captured, pytest.raises(AccountState.DoesNotExist):
        found.user.dualauth_state  # noqa: B018
    assert len(captured) == 0


def test_converters_are_built_once_per_connection_and_applied_every_time(user: Any) -> None:
    first, second = _issued(user), _issued(user)
    verification._SESSION_WITH_USER.first(first.session_id)
    key = verification._SESSION_WITH_USER.plan((first.session_id,))[2].sql
    memo = connections["default"].__dict__["_dualauth_converters"]
    built = memo[key]
    found = verification._SESSION_WITH_USER.first(second.session_id)
    assert memo[key] is built  # reused, not rebuilt
    expected = next(iter(verification._session_with_user(second.session_id)))
    assert (found.pk, found.user.last_login, found.user.date_joined) == (
        expected.pk, expected.user.last_login, expected.user.date_joined)
    assert found.user.date_joined.tzinfo is not None  # converted as the ORM does (SQLite: from text)


def test_unknown_session_is_none(user: Any) -> None:
    assert verification._SESSION_WITH_USER.first("00000000-0000-4000-8000-000000000000") is None


def test_compiled_sql_is_the_querysets(user: Any) -> None:
    tokens = _issued(user)
    with CaptureQueriesContext(connection) as orm:
        list(verification._session_with_user(tokens.session_id))
    verification._SESSION_WITH_USER.first(tokens.session_id)  # compiles if not yet
    with CaptureQueriesContext(connection) as compiled:
        verification._SESSION_WITH_USER.first(tokens.session_id)
    assert [q["sql"] for q in compiled.captured_queries] == [q["sql"] for q in orm.captured_queries]


def test_duplicate_values_take_the_queryset_path(user: Any) -> None:
    tokens = _issued(user)
    digest = AuthSession.objects.get(pk=tokens.session_id).refresh_digest
    with transaction.atomic():
        found = sessions_service._LOCKED_BY_DIGEST.first(digest, digest)
    assert found is not None and str(found.pk) == tokens.session_id


def test_rotation_writes_through_the_compiled_statements(user: Any) -> None:
    tokens = _issued(user)
    before = AuthSession.objects.get(pk=tokens.session_id)
    now = timezone.now()
    rotated = rotate_refresh_token(tokens.refresh_token, presented_via="bearer",
                                   client=ClientInfo(ip_address=None, user_agent="ua-2"))
    after = AuthSession.objects.get(pk=tokens.session_id)
    assert after.generation == before.generation + 1
    assert after.refresh_digest != before.refresh_digest
    assert after.ip_address is None and after.user_agent == "ua-2"  # "= NULL" shape of the UPDATE
    assert after.rotated_at >= now and after.last_used_at == after.rotated_at
    spent = RotatedRefreshToken.objects.get(session_id=after.pk)
    assert spent.digest == before.refresh_digest and spent.generation == before.generation
    assert rotated.refresh_token != tokens.refresh_token


# --- the one-statement rotation (PostgreSQL) -------------------------------------------------

@pytest.mark.django_db(transaction=True)
def test_a_locked_lookup_first_planned_outside_a_transaction_is_still_compiled(user: Any) -> None:
    """The rotation statement plans the FOR UPDATE look-up in autocommit; that must compile the
    plan (not store "use the ORM" for good because as_sql() refuses FOR UPDATE there)."""
    fresh = CompiledSelect(AuthSession, "refresh_digest", sessions_service._locked_by_digest, for_update=True)
    assert connection.get_autocommit()
    planned = fresh.plan(("a" * 64,))
    assert planned is not None
    if connection.features.has_select_for_update:
        assert "FOR UPDATE" in planned[2].sql.upper()


@pytest.mark.django_db(transaction=True)
def test_the_rotation_statement_returns_the_session_as_locked_and_writes_what_the_transaction_writes(
        user: Any) -> None:
    tokens = _issued(user)
    before = AuthSession.objects.get()
    rotated = rotate_refresh_token(tokens.refresh_token, presented_via="bearer", client=CLIENT)
    after = AuthSession.objects.get()
    spent = RotatedRefreshToken.objects.get()
    assert (spent.session_id, spent.digest, spent.generation) == (before.pk, before.refresh_digest, 0)
    assert after.generation == 1 and after.refresh_digest != before.refresh_digest
    assert after.rotated_at == after.last_used_at == spent.rotated_at
    assert after.expires_at <= after.absolute_expires_at == before.absolute_expires_at
    assert (after.ip_address, after.user_agent) == ("203.0.113.7", "pytest")
    # The returned instance holds what the row now holds; its user comes from the same join.
    returned = AuthSession.objects.get(pk=rotated.session_id)
    assert returned.refresh_digest == after.refresh_digest
    assert rotated.user == user
    with CaptureQueriesContext(connection) as captured:
        again = rotate_refresh_token(rotated.refresh_token, presented_via="bearer", client=CLIENT)
    assert AuthSession.objects.get().generation == 2 and again.refresh_token != rotated.refresh_token
    if connection.vendor == "postgresql":
        assert len(captured) == 1  # lock, checks, spent digest and advance: one round trip


def test_issue_session_writes_the_instance_it_returns_with_the_compiled_insert(user: Any) -> None:
    tokens = _issued(user, delivery="cookie")
    stored = AuthSession.objects.get(pk=tokens.session_id)
    assert stored.auth_methods == ["pwd"] and stored.delivery == "cookie" and stored.generation == 0
    assert (stored.ip_address, stored.user_agent, stored.rotated_at, stored.revoked_at) == (
        "203.0.113.7", "pytest", None, None)
    assert stored.expires_at == tokens.refresh_expires_at
    # The statement was compiled once and reused (a JSON value must not make it fall back).
    plans = sessions_service._INSERT_SESSION._plans
    assert [p for p in plans.values() if p is not None], plans
    second = _issued(user)
    assert AuthSession.objects.filter(user=user).count() == 2 and second.session_id != tokens.session_id


# --- the login's user look-up (backends.EmailBackend) -----------------------------------------

def _login(email: str, password: str = PASSWORD) -> Any:
    return authenticate(None, email=email, password=password)


def test_login_lookup_is_compiled_and_matches_the_queryset(user_factory: Any) -> None:
    user = user_factory(email="Alice@Example.com")
    update_account_state(user, email_verified=True)
    assert _login("alice@example.COM") == user  # compiles if not yet
    lookup = backends._compiled_lookup(type(user))
    assert lookup is not None and lookup.plan(("x@example.com",)) is not None  # not the ORM fallback
    with CaptureQueriesContext(connection) as orm:
        list(backends._matching_users(type(user), "email", "ALICE@example.com"))
    with CaptureQueriesContext(connection) as compiled:
        found = _login("ALICE@example.com")
        assert found.dualauth_state.email_verified is True  # joined and cached, no query
    assert found == user
    assert [q["sql"] for q in compiled.captured_queries] == [q["sql"] for q in orm.captured_queries]


@pytest.mark.parametrize("guess", ["john_doe@example.co_", "JOHN_DOE@EXAMPLE.CO%", "john%@example.com",
                                   "%", "_%"])
def test_login_lookup_never_treats_like_wildcards_as_wildcards(user_factory: Any, guess: str) -> None:
    """On SQLite ``iexact`` is a LIKE: a reused statement must still escape % and _ (ASVS V2)."""
    user = user_factory(email="john_doe@example.com")
    assert _login("JOHN_DOE@example.com") == user  # the plan is compiled and cached
    assert _login(guess) is None


def test_an_ambiguous_address_authenticates_nobody(user_factory: Any) -> None:
    user_factory(email="Twin@example.com")
    get_user_model().objects.create_user(username="twin-2", email="twin@example.com", password=PASSWORD)
    assert _login("TWIN@example.com") is None


def _token_user(user: Any) -> verification.TokenUser:
    return verification.TokenUser(decode_access_token(_issued(user).access_token))


def test_the_lazy_user_is_loaded_by_the_compiled_lookup_with_the_querysets_sql(user: Any) -> None:
    update_account_state(user, email_verified=True)
    _token_user(user).resolve()  # compiles if not yet
    lookup = verification._compiled_user(type(user))
    assert lookup is not None and lookup.plan((user.pk,)) is not None  # not the ORM fallback
    with CaptureQueriesContext(connection) as orm:
        list(verification._user_with_state(type(user), user.pk))
    token_user = _token_user(user)
    with CaptureQueriesContext(connection) as compiled:
        assert (token_user.pk, token_user.email, token_user.claims["email"]) == (user.pk, user.email, user.email)
        assert len(compiled) == 0  # from the token
        assert token_user.username == user.username
        assert token_user.dualauth_state.email_verified is True  # joined and cached, no query
        assert token_user.resolve() == user
    assert [q["sql"] for q in compiled.captured_queries] == [q["sql"] for q in orm.captured_queries]



# (the memoised compiler of a user look-up, a call that runs that look-up for ``user``)
SELF_BUILT: dict[str, tuple[Any, Any]] = {
    "login": (backends._compiled_lookup, lambda user: _login(user.email)),
    "lazy-user": (verification._compiled_user, lambda user: _token_user(user).resolve()),
}


@pytest.mark.parametrize("lookup", SELF_BUILT)
def test_a_manager_that_builds_its_own_queryset_is_never_compiled(user: Any, monkeypatch: Any, lookup: str) -> None:
    compiled, run = SELF_BUILT[lookup]
    manager_class = type(get_user_model()._default_manager)
    calls = []

    def get_queryset(self: Any) -> Any:
        calls.append(1)
        return super(manager_class, self).get_queryset()

    monkeypatch.setattr(manager_class, "get_queryset", get_queryset, raising=False)
    compiled.cache_clear()
    try:
        assert compiled(get_user_model()) is None
        assert run(user) == user and calls  # the manager's own queryset answered
    finally:
        monkeypatch.undo()
        compiled.cache_clear()
