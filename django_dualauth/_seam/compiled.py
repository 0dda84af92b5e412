"""Hot-path statements that the ORM compiles once per database and shape, then re-runs with new values.

The statements of the two hottest paths (the session look-up of every authenticated request; the
locked look-up, the spent-digest INSERT and the session UPDATE of every refresh) are the same SQL
each time with different parameters.
Django builds and compiles a queryset anew on every evaluation; for the three-table
``select_related`` join this costs several times what the database spends answering it
(measured in docs/performance.md). :class:`CompiledSelect` keeps the ORM as the only author of
the SQL and of the instances (:class:`CompiledUpdate` and :class:`CompiledInsert` do the same
for one-row writes):

* the queryset is built and compiled by the ORM on first use, per database alias and number of
  parameters; the compiled parameters must be exactly the given values as the field prepares them
  (``get_db_prep_value``), otherwise that shape is never reused and the queryset runs every time;
* later calls prepare the new values the same way and execute the stored SQL through
  ``connection.cursor()`` (so query logging, ``execute_wrapper`` and test query counting see it);
* rows go through the compiler's own converters and are turned into instances by
  ``Model.from_db`` and Django's ``select_related`` populators: what ``QuerySet.__iter__`` does.

Nothing here holds a connection: the converters are built per connection and kept on it.

With ``DUALAUTH_PRIVATE_SPEEDUPS`` off every statement runs as the ORM call it stands for (the
reference path: the queryset, ``QuerySet.update()``, ``bulk_create()``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from django.db import DatabaseError, connections, router, transaction
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import Field, Model, QuerySet, sql
from django.db.models.manager import BaseManager
from django.db.models.query import get_related_populators
from django.db.transaction import TransactionManagementError
from django.utils.inspect import func_supports_parameter

from ..conf import snapshot

logger = logging.getLogger("django_dualauth")

M = TypeVar("M", bound=Model)

__all__ = ["CompiledSelect", "CompiledUpdate", "CompiledInsert", "SelectPlan", "concrete_field", "column",
           "plain_default_manager"]


def plain_default_manager(model: type[Model]) -> bool:
    """Whether ``model._default_manager`` builds its queryset the stock way. A manager that
    overrides ``get_queryset`` may return a different queryset from one call to the next, so a
    statement compiled from one of them must not stand for the others."""
    return type(model._default_manager).get_queryset is BaseManager.get_queryset


def concrete_field(model: type[Model], name: str) -> Field[Any, Any]:
    """``model``'s field ``name`` (``"pk"``: its primary key), which must be a column of its table."""
    field = model._meta.pk if name == "pk" else model._meta.get_field(name)
    if not isinstance(field, Field) or field.column is None:
        raise TypeError(f"{model.__name__}.{name} is not a column")
    return field


def column(model: type[Model], name: str) -> str:
    """The column name of ``model``'s field ``name`` (unquoted)."""
    return str(concrete_field(model, name).column)


def _cached_plan(plans: dict[Hashable, Any], key: Hashable, model: type[Model], compile_plan: Callable[[], Any]) -> Any:
    """The plan stored under ``key``, compiling it on first use. ``None`` means "use the ORM":
    the shape cannot be reused, or a private ORM API this module relies on has changed."""
    try:
        return plans[key]
    except KeyError:
        pass
    try:
        plan = compile_plan()
    except DatabaseError:
        raise  # the database is down (a FOR UPDATE plan opens a transaction): plan again next time
    except Exception:  # the private ORM APIs used here vary between Django releases
        logger.warning("dualauth: cannot compile a %s statement; using the ORM", model.__name__, exc_info=True)
        plan = None
    plans[key] = plan
    return plan


def _same_params(compiled: Any, expected: list[Any]) -> bool:
    """Whether the ORM compiled exactly the prepared values. Adapter wrappers such as psycopg's
    ``Jsonb`` compare by identity, so two of the same type also match when their attributes do."""
    compiled = list(compiled)
    return len(compiled) == len(expected) and all(
        a == b or (type(a) is type(b) and _attributes(a) == _attributes(b) != ((), None))
        for a, b in zip(compiled, expected, strict=True))


