"""The example project with Django's default SQLite transactions (DEFERRED: the write lock is
taken at the first write, not at BEGIN), for tests that must hold without the IMMEDIATE mode
the example project and docs/deployment.md recommend."""

from example_project.settings import *  # noqa: F403

DATABASES["default"]["OPTIONS"].pop("transaction_mode", None)  # noqa: F405
