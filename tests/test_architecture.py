"""The layering rules of docs/architecture.md, enforced on the package source."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "django_dualauth"
SOURCES = sorted(p for p in PACKAGE.rglob("*.py") if "migrations" not in p.parts)


def _rel(path: Path) -> str:
    return path.relative_to(PACKAGE).as_posix()


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = "." * node.level + (node.module or "")
            found.add(base)
            found.update(f"{base}.{alias.name}" if node.module else f"{base}{alias.name}"
                         for alias in node.names)
    return found


TRANSPORT_MARKERS = ("COOKIES", "set_cookie", "delete_cookie", "HTTP_AUTHORIZATION", "HTTP_COOKIE")


@pytest.mark.parametrize("path", SOURCES, ids=_rel)
def test_cookies_and_authorization_header_only_in_delivery(path: Path) -> None:
    if _rel(path).startswith("delivery/"):
        return
    text = path.read_text()
    assert not [m for m in TRANSPORT_MARKERS if m in text], (
        f"{_rel(path)} touches cookies or the Authorization header outside delivery/")


SETTINGS_READ = re.compile(r"settings\.DUALAUTH_|settings\s*,\s*[\"'f]+DUALAUTH_")


@pytest.mark.parametrize("path", SOURCES, ids=_rel)
def test_our_settings_are_read_only_in_conf(path: Path) -> None:
    if _rel(path) == "conf.py":
        return
    assert not SETTINGS_READ.search(path.read_text()), (
        f"{_rel(path)} reads a DUALAUTH_ setting; go through conf.dualauth_settings")


def test_settings_read_detector_detects() -> None:
    assert SETTINGS_READ.search('getattr(settings, "DUALAUTH_X", 1)')
    assert SETTINGS_READ.search("settings.DUALAUTH_X")
    assert not SETTINGS_READ.search("``DUALAUTH_X`` in a docstring")


SERVICE_FORBIDDEN = ("rest_framework", "django.http", "..api", "..delivery", "..authentication")


@pytest.mark.parametrize("path", sorted((PACKAGE / "services").glob("*.py")), ids=_rel)
def test_services_are_http_free(path: Path) -> None:
    bad = [i for i in _imports(path) if i.startswith(SERVICE_FORBIDDEN)]
    assert not bad, f"{_rel(path)} imports {bad}"


@pytest.mark.parametrize("path", sorted((PACKAGE / "delivery").glob("*.py")), ids=_rel)
def test_delivery_does_not_reach_into_business_logic(path: Path) -> None:
    bad = [i for i in _imports(path) if i.startswith(("..services", "..models", "..api"))]
    assert not bad, f"{_rel(path)} imports {bad}"


@pytest.mark.parametrize("path", sorted((PACKAGE / "models").glob("*.py")), ids=_rel)
def test_models_do_not_read_package_settings(path: Path) -> None:
    bad = [i for i in _imports(path) if i.startswith(("..conf", "..services"))]
    assert not bad, f"{_rel(path)} imports {bad}"