def _attributes(value: Any) -> tuple[tuple[Any, ...], dict[str, Any] | None]:
    names: list[str] = []
    for cls in type(value).__mro__:
        slots = getattr(cls, "__slots__", ())
        names.extend((slots,) if isinstance(slots, str) else slots)
    return tuple(getattr(value, n, None) for n in names), getattr(value, "__dict__", None)


@dataclass(frozen=True)
class SelectPlan:
    query: sql.Query  # the compiled query, to make a compiler bound to the caller's connection
    sql: str
    columns: list[Any]  # the selected expressions, in row order (for the converters)
    model: type[Model]
    init_list: list[str]
    start: int
    end: int
    populators: list[Any]
    for_update: bool
    from_db_kwargs: dict[str, Any]  # Django 6.1+: the queryset's fetch mode


class CompiledSelect(Generic[M]):
    """``first(*values)``: the first instance of ``build(*values)``, or None; ``all(*values)``:
    every instance of it.

    ``build`` must return a sliced queryset of ``model`` whose only parameters are ``values``,
    each compared with ``field`` by ``lookup`` (``filter(pk=v)``, ``filter(field__in=values)``,
    ``filter(field__iexact=v)``); anything the plan cannot reproduce exactly is left to the
    queryset.
    """

    def __init__(self, model: type[M], field: str, build: Callable[..., QuerySet[M]], *,
                 for_update: bool = False, lookup: str = "exact") -> None:
        if lookup not in ("exact", "in", "iexact"):
            raise ValueError(f"unsupported lookup: {lookup}")
        self._model = model
        self._field_name = field
        self._build = build
        self._for_update = for_update
        self._lookup = lookup
        self._plans: dict[Hashable, SelectPlan | None] = {}

    def first(self, *values: Any) -> M | None:
        planned = self.plan(values)
        if planned is None:
            return self._run_queryset(values)
        alias, connection, plan = planned
        with self._cursor(alias, connection, plan, values) as cursor:
            row = cursor.fetchone()
        return None if row is None else self.instance(alias, connection, plan, row)

    def all(self, *values: Any) -> list[M]:
        planned = self.plan(values)
        if planned is None:
            return list(self._build(*values))
        alias, connection, plan = planned
        with self._cursor(alias, connection, plan, values) as cursor:
            rows = cursor.fetchall()
        return [self.instance(alias, connection, plan, row) for row in rows]

    @contextmanager
    def _cursor(self, alias: str, connection: BaseDatabaseWrapper, plan: SelectPlan,
                values: tuple[Any, ...]) -> Iterator[Any]:
        if plan.for_update and connection.get_autocommit() and connection.features.supports_transactions:
            # The ORM refuses this in as_sql(); keep the same guard now that as_sql() is skipped.
            raise TransactionManagementError("select_for_update cannot be used outside of a transaction.")
        with connection.cursor() as cursor:
            cursor.execute(plan.sql, self.params(alias, connection, values))
            yield cursor

    def plan(self, values: tuple[Any, ...]) -> tuple[str, BaseDatabaseWrapper, SelectPlan] | None:
        """(alias, connection, plan) for these values, or None when only the queryset can run them
        (or must: ``DUALAUTH_PRIVATE_SPEEDUPS`` off runs the queryset, the reference)."""
        if not snapshot().private_speedups:
            return None
        if any(v is None for v in values) or len(set(values)) != len(values):
            # NULL changes the SQL (IS NULL) and IN drops duplicates: not the shape compiled.
            return None
        alias = (router.db_for_write(self._model) if self._for_update
                 else router.db_for_read(self._model))
        connection = connections[alias]
        key = (alias, connection.vendor, len(values))
        plan = _cached_plan(self._plans, key, self._model, lambda: self._compile(alias, connection, values))
        return None if plan is None else (alias, connection, plan)

    def params(self, alias: str, connection: BaseDatabaseWrapper, values: tuple[Any, ...]) -> list[Any]:
        """The statement's parameters: ``values`` as the field prepares them, and as the lookup
        then prepares its right-hand side."""
        field = self._field(alias)
        params = [field.get_db_prep_value(v, connection, prepared=False) for v in values]
        if self._lookup == "iexact":
            # What IExact.process_rhs does to its parameter on every query: on SQLite (a LIKE)
            # it escapes %, _ and \, which must not become wildcards in a reused statement.
            params = [connection.ops.prep_for_iexact_query(p) for p in params]
        return params

    @staticmethod
    def instance(alias: str, connection: BaseDatabaseWrapper, plan: SelectPlan, row: tuple[Any, ...]) -> Any:
        """The instance (with its ``select_related`` objects) of one row in the plan's column order:
        of the plan's model, which is the model the statement was compiled for."""
        # The converters are bound to the connection's ``ops``, so they are kept on the connection
        # (per thread, gone with it); building them walks every selected column, which cost more
        # than the rest of this method together.
        memo = connection.__dict__.setdefault("_dualauth_converters", {})
        try:
            compiler, converters = memo[plan.sql]
        except KeyError:
            compiler = plan.query.get_compiler(connection=connection)
            compiler, converters = memo[plan.sql] = (compiler, compiler.get_converters(plan.columns))
        if converters:
            row = next(compiler.apply_converters([row], converters))
        obj = plan.model.from_db(alias, plan.init_list, row[plan.start:plan.end], **plan.from_db_kwargs)
        for populator in plan.populators:
            populator.populate(row, obj)
        return obj

    def _field(self, alias: str) -> Field[Any, Any]:
        return concrete_field(self._model, self._field_name)

    def _run_queryset(self, values: tuple[Any, ...]) -> M | None:
        return next(iter(self._build(*values)), None)

    def _compile(self, alias: str, connection: BaseDatabaseWrapper, values: tuple[Any, ...]) -> SelectPlan | None:
        queryset = self._build(*values)
        if (queryset.db != alias
                or queryset._known_related_objects  # type: ignore[attr-defined]  # private: not in the stubs
                or queryset._prefetch_related_lookups  # type: ignore[attr-defined]  # private: not in the stubs
                or bool(queryset.query.select_for_update) != self._for_update):
            return None
        compiler = queryset.query.get_compiler(using=alias)
        if self._for_update and connection.get_autocommit():
            # as_sql() refuses FOR UPDATE outside a transaction; compiling executes nothing.
            with transaction.atomic(using=alias):
                sql, params = compiler.as_sql()
        else:
            sql, params = compiler.as_sql()
        expected = self.params(alias, connection, values)
        if (not sql or not _same_params(params, expected) or compiler.has_extra_select
                or compiler.annotation_col_map or compiler.klass_info is None):
            return None
        select, klass_info = compiler.select, compiler.klass_info
        # Django 6.1 threads a fetch mode through instance creation; older versions have none.
        fetch_mode = getattr(queryset, "_fetch_mode", None)
        mode_args = [] if fetch_mode is None else [fetch_mode]
        from_db_kwargs = ({"fetch_mode": fetch_mode} if fetch_mode is not None
                          and func_supports_parameter(klass_info["model"].from_db, "fetch_mode") else {})
        fields = klass_info["select_fields"]
        start, end = fields[0], fields[-1] + 1
        return SelectPlan(
            query=queryset.query,
            sql=sql,
            columns=[s[0] for s in select[:compiler.col_count]],
            model=klass_info["model"],
            init_list=[s[0].target.attname for s in select[start:end]],
            start=start,
            end=end,
            populators=get_related_populators(klass_info, select, alias, *mode_args),
            for_update=bool(queryset.query.select_for_update),
            from_db_kwargs=from_db_kwargs,
        )


