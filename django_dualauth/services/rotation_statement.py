"""The common refresh as one PostgreSQL statement: lock, check, spend and advance in one round trip.

A refresh in a transaction is five round trips (BEGIN, the locked SELECT, the spent-digest
INSERT, the session UPDATE, COMMIT). On PostgreSQL the case that succeeds is written as one
statement with data-modifying CTEs, so in autocommit it is one round trip and one commit:

* ``cur`` is the ORM's own locked look-up (:data:`sessions._LOCKED_BY_DIGEST`, the same SQL
  and ``FOR UPDATE OF`` the session row), its columns renamed by position;
* ``upd`` advances that session only if the row, as locked, still holds the presented digest, is
  unrevoked, unexpired (idle and absolute), of the delivery the token came through, and its
  user ``is_active``: exactly the conditions under which ``sessions._refusal`` lets a rotation
  through;
* ``ins`` records the spent digest only when ``upd`` wrote;
* the statement returns the locked row (values before the change) only when ``upd`` wrote.

Anything else returns ``None`` when the statement ran (an unknown or spent token, a refusal, a
retry inside the grace window) or :data:`NOT_RUN` when it cannot run (another database, a user
model whose ``is_active`` is not a column), and the caller runs the transaction of
:func:`sessions._rotate_locked`, which decides and records the outcome. Under
concurrency the row lock decides as before: a second statement waits for the first, then
PostgreSQL re-checks ``cur``'s WHERE against the new row version, finds the digest moved on,
and returns nothing, so the loser takes the transactional path and sees a spent token.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import BooleanField

from ..models import AuthSession, RotatedRefreshToken
from .compiled import CompiledSelect, SelectPlan

__all__ = ["RotationStatement", "NOT_RUN"]


NOT_RUN = object()
"""What :meth:`RotationStatement.run` returns when the statement does not apply here."""


class RotationStatement:
    """``run(candidates, ...)``: the locked session (as it was before the rotation) when the
    one-statement rotation wrote; ``None`` when it ran and wrote nothing (the token is not the
    current one of a session that may rotate through this delivery); :data:`NOT_RUN` when it
    cannot run here. In both latter cases the transaction decides."""

    def __init__(self, select: CompiledSelect) -> None:
        self._select = select
        self._sql: dict[tuple[str, str], str | None] = {}

    def run(self, candidates: list[str], *, new_digest: str, presented_via: str, now: datetime,
            idle_until: datetime, ip_address: str | None, user_agent: str) -> AuthSession | None | object:
        planned = self._select.plan(tuple(candidates))
        if planned is None:
            return NOT_RUN
        alias, connection, plan = planned
        if connection.vendor != "postgresql":
            return NOT_RUN
        key = (alias, plan.sql)
        if key not in self._sql:
            self._sql[key] = _statement(plan, connection.ops.quote_name)
        sql = self._sql[key]
        if sql is None:
            return NOT_RUN
        prep = _preparer(connection)
        # ``now`` fills five parameters: prepared once (a DateTimeField's preparation is most of
        # what building these parameters costs). The datetime fields prepare alike.
        at_now = prep("rotated_at", now)
        params = [
            *self._select.params(alias, connection, tuple(candidates)),
            # SET
            prep("refresh_digest", new_digest), at_now, at_now,
            prep("expires_at", idle_until), prep("ip_address", ip_address), prep("user_agent", user_agent),
            # WHERE
            at_now, at_now, prep("delivery", presented_via),
            # the spent token's rotated_at
            at_now,
        ]
        with transaction.mark_for_rollback_on_error(using=alias), connection.cursor() as cursor:
            cursor.execute(sql, params)
            row = cursor.fetchone()
        return None if row is None else self._select.instance(alias, connection, plan, row)


def _preparer(connection: Any) -> Callable[[str, Any], Any]:
    meta = AuthSession._meta

    def prep(name: str, value: Any) -> Any:
        return meta.get_field(name).get_db_prep_save(value, connection=connection)
    return prep


def _statement(plan: SelectPlan, qn: Callable[[str], str]) -> str | None:
    """The statement for ``plan`` (the compiled locked look-up), or None if it cannot be built."""
    if plan.model is not AuthSession or not plan.for_update:
        return None
    user_model = get_user_model()
    try:
        is_active = user_model._meta.get_field("is_active")
    except Exception:  # FieldDoesNotExist: is_active is a property or a class attribute
        return None
    if not isinstance(is_active, BooleanField) or not is_active.concrete:
        return None
    s = AuthSession._meta
    spent = RotatedRefreshToken._meta

    def col(name: str) -> str:
        return qn(s.get_field(name).column)

    def position(attname: str) -> str:
        return qn(f"c{plan.start + plan.init_list.index(attname)}")

    try:
        pk, old_digest, old_generation = position(s.pk.attname), position("refresh_digest"), position("generation")
    except ValueError:  # a deferred column: not the look-up this statement was written for
        return None
    table, users = qn(s.db_table), qn(user_model._meta.db_table)
    names = ", ".join(qn(f"c{i}") for i in range(len(plan.columns)))
    # Only identifiers quoted by the backend and the ORM's own compiled SQL; values are parameters.
    return (
        f'WITH "cur" ({names}) AS MATERIALIZED ({plan.sql}), '  # noqa: S608
        f'"upd" AS (UPDATE {table} SET {col("refresh_digest")} = %s, '
        f'{col("generation")} = {table}.{col("generation")} + 1, '
        f'{col("rotated_at")} = %s, {col("last_used_at")} = %s, '
        f'{col("expires_at")} = LEAST(%s, {table}.{col("absolute_expires_at")}), '
        f'{col("ip_address")} = %s, {col("user_agent")} = %s '
        f'WHERE {table}.{qn(s.pk.column)} = (SELECT {pk} FROM "cur") '
        # Re-checked on the row version the UPDATE writes: a second writer that got past the
        # lock (it should not) still finds the digest moved on and writes nothing.
        f'AND {table}.{col("refresh_digest")} = (SELECT {old_digest} FROM "cur") '
        f'AND {table}.{col("revoked_at")} IS NULL '
        f'AND {table}.{col("expires_at")} > %s AND {table}.{col("absolute_expires_at")} > %s '
        f'AND {table}.{col("delivery")} = %s '
        f'AND EXISTS (SELECT 1 FROM {users} WHERE {users}.{qn(user_model._meta.pk.column)} = '
        f'{table}.{col("user")} AND {users}.{qn(is_active.column)}) '
        f'RETURNING {table}.{qn(s.pk.column)}), '
        f'"ins" AS (INSERT INTO {qn(spent.db_table)} '
        f'({qn(spent.get_field("session").column)}, {qn(spent.get_field("digest").column)}, '
        f'{qn(spent.get_field("generation").column)}, {qn(spent.get_field("rotated_at").column)}) '
        f'SELECT {pk}, {old_digest}, {old_generation}, %s FROM "cur" WHERE EXISTS (SELECT 1 FROM "upd")) '
        f'SELECT "cur".* FROM "cur" WHERE EXISTS (SELECT 1 FROM "upd")'
    )
