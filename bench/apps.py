"""Bench-only app: lets one settings module serve dualauth's database and cache revocation modes."""

from django.apps import AppConfig


class BenchConfig(AppConfig):
    name = "bench"
    label = "bench"

    def ready(self) -> None:
        from . import middleware

        middleware.install()