class CompiledUpdate:
    """``execute(pk, *values)``: ``model._base_manager.filter(pk=pk).update(**dict(zip(fields, values)))``.

    No model signals, as with ``QuerySet.update()``. Returns the number of rows updated.
    """

    def __init__(self, model: type[Model], fields: tuple[str, ...]) -> None:
        self._model = model
        self._names = fields
        self._fields = [concrete_field(model, name) for name in fields]
        # A None value is written as an inline "= NULL", so the SQL depends on which values are None.
        self._plans: dict[Hashable, str | None] = {}

    def execute(self, pk: Any, *values: Any) -> int:
        alias = router.db_for_write(self._model)
        connection = connections[alias]
        key = (alias, connection.vendor, tuple(v is None for v in values))
        plan = (_cached_plan(self._plans, key, self._model, lambda: self._compile(alias, connection, pk, values))
                if snapshot().private_speedups else None)
        if plan is None:
            return self._queryset(alias, pk).update(**dict(zip(self._names, values, strict=True)))
        params = [f.get_db_prep_save(v, connection=connection)
                  for f, v in zip(self._fields, values, strict=True) if v is not None]
        params.append(self._model._meta.pk.get_db_prep_value(pk, connection, prepared=False))
        with transaction.mark_for_rollback_on_error(using=alias), connection.cursor() as cursor:
            cursor.execute(plan, params)
            return int(cursor.rowcount)

    def _queryset(self, alias: str, pk: Any) -> QuerySet[Any]:
        return self._model._base_manager.using(alias).filter(pk=pk)

    def _compile(self, alias: str, connection: BaseDatabaseWrapper, pk: Any, values: tuple[Any, ...]) -> str | None:
        query = self._queryset(alias, pk).query.chain(sql.UpdateQuery)
        assert isinstance(query, sql.UpdateQuery)  # what chain() was asked for; the stubs say Query
        query.add_update_values(dict(zip(self._names, values, strict=True)))
        sql_text, params = query.get_compiler(using=alias).as_sql()
        expected = [f.get_db_prep_save(v, connection=connection)
                    for f, v in zip(self._fields, values, strict=True) if v is not None]
        expected.append(self._model._meta.pk.get_db_prep_value(pk, connection, prepared=False))
        related = query.related_updates  # type: ignore[attr-defined]  # not in the stubs
        if not sql_text or related or not _same_params(params, expected):
            return None
        return str(sql_text)


