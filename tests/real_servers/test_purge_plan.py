"""``dualauth_purge`` on the real PostgreSQL server (issue 15, item 6): every statement it runs is
planned on an index, never as a scan of a whole table, so each batch stays short however large
the tables are. The walk is the primary key's, so the purge needs no index that a rotation would
have to write (the three indexes of 0006 stay: ``test_session_indexes.py``)."""

from __future__ import annotations

from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from django_dualauth.models import AuthSession, RotatedRefreshToken

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]

SESSIONS = 20_000  # a tenth purgeable, three spent tokens each


def _fill(user: Any) -> None:
    s, r = AuthSession._meta.db_table, RotatedRefreshToken._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(f"""
            INSERT INTO {s} (id, user_id, delivery, auth_methods, refresh_digest, generation, created_at,
                             last_used_at, expires_at, absolute_expires_at, user_agent, revoked_reason)
            SELECT gen_random_uuid(), %s, 'bearer', '["pwd"]', md5('s' || g) || md5('t' || g), 3,
                   now() - interval '10 days', now() - interval '1 hour',
                   now() + CASE WHEN g %% 10 = 0 THEN interval '-1 day' ELSE interval '6 days' END,
                   now() + interval '20 days', '', ''
            FROM generate_series(1, %s) g""", [user.pk, SESSIONS])  # noqa: S608 - table names only
        cursor.execute(f"""
            INSERT INTO {r} (session_id, digest, generation, rotated_at)
            SELECT id, md5('a' || refresh_digest || n) || md5('b' || refresh_digest || n), n, now()
            FROM {s} CROSS JOIN generate_series(0, 2) n""")  # noqa: S608
        cursor.execute(f"ANALYZE {s}")
        cursor.execute(f"ANALYZE {r}")


def _plan(sql: str) -> str:
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN {sql}")
        return "\n".join(row[0] for row in cursor.fetchall())


def test_every_purge_statement_is_planned_on_an_index(user: Any) -> None:
    _fill(user)
    with CaptureQueriesContext(connection) as ctx:
        call_command("dualauth_purge", "--sleep", "0", stdout=StringIO())
    assert AuthSession.objects.count() == SESSIONS - SESSIONS // 10
    assert RotatedRefreshToken.objects.count() == 3 * (SESSIONS - SESSIONS // 10)

    statements = [q["sql"] for q in ctx.captured_queries
                  if "dualauth_authsession" in q["sql"] or "dualauth_rotatedrefreshtoken" in q["sql"]]
    for sql in statements:
        plan = _plan(sql)
        assert "Seq Scan" not in plan, (sql[:200], plan)
    pages = [sql for sql in statements if sql.startswith('SELECT "dualauth_authsession"."id"')]
    assert len(pages) == SESSIONS // 1000 + 1  # pages of 1000; the last one is empty
    assert "dualauth_authsession_pkey" in _plan(pages[1])  # the keyset walk is the primary key's
    spent = next(sql for sql in statements if sql.startswith('SELECT "dualauth_rotatedrefreshtoken"."id"'))
    assert "session_id" in _plan(spent)  # through the foreign key's index

