from __future__ import annotations

from django.apps import AppConfig, apps


class DualAuthConfig(AppConfig):
    name = "django_dualauth"
    label = "dualauth"
    verbose_name = "Authentication sessions"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Checks and receivers are wired once, here, never at import time of the package.
        from . import audit, checks, receivers  # noqa: F401

        # Second factors register with services.login from the modules that own them.
        from .services import magic_links, sms, totp  # noqa: F401

        # The OpenAPI description registers with drf-spectacular, for the project's own schema
        # too; without drf-spectacular the package never imports it.
        if apps.is_installed("drf_spectacular"):
            from .openapi import extensions  # noqa: F401
