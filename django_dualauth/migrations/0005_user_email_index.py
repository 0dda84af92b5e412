"""PostgreSQL: an index for the case-insensitive e-mail look-up of every password login.

``EmailBackend`` (and the magic-link, SMS and password-reset look-ups) find a user with
``email__iexact``, which PostgreSQL runs as ``UPPER("email"::text) = UPPER(%s)``. Django's user
table has no index that can answer that, so each login read the whole table: about 0.7 ms at
1,000 users, growing with every user. This adds the expression index the look-up can use, on
the table and e-mail field of ``AUTH_USER_MODEL``, built ``CONCURRENTLY`` so that a large
user table keeps taking writes while it is built. Other databases are left as they are
(docs/deployment.md).
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import migrations

INDEX_NAME = "dualauth_user_email_ci"


def _email_column(apps: Any) -> tuple[str, str] | None:
    from django.contrib.auth import get_user_model

    historical = apps.get_model(settings.AUTH_USER_MODEL)
    try:
        # EMAIL_FIELD is a class attribute of the real model; historical models do not keep it.
        field = historical._meta.get_field(get_user_model().get_email_field_name())
    except Exception:  # a user model without an e-mail field: nothing to index
        return None
    return historical._meta.db_table, field.column


def create_index(apps: Any, schema_editor: Any) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    found = _email_column(apps)
    if found is None:
        return
    table, column = found
    qn = schema_editor.quote_name
    schema_editor.execute(
        f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {qn(INDEX_NAME)} ON {qn(table)} (UPPER({qn(column)}::text))")


def drop_index(apps: Any, schema_editor: Any) -> None:
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {schema_editor.quote_name(INDEX_NAME)}")


class Migration(migrations.Migration):
    # CREATE INDEX CONCURRENTLY cannot run inside a transaction.
    atomic = False

    dependencies = [
        ("dualauth", "0004_account_tokens"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RunPython(create_index, drop_index, elidable=False),
    ]
