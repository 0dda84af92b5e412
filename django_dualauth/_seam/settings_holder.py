"""The object that holds Django's settings now, to tell when it was replaced."""

from __future__ import annotations

from django.conf import settings

__all__ = ["settings_holder"]


def settings_holder() -> object:
    """``settings._wrapped``: ``override_settings`` and pytest-django's ``settings`` fixture
    install a new holder for every change, a removal (which sends no signal) included, so a memo
    computed under another holder is stale. Empty (``django.utils.functional.empty``) before the
    settings are configured."""
    return settings._wrapped  # type: ignore[misc]  # LazyObject's private holder: not in the stubs
