"""Entry point of the provider subprocess: ``python -m tests.social.oidc_provider.serve``.

Migrates its SQLite file, registers the configured users and clients, then serves on
``127.0.0.1:<port>`` with Django's threaded development server (no autoreload) until stopped by
its process id. The port opens only once the data is in place, so "port open" means ready."""

import os

import django


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.social.oidc_provider.settings")
    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.core.servers.basehttp import run
    from django.core.wsgi import get_wsgi_application

    from .views import save_client, save_user

    call_command("migrate", run_syncdb=True, verbosity=0, interactive=False)
    for user in settings.CONFIG["users"]:
        save_user(user)
    for client in settings.CONFIG["clients"]:
        save_client(client)
    run("127.0.0.1", settings.CONFIG["port"], get_wsgi_application(), threading=True)


if __name__ == "__main__":
    main()
