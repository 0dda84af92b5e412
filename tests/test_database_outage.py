"""A database that is locked or unreachable: a JSON ``503 SERVICE_UNAVAILABLE`` with
``Retry-After`` from every endpoint, and from ``DualAuthentication`` on a project view under
DRF's own exception handler, never an HTML 500 (issue 15, items 1 and 2).

The errors are genuine driver errors (``sqlite3`` refusing a write lock held by another
connection, or a database file it cannot open), raised for every statement through Django's
public ``connection.execute_wrapper`` and Django's own error wrapping, so the code under test
sees exactly what a locked or vanished database gives it. The real outages are in
``tests/test_sqlite_concurrency.py`` (gunicorn threads on a file) and
``tests/real_servers/test_postgres_outage.py`` (a PostgreSQL server stopped and restarted).
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from django.db import DataError, IntegrityError, InterfaceError, OperationalError, connection

from django_dualauth._seam.compiled import CompiledSelect
from django_dualauth.exceptions import database_outage
from django_dualauth.models import AuthSession
from django_dualauth.services import sessions as sessions_service
from tests.conftest import EMAIL, PASSWORD, AuthClient
from tests.endpoints import NO_DATABASE, SOCIAL_PROVIDERS, SOCIAL_RETURN_URLS, routes, valid_body

pytestmark = pytest.mark.django_db

# Transaction control passes: the test's own transaction must survive the outage.
_CONTROL = ("SAVEPOINT", "RELEASE", "ROLLBACK", "BEGIN", "COMMIT")


@contextmanager
def sqlite_locked(tmp_path: Path) -> Iterator[Callable[[], None]]:
    """A function raising a genuine "database is locked" (SQLITE_BUSY) each time it is called."""
    path = tmp_path / "locked.sqlite3"
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # the write lock, held for the whole test
    waiter = sqlite3.connect(path, timeout=0, isolation_level=None)
    try:
        yield lambda: waiter.execute("BEGIN IMMEDIATE")  # sqlite3.OperationalError: database is locked
    finally:
        waiter.close()
        holder.close()


@contextmanager
def sqlite_gone(tmp_path: Path) -> Iterator[Callable[[], None]]:
    """A function raising a genuine "unable to open database file" (SQLITE_CANTOPEN)."""
    yield lambda: sqlite3.connect(tmp_path / "no-such-dir" / "db.sqlite3")  # unable to open database file


@pytest.fixture(params=["locked", "gone"])
def outage(request: Any, tmp_path: Path) -> Iterator[Callable[[], Any]]:
    """A context manager: while it is open, every query fails the way a real outage does."""
    with {"locked": sqlite_locked, "gone": sqlite_gone}[request.param](tmp_path) as fail:
        yield lambda: failing(fail)


@contextmanager
def failing(fail: Callable[[], None]) -> Iterator[None]:
    def wrapper(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        if sql.lstrip().upper().startswith(_CONTROL):
            return execute(sql, params, many, context)
        with connection.wrap_database_errors:  # sqlite3's error becomes Django's, as in a real query
            fail()
        raise AssertionError("the outage did not fail")

    with connection.execute_wrapper(wrapper):
        yield


def assert_503(response: Any) -> None:
    assert response.status_code == 503, (response.status_code, response.content[:300])
    assert response["Content-Type"].startswith("application/json")
    assert response.json() == {"error": "Service temporarily unavailable", "code": "SERVICE_UNAVAILABLE"}
    assert int(response["Retry-After"]) > 0


@pytest.fixture
def logged_in(auth_client: AuthClient, user: Any) -> AuthClient:
    assert auth_client.login().status_code == 200
    return auth_client


@pytest.mark.parametrize("method", ["get", "post", "delete"])
@pytest.mark.parametrize("path", routes())
def test_every_endpoint_answers_503_while_the_database_is_down(
        logged_in: AuthClient, outage: Any, settings: Any, path: str, method: str) -> None:
    settings.DUALAUTH_MAGIC_LINK_ENABLED = settings.DUALAUTH_SMS_ENABLED = True
    settings.DUALAUTH_SOCIAL_PROVIDERS = SOCIAL_PROVIDERS
    settings.DUALAUTH_SOCIAL_RETURN_URLS = SOCIAL_RETURN_URLS
    body = {**valid_body(EMAIL, PASSWORD), **({} if logged_in.is_cookie else {"refreshToken": logged_in.refresh_token})}
    with outage():
        response = getattr(logged_in.client, method)(path, body, format="json", **logged_in.headers())
    assert_outage_answer(response, path)


def assert_outage_answer(response: Any, path: str) -> None:
    """503 from every method an endpoint has (405 from the others), except without a query."""
    if response.status_code == 405 or path in NO_DATABASE:
        assert response.status_code < 500 and response["Content-Type"].startswith("application/json")
    else:
        assert_503(response)


@pytest.mark.parametrize("call", ["login", "refresh", "me", "logout", "logout_all"])
def test_the_core_endpoints_answer_503_with_retry_after(logged_in: AuthClient, outage: Any, call: str) -> None:
    with outage():
        response = getattr(logged_in, call)()
    assert_503(response)


def test_nothing_is_half_written_and_the_next_request_works(logged_in: AuthClient, outage: Any) -> None:
    before = list(AuthSession.objects.values_list("id", "generation", "refresh_digest", "revoked_at"))
    with outage():
        assert_503(logged_in.refresh())
    assert list(AuthSession.objects.values_list("id", "generation", "refresh_digest", "revoked_at")) == before
    assert logged_in.refresh().status_code == 200  # the same token still works once the database is back
    assert logged_in.me().status_code == 200


@pytest.mark.parametrize("method", ["get", "post"])
def test_a_project_view_under_drf_default_handler_answers_503_not_an_html_500(
        logged_in: AuthClient, outage: Any, method: str) -> None:
    # tests/views.py WhoAmI: DualAuthentication, DRF's default exception handler.
    with outage():
        response = getattr(logged_in, method)("/api/whoami")
    assert_503(response)
    assert logged_in.get("/api/whoami").status_code == 200


def test_the_outage_is_audit_logged_without_secrets(logged_in: AuthClient, outage: Any,
                                                     caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="django_dualauth.audit"), outage():
        assert_503(logged_in.refresh())
        assert_503(logged_in.get("/api/whoami"))
    records = [r for r in caplog.records if getattr(r, "event", None) == "auth.database.unavailable"]
    assert len(records) == 2
    assert records[0].levelno == logging.WARNING
    assert records[0].fields["error"].startswith("sqlite3.OperationalError/SQLITE_")
    text = caplog.text
    for secret in (logged_in.refresh_token, logged_in.access_token, PASSWORD, EMAIL):
        assert secret not in text


@pytest.mark.parametrize("error", [IntegrityError, DataError])
def test_bad_input_and_lost_races_are_not_turned_into_503(logged_in: AuthClient, error: type[Exception]) -> None:
    # An IntegrityError or DataError is the request's fault or a race the code must handle:
    # answering "retry later" would hide the bug, so it still reaches Django's 500 handling.
    def fail() -> None:
        raise getattr(sqlite3, error.__name__)("constraint failed")  # the driver's, wrapped by Django

    with failing(fail), pytest.raises(error):
        logged_in.refresh()


def test_a_missing_table_is_a_bug_not_an_outage(logged_in: AuthClient) -> None:
    def fail() -> None:
        connection.connection.execute("SELECT * FROM no_such_table")  # SQLITE_ERROR: retrying cannot help

    with failing(fail), pytest.raises(OperationalError):
        logged_in.refresh()


def test_database_outage_classifies_driver_codes() -> None:
    class PgError(Exception):
        def __init__(self, sqlstate: str | None) -> None:
            self.sqlstate = sqlstate

    def wrapped(cause: Exception, cls: type[Exception] = OperationalError) -> Exception:
        error = cls("x")
        error.__cause__ = cause
        return error

    assert database_outage(wrapped(PgError("57P01"))).reason.endswith("/57P01")  # admin shutdown
    assert database_outage(wrapped(PgError("40P01"))) is not None  # deadlock: retry
    assert database_outage(wrapped(PgError(None))) is not None  # connection refused: no SQLSTATE
    assert database_outage(wrapped(PgError("54000"))) is None  # program limit: the input
    assert database_outage(wrapped(PgError("23505"), IntegrityError)) is None
    assert database_outage(ValueError("x")) is None
    assert database_outage(wrapped(sqlite3.InterfaceError("bad parameter"), InterfaceError)) is None  # a bug
    assert database_outage(wrapped(PgError(None), InterfaceError)) is not None  # connection already closed


def test_under_atomic_requests_a_connection_lost_mid_request_is_still_a_503(
        auth_client: AuthClient, user: Any, tmp_path: Path) -> None:
    # ATOMIC_REQUESTS wraps the view in a transaction that Django commits when the view returns,
    # even with our 503; on a lost connection that commit fails, and the answer would be an HTML
    # 500. The handler marks the transaction for rollback, whose failure Django swallows.
    statements = []

    def lost_after_the_first_query(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        statements.append(sql)
        if len(statements) > 1:  # every later statement, COMMIT and RELEASE SAVEPOINT too
            with connection.wrap_database_errors:
                fail()
        return execute(sql, params, many, context)

    with sqlite_gone(tmp_path) as fail, \
            mock.patch.dict(connection.settings_dict, {"ATOMIC_REQUESTS": True}), \
            connection.execute_wrapper(lost_after_the_first_query):
        assert_503(auth_client.login())
    assert any(sql.startswith("RELEASE SAVEPOINT") or sql.startswith("ROLLBACK") for sql in statements[1:])


@pytest.mark.django_db(transaction=True)
def test_an_outage_while_planning_is_raised_and_not_remembered(user: Any, tmp_path: Any, settings: Any) -> None:
    """Planning the refresh's FOR UPDATE look-up opens a transaction (BEGIN on SQLite): a
    database down at that moment must answer this request (503), not leave the process on
    the ORM path for good."""
    settings.DUALAUTH_PRIVATE_SPEEDUPS = True  # a test of the seam's planning, on either run
    fresh = CompiledSelect(AuthSession, "refresh_digest", sessions_service._locked_by_digest, for_update=True)

    def begin_fails(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        if sql.upper().startswith("BEGIN"):
            with connection.wrap_database_errors:
                fail()
        return execute(sql, params, many, context)

    with sqlite_locked(tmp_path) as fail, connection.execute_wrapper(begin_fails), \
            pytest.raises(OperationalError):
        fresh.plan(("a" * 64,))
    assert fresh.plan(("a" * 64,)) is not None


def test_patch_profile_answers_503_while_the_database_is_down(logged_in: AuthClient, outage: Any) -> None:
    """The one PATCH route, which the sweep above (GET, POST, DELETE) does not reach."""
    with outage():
        response = logged_in.client.patch("/auth/profile", {"firstName": "Alice"}, format="json",
                                          **logged_in.headers())
    assert_503(response)
