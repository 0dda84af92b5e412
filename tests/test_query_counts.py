"""SQL budgets of the hot paths, under both deliveries (docs/architecture.md, SES-01's
"stateful check at the cost of one query").

* ``GET /api/whoami`` (DualAuthentication + IsAuthenticated): exactly 1 query with
  ``REVOCATION_CHECK = "database"`` (session, user and account state in one join), 0 with
  ``"cache"``; a refused (revoked) token costs the same.
* ``POST /auth/refresh``: at most 6 statements *including* the transaction's BEGIN and COMMIT.
  Measured on SQLite: 5 = BEGIN, SELECT … FOR UPDATE (the clause is dropped on SQLite), INSERT
  of the spent digest, UPDATE of the session, COMMIT. The budget test runs with
  ``transaction=True`` so that ``transaction.atomic`` opens a real transaction: Django 5.x
  captures SQLite's ``BEGIN`` (sent through the cursor) and ``COMMIT`` (logged by
  ``debug_transaction``). Inside pytest-django's default per-test transaction the same atomic
  block is a SAVEPOINT / RELEASE SAVEPOINT pair instead, which is also captured; that variant
  is checked too. In both, the data statements (everything but transaction control) are <= 4.
  On PostgreSQL the same rotation is 1 statement in all (_seam/rotation_statement.py).
* ``POST /auth/login``: at most 5 queries beyond what ``django.contrib.auth.authenticate``
  costs for the same credentials, measured in the same test (measured: authenticate 1, the user
  with its account state joined; login 3: that look-up, the session INSERT and Django's
  ``last_login`` UPDATE).
"""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth import authenticate
from django.db import connection
from django.test.utils import CaptureQueriesContext

from django_dualauth.services import revoke_all_sessions

pytestmark = pytest.mark.both_backends

_TRANSACTION_CONTROL = ("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE SAVEPOINT",
                        "ROLLBACK TO SAVEPOINT")


def _is_transaction_control(sql: str) -> bool:
    return sql.strip().upper().startswith(_TRANSACTION_CONTROL)


def _data_statements(captured: Any) -> list[str]:
    return [q["sql"] for q in captured.captured_queries if not _is_transaction_control(q["sql"])]


@pytest.fixture
def logged_in(auth_client: Any, user: Any) -> Any:
    response = auth_client.login()
    assert response.status_code == 200, response.content
    return auth_client


# --- per-request verification -------------------------------------------------------------

@pytest.mark.django_db
def test_whoami_costs_exactly_one_query_in_database_mode(logged_in, django_assert_num_queries, settings):
    settings.DUALAUTH_REVOCATION_CHECK = "database"
    with django_assert_num_queries(1):
        response = logged_in.get("/api/whoami")
    assert response.status_code == 200, response.content


@pytest.mark.django_db
def test_whoami_costs_no_query_in_cache_mode(logged_in, django_assert_num_queries, settings, user):
    settings.DUALAUTH_REVOCATION_CHECK = "cache"
    with django_assert_num_queries(0):
        response = logged_in.get("/api/whoami")
    assert response.status_code == 200, response.content
    assert response.json()["id"] == str(user.pk)


@pytest.mark.django_db
@pytest.mark.parametrize("mode,queries", [("database", 1), ("cache", 0)])
def test_refusing_a_revoked_session_costs_the_same(logged_in, django_assert_num_queries, settings, user,
                                                   mode, queries):
    settings.DUALAUTH_REVOCATION_CHECK = mode
    revoke_all_sessions(user, reason="admin")
    with django_assert_num_queries(queries):
        response = logged_in.get("/api/whoami")
    assert response.status_code == 401
    assert response.json()["code"] == "SESSION_REVOKED"


# --- refresh ----------------------------------------------------------------------------------

@pytest.mark.django_db(transaction=True)
def test_refresh_is_at_most_six_statements_including_begin_and_commit(logged_in,
                                                                      django_assert_max_num_queries):
    with django_assert_max_num_queries(6) as captured:
        response = logged_in.refresh()
    assert response.status_code == 200, response.content
    statements = [q["sql"].strip().upper() for q in captured.captured_queries]
    if connection.vendor == "postgresql":
        # One autocommitted statement: lock, checks, spent digest and advance (rotation_statement).
        assert len(statements) == 1 and statements[0].startswith("WITH"), statements
        return
    # The budget really includes the transaction: both ends are captured on this backend.
    assert statements[0].startswith("BEGIN") and statements[-1] == "COMMIT", statements
    assert len(_data_statements(captured)) <= 4


@pytest.mark.django_db
def test_refresh_budget_inside_an_outer_transaction(logged_in, django_assert_max_num_queries):
    """Under the per-test transaction the atomic block is a savepoint pair; same budget."""
    with django_assert_max_num_queries(6) as captured:
        response = logged_in.refresh()
    assert response.status_code == 200, response.content
    assert len(_data_statements(captured)) <= (1 if connection.vendor == "postgresql" else 4)


# --- login ------------------------------------------------------------------------------------

@pytest.mark.django_db
def test_login_costs_at_most_five_queries_beyond_authenticate(auth_client, user, password,
                                                              django_assert_max_num_queries):
    with CaptureQueriesContext(connection) as baseline:
        assert authenticate(None, email=user.email, password=password) is not None
    assert len(baseline) >= 1
    with django_assert_max_num_queries(len(baseline) + 5):
        response = auth_client.login()
    assert response.status_code == 200, response.content


@pytest.mark.django_db
def test_login_without_2fa_is_the_user_lookup_plus_two_writes(auth_client, user, password,
                                                               django_assert_num_queries):
    """The account state comes with the user (one join), so a login is the look-up, the
    session INSERT and Django's last_login UPDATE."""
    with CaptureQueriesContext(connection) as baseline:
        assert authenticate(None, email=user.email, password=password) is not None
    assert len(baseline) == 1
    with django_assert_num_queries(3) as captured:
        response = auth_client.login()
    assert response.status_code == 200, response.content
    sqls = [q["sql"].upper() for q in captured.captured_queries]
    assert "DUALAUTH_ACCOUNTSTATE" in sqls[0] and sqls[1].startswith("INSERT") and sqls[2].startswith("UPDATE")


@pytest.mark.django_db
@pytest.mark.parametrize("mode", ["database", "cache"])
def test_a_view_that_uses_the_user_object_costs_one_query_in_either_mode(logged_in, django_assert_num_queries,
                                                                          settings, user, mode):
    """``GET /auth/me`` reads the profile and the account state: in cache mode the
    ``TokenUser`` loads them with one query (user and state joined), as the database check's
    one query does."""
    settings.DUALAUTH_REVOCATION_CHECK = mode
    with django_assert_num_queries(1) as captured:
        response = logged_in.get("/auth/me")
    assert response.status_code == 200, response.content
    assert response.json()["email"] == user.email
    assert "DUALAUTH_ACCOUNTSTATE" in captured.captured_queries[0]["sql"].upper()
