"""Migration 0005 on the real PostgreSQL server: the case-insensitive e-mail look-up of every
login is answered by an index, not by reading the whole user table."""

from __future__ import annotations

import importlib
from typing import Any

import pytest
from django.apps import apps as global_apps
from django.contrib.auth import get_user_model
from django.db import connection, transaction

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

migration = importlib.import_module("django_dualauth.migrations.0005_user_email_index")


def _index_names() -> set[str]:
    table = get_user_model()._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute("SELECT indexname FROM pg_indexes WHERE tablename = %s", [table])
        return {row[0] for row in cursor.fetchall()}


def _login_lookup_plan(email: str) -> str:
    """The plan of EmailBackend's query, with sequential scans priced out (a test table is tiny)."""
    model = get_user_model()
    queryset = model._default_manager.select_related("dualauth_state").filter(
        **{f"{model.get_email_field_name()}__iexact": email})
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        return queryset.explain()


def test_the_login_lookup_uses_the_expression_index(user: Any) -> None:
    assert migration.INDEX_NAME in _index_names()
    plan = _login_lookup_plan("ALICE@example.COM")
    assert migration.INDEX_NAME in plan, plan


def test_the_migration_is_reversible(user: Any) -> None:
    with connection.schema_editor(atomic=False) as editor:
        migration.drop_index(global_apps, editor)
    try:
        assert migration.INDEX_NAME not in _index_names()
        assert migration.INDEX_NAME not in _login_lookup_plan(user.email)
    finally:
        with connection.schema_editor(atomic=False) as editor:
            migration.create_index(global_apps, editor)
    assert migration.INDEX_NAME in _index_names()
