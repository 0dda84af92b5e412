"""drf-spectacular's preprocessing hook that keeps the package's endpoints only."""

from __future__ import annotations

from typing import Any

from .extensions import described

__all__ = ["package_endpoints"]


def package_endpoints(endpoints: list[tuple[str, str, str, Any]], **kwargs: Any) -> list[tuple[str, str, str, Any]]:
    """The endpoints of ``django_dualauth.urls``, wherever the project mounts them (and of the
    project's subclasses of its views). ``PREPROCESSING_HOOKS`` entry of the schema :mod:`.urls` serves."""
    return [endpoint for endpoint in endpoints if described(getattr(endpoint[3], "cls", type(None)))]
