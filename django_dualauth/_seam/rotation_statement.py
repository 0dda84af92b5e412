"""The common refresh as one PostgreSQL statement: lock, check, spend and advance in one round trip.

A refresh in a transaction is five round trips (BEGIN, the locked SELECT, the spent-digest
INSERT, the session UPDATE, COMMIT). On PostgreSQL the case that succeeds is written as one
statement with data-modifying CTEs, so in autocommit it is one round trip and one commit:

* ``cur`` is the ORM's own locked look-up (:data:`sessions._LOCKED_BY_DIGEST`, the same SQL
  and ``FOR UPDATE OF`` the session row), its columns renamed by position;
* ``upd`` advances that session only if the row, as locked, still holds the presented digest and
  keeps every rule of the table it is given (``services.rotation_rules.ROTATION_RULES``: unrevoked,
  unexpired, idle and absolute, of the delivery the token came through, its user active), each
  written from that table, the one the transaction checks too; a rule it cannot write, and it
  does not run;
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
from enum import Enum
from typing import Any, Final

from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import BooleanField, Field

from ..conf import snapshot
from ..models import AuthSession, RotatedRefreshToken
from ..services.rotation_rules import AFTER_NOW, IS_DELIVERY, IS_NULL, IS_TRUE, Rule
from ..types import Delivery
from .compiled import CompiledSelect, SelectPlan, column, concrete_field

__all__ = ["RotationStatement", "NOT_RUN", "NotRun"]


class NotRun(Enum):
    NOT_RUN = "not run"


NOT_RUN: Final = NotRun.NOT_RUN
"""What :meth:`RotationStatement.run` returns when the statement does not apply here."""


class RotationStatement:
    """``run(candidates, ...)``: the locked session (as it was before the rotation) when the
    one-statement rotation wrote; ``None`` when it ran and wrote nothing (the token is not the
    current one of a session that may rotate through this delivery); :data:`NOT_RUN` when it
    cannot run here. In both latter cases the transaction decides."""

    def __init__(self, select: CompiledSelect[AuthSession], rules: tuple[Rule, ...]) -> None:
        self._select = select
        self._rules = rules
        self._sql: dict[tuple[str, str], tuple[str, list[str]] | None] = {}

    def run(self, candidates: list[str], *, new_digest: str, presented_via: Delivery, now: datetime,
            idle_until: datetime, ip_address: str | None, user_agent: str) -> AuthSession | None | NotRun:
        planned = self._select.plan(tuple(candidates)) if snapshot().private_speedups else None
        if planned is None:
            return NOT_RUN
        alias, connection, plan = planned
        if connection.vendor != "postgresql":
            return NOT_RUN
        key = (alias, plan.sql)
        if key not in self._sql:
            self._sql[key] = _statement(plan, connection.ops.quote_name, self._rules)
        built = self._sql[key]
        if built is None:
            return NOT_RUN
        sql, rule_params = built
        prep = _preparer(connection)
        # ``now`` fills five parameters: prepared once (a DateTimeField's preparation is most of
        # what building these parameters costs). The datetime fields prepare alike.
        at_now = prep("rotated_at", now)
        params = [
            *self._select.params(alias, connection, tuple(candidates)),
            # SET
            prep("refresh_digest", new_digest), at_now, at_now,
            prep("expires_at", idle_until), prep("ip_address", ip_address), prep("user_agent", user_agent),
            # WHERE: the rules' parameters, in the order they were written
            *(at_now if kind == AFTER_NOW else prep("delivery", presented_via) for kind in rule_params),
            # the spent token's rotated_at
            at_now,
        ]
        with transaction.mark_for_rollback_on_error(using=alias), connection.cursor() as cursor:
            cursor.execute(sql, params)
            row = cursor.fetchone()
        return None if row is None else self._select.instance(alias, connection, plan, row)


def _preparer(connection: Any) -> Callable[[str, Any], Any]:
    def prep(name: str, value: Any) -> Any:
        return concrete_field(AuthSession, name).get_db_prep_save(value, connection=connection)
    return prep


def _condition(rule: Rule, qn: Callable[[str], str], user_model: Any, table: str,
               col: Callable[[str], str]) -> str | None:
    """``rule`` as SQL on the session row (``table``), with one ``%s`` for AFTER_NOW (now) and
    IS_DELIVERY (the delivery the token came through); None if it cannot be written."""
    on_user = rule.field.startswith("user__")
    try:
        field = (user_model._meta.get_field(rule.field.removeprefix("user__")) if on_user
                 else AuthSession._meta.get_field(rule.field))
    except Exception:  # FieldDoesNotExist: e.g. is_active is a property or a class attribute
        return None
    if not isinstance(field, Field) or not field.concrete or field.column is None:
        return None
    users = qn(user_model._meta.db_table)
    target = f"{users if on_user else table}.{qn(field.column)}"
    if rule.holds == IS_NULL:
        condition = f"{target} IS NULL"
    elif rule.holds in (AFTER_NOW, IS_DELIVERY):
        condition = f"{target} {'>' if rule.holds == AFTER_NOW else '='} %s"
    elif rule.holds == IS_TRUE and isinstance(field, BooleanField):
        condition = target
    else:
        return None
    if not on_user:
        return condition
    return (f"EXISTS (SELECT 1 FROM {users} WHERE {users}.{qn(column(user_model, 'pk'))} = "  # noqa: S608
            f"{table}.{col('user')} AND {condition})")


def _statement(plan: SelectPlan, qn: Callable[[str], str],
               rules: tuple[Rule, ...]) -> tuple[str, list[str]] | None:
    """The statement for ``plan`` (the compiled locked look-up) and the kinds of its rules'
    parameters (AFTER_NOW or IS_DELIVERY, in order), or None if it cannot be built."""
    if plan.model is not AuthSession or not plan.for_update:
        return None
    user_model = get_user_model()
    table = qn(AuthSession._meta.db_table)

    def spent(name: str) -> str:
        return qn(column(RotatedRefreshToken, name))

    def col(name: str) -> str:
        return qn(column(AuthSession, name))

    def position(attname: str) -> str:
        return qn(f"c{plan.start + plan.init_list.index(attname)}")

    try:
        pk, old_digest, old_generation = (position(concrete_field(AuthSession, "pk").attname),
                                          position("refresh_digest"), position("generation"))
    except ValueError:  # a deferred column: not the look-up this statement was written for
        return None
    conditions, kinds = [], []
    for rule in rules:
        written = _condition(rule, qn, user_model, table, col)
        if written is None:
            return None  # a rule this statement cannot write: the transaction decides
        conditions.append(f"AND {written} ")
        if rule.holds in (AFTER_NOW, IS_DELIVERY):
            kinds.append(rule.holds)
    names = ", ".join(qn(f"c{i}") for i in range(len(plan.columns)))
    # Only identifiers quoted by the backend and the ORM's own compiled SQL; values are parameters.
    sql = (
        f'WITH "cur" ({names}) AS MATERIALIZED ({plan.sql}), '  # noqa: S608
        f'"upd" AS (UPDATE {table} SET {col("refresh_digest")} = %s, '
        f'{col("generation")} = {table}.{col("generation")} + 1, '
        f'{col("rotated_at")} = %s, {col("last_used_at")} = %s, '
        f'{col("expires_at")} = LEAST(%s, {table}.{col("absolute_expires_at")}), '
        f'{col("ip_address")} = %s, {col("user_agent")} = %s '
        f'WHERE {table}.{col("pk")} = (SELECT {pk} FROM "cur") '
        # Re-checked on the row version the UPDATE writes: a second writer that got past the
        # lock (it should not) still finds the digest moved on and writes nothing.
        f'AND {table}.{col("refresh_digest")} = (SELECT {old_digest} FROM "cur") '
        + "".join(conditions) +
        f'RETURNING {table}.{col("pk")}), '  # noqa: S608
        f'"ins" AS (INSERT INTO {qn(RotatedRefreshToken._meta.db_table)} '
        f'({spent("session")}, {spent("digest")}, {spent("generation")}, {spent("rotated_at")}) '
        f'SELECT {pk}, {old_digest}, {old_generation}, %s FROM "cur" WHERE EXISTS (SELECT 1 FROM "upd")) '
        f'SELECT "cur".* FROM "cur" WHERE EXISTS (SELECT 1 FROM "upd")'
    )
    return sql, kinds
