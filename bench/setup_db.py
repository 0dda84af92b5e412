"""Database and cache preparation for a bench process (Django must be configured)."""

from __future__ import annotations

import os

import django
from django.conf import settings

from .contenders import PASSWORD, user_email

N_USERS = 1000


def ensure_postgres_database() -> None:
    import psycopg

    name = os.environ.get("BENCH_PG_NAME", "dualauth_bench")
    with psycopg.connect("host=127.0.0.1 port=5432 user=postgres dbname=postgres", autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')


def prepare(fresh: bool = True) -> None:
    """Migrate, empty every table and the cache, create the users (one Argon2 hash, shared)."""
    if settings.BENCH_DB == "postgres":
        ensure_postgres_database()
    elif fresh:
        path = settings.DATABASES["default"]["NAME"]
        for suffix in ("", "-wal", "-shm"):
            if os.path.exists(path + suffix):
                os.remove(path + suffix)
    django.setup()
    from django.contrib.auth.hashers import make_password
    from django.contrib.auth.models import User
    from django.core.cache import cache
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)
    if fresh:
        call_command("flush", verbosity=0, interactive=False)
        cache.clear()
        encoded = make_password(PASSWORD)
        User.objects.bulk_create([User(username=user_email(i), email=user_email(i), password=encoded)
                                  for i in range(N_USERS)], batch_size=500)