class CompiledInsert:
    """``execute(*values)``: INSERT one ``model`` row with ``fields`` (attnames) set to ``values``.

    What ``_base_manager.bulk_create([model(**values)])`` writes, without reading anything back
    (no RETURNING: the new row's primary key is not needed) and without model signals.
    """

    def __init__(self, model: type[Model], fields: tuple[str, ...]) -> None:
        self._model = model
        self._names = fields
        self._fields = [concrete_field(model, name) for name in fields]
        self._plans: dict[Hashable, str | None] = {}

    def execute(self, *values: Any) -> str:
        """Insert the row; returns the alias of the database it was written to."""
        alias = router.db_for_write(self._model)
        connection = connections[alias]
        key = (alias, connection.vendor)
        plan = (_cached_plan(self._plans, key, self._model, lambda: self._compile(alias, connection, values))
                if snapshot().private_speedups else None)
        if plan is None:
            self._model._base_manager.using(alias).bulk_create([self._instance(values)])
            return str(alias)
        params = [f.get_db_prep_save(v, connection=connection) for f, v in zip(self._fields, values, strict=True)]
        with transaction.mark_for_rollback_on_error(using=alias), connection.cursor() as cursor:
            cursor.execute(plan, params)
        return str(alias)

    def save(self, instance: Model) -> None:
        """INSERT the unsaved ``instance`` (its ``fields``), then mark it saved in that database,
        as ``Model.save()`` would."""
        alias = self.execute(*(getattr(instance, name) for name in self._names))
        instance._state.adding, instance._state.db = False, alias

    def _instance(self, values: tuple[Any, ...]) -> Model:
        return self._model(**dict(zip(self._names, values, strict=True)))

    def _compile(self, alias: str, connection: BaseDatabaseWrapper, values: tuple[Any, ...]) -> str | None:
        query = sql.InsertQuery(self._model)
        query.insert_values(self._fields, [self._instance(values)])
        statements = query.get_compiler(using=alias).as_sql()
        expected = [f.get_db_prep_save(v, connection=connection) for f, v in zip(self._fields, values, strict=True)]
        # pre_save() (auto_now, ...) or a placeholder that is not one plain parameter per value
        # would show up here as a difference.
        if len(statements) != 1 or not _same_params(statements[0][1], expected):
            return None
        return str(statements[0][0])
