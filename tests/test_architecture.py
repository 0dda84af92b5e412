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
    # testing.py is the client side (the shipped AuthClient builds requests, it serves none).
    if _rel(path).startswith("delivery/") or _rel(path) == "testing.py":
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


# --- every per-process value of the settings lives in conf.Snapshot (issue 16 item 1) ------------

#: The ways to keep a settings-derived memo: the old per-module decorator, a snapshot of one's own,
#: the holder that tells when the settings were replaced.
SNAPSHOT_NAMES = frozenset({"per_process", "Snapshot", "settings_holder", "_drop_snapshot"})
#: Modules that reset state of their own (not values of the settings) on ``setting_changed``.
STATE_RESET_ON_SETTING_CHANGED = {
    "services/revocation.py": "this process's record of cache failures",
    "services/revocation_push.py": "the subscriptions to the revocation channel",
}


def snapshot_uses(source: str) -> list[str]:
    """Names in ``source`` that keep or rebuild a per-process memo of the settings."""
    found = []
    for node in ast.walk(ast.parse(source)):
        name = node.id if isinstance(node, ast.Name) else node.attr if isinstance(node, ast.Attribute) else (
            node.name if isinstance(node, ast.alias) else None)
        if name is not None and name.rsplit(".", 1)[-1] in SNAPSHOT_NAMES:
            found.append(name)
    return found


@pytest.mark.parametrize("path", [p for p in SOURCES if _rel(p) not in ("conf.py", "_seam/settings_holder.py")],
                         ids=_rel)
def test_per_process_values_of_the_settings_live_only_in_conf(path: Path) -> None:
    source = path.read_text()
    found = snapshot_uses(source)
    assert not found, (f"{_rel(path)} keeps a memo of the settings ({sorted(set(found))}): add the value "
                       "to conf.Snapshot and read it through conf.snapshot()")
    if _rel(path) not in STATE_RESET_ON_SETTING_CHANGED:
        names = {n.id for n in ast.walk(ast.parse(source)) if isinstance(n, ast.Name)}
        assert "setting_changed" not in names, (
            f"{_rel(path)} listens for setting_changed: a value of the settings belongs on conf.Snapshot")


def test_the_snapshot_detector_detects() -> None:
    assert snapshot_uses("from ..conf import per_process\n@per_process\ndef f(): pass\n") == [
        "per_process", "per_process"]
    assert snapshot_uses("x = conf.Snapshot()\n") == ["Snapshot"]
    assert snapshot_uses("from .._seam.settings_holder import settings_holder\n") == ["settings_holder"]
    assert snapshot_uses("v = snapshot().cookie_policy\n") == []


SERVICE_FORBIDDEN = ("rest_framework", "django.http", "..api", "..delivery", "..authentication")


@pytest.mark.parametrize("path", sorted((PACKAGE / "services").glob("*.py")), ids=_rel)
def test_services_are_http_free(path: Path) -> None:
    bad = [i for i in _imports(path) if i.startswith(SERVICE_FORBIDDEN)]
    assert not bad, f"{_rel(path)} imports {bad}"


@pytest.mark.parametrize("path", sorted((PACKAGE / "delivery").glob("*.py")), ids=_rel)
def test_delivery_does_not_reach_into_business_logic(path: Path) -> None:
    bad = [i for i in _imports(path) if i.startswith(("..services", "..models", "..api"))]
    assert not bad, f"{_rel(path)} imports {bad}"


@pytest.mark.parametrize("path", SOURCES, ids=_rel)
def test_only_the_openapi_package_imports_drf_spectacular(path: Path) -> None:
    # drf-spectacular is an optional extra: the rest of the package must import without it
    # (tests/test_openapi.py runs it without). apps.py imports openapi/ only when it is installed.
    if _rel(path).startswith("openapi/"):
        return
    bad = [i for i in _imports(path) if i.startswith(("drf_spectacular", ".openapi", "..openapi"))
           and _rel(path) != "apps.py"]
    assert not bad, f"{_rel(path)} imports {bad}"


def test_the_spectacular_import_detector_detects(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text("def f():\n    from drf_spectacular.utils import extend_schema\n")
    assert "drf_spectacular.utils" in _imports(module)


@pytest.mark.parametrize("path", sorted((PACKAGE / "models").glob("*.py")), ids=_rel)
def test_models_do_not_read_package_settings(path: Path) -> None:
    bad = [i for i in _imports(path) if i.startswith(("..conf", "..services"))]
    assert not bad, f"{_rel(path)} imports {bad}"


# --- every password or code check passes the failure budget (issue 15 item 9) ---------------------

#: Calls that check a password or a django-otp code, and the names that make the digest of a typed
#: code (an SMS code, a recovery code) for comparison with the stored one.
PROOF_CALLS = frozenset({"check_password", "authenticate", "verify_token", "verify_is_allowed"})
CODE_DIGESTS = frozenset({"_code_digest", "RECOVERY_PURPOSE"})
COMPARISONS = frozenset({"equal", "digests"})


def _name(node: ast.AST) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return None


def _checks_a_proof(call: ast.Call) -> bool:
    name = _name(call.func)
    if name in PROOF_CALLS:
        return True
    return name in COMPARISONS and any(
        _name(n) in CODE_DIGESTS for arg in call.args for n in ast.walk(arg))


def unguarded_checks(source: str) -> list[str]:
    """Functions that check a password or code without calling ``proofs.attempt`` first."""
    found = []
    for fn in ast.walk(ast.parse(source)):
        if not isinstance(fn, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        calls = [n for n in ast.walk(fn) if isinstance(n, ast.Call)]
        checks = [c for c in calls if _checks_a_proof(c)]
        gates = [c.lineno for c in calls if _name(c.func) == "attempt"]
        if checks and not (gates and min(gates) <= min(c.lineno for c in checks)):
            found.append(fn.name)
    return found


#: ``EmailBackend`` is Django's ``authenticate()`` itself: the login reaches it through
#: ``proofs.authenticate``; the admin's login calls it without e-mail (it returns at once).
BACKEND = "backends.py"


@pytest.mark.parametrize("path", SOURCES, ids=_rel)
def test_every_password_or_code_check_passes_the_failure_budget(path: Path) -> None:
    if _rel(path) == BACKEND:
        return
    assert not unguarded_checks(path.read_text()), (
        f"{_rel(path)}: {unguarded_checks(path.read_text())} check a password or code without "
        "services.proofs.attempt() (or proofs.password_matches) first")


@pytest.mark.parametrize("path", SOURCES, ids=_rel)
def test_passwords_are_checked_only_through_proofs(path: Path) -> None:
    if _rel(path) in ("services/proofs.py", BACKEND):
        return
    calls = [n for n in ast.walk(ast.parse(path.read_text()))
             if isinstance(n, ast.Call) and _name(n.func) in ("check_password", "authenticate")]
    assert not calls, f"{_rel(path)} checks a password itself; use services.proofs.password_matches"


@pytest.mark.parametrize("path", SOURCES, ids=_rel)
def test_only_the_rate_limit_layer_opens_a_budget(path: Path) -> None:
    text = path.read_text()
    if _rel(path) != "services/proofs.py":
        assert "without_budget" not in text, f"{_rel(path)} checks proofs with no limit"
    if _rel(path) not in ("services/proofs.py", "api/ratelimits.py"):
        assert "guarded_by" not in text, f"{_rel(path)} opens a budget itself; use ratelimits.guarded_check"


def test_the_proof_check_detector_detects() -> None:
    assert unguarded_checks("def f(u, p):\n    return u.check_password(p)\n") == ["f"]
    assert unguarded_checks("def f(d, t):\n    return d.verify_token(t)\n") == ["f"]
    assert unguarded_checks("def f(d, c):\n    return equal(_code_digest(d, c), d.code_digest)\n") == ["f"]
    assert unguarded_checks("def f(v):\n    return R.filter(digest__in=digests(v, RECOVERY_PURPOSE))\n") == ["f"]
    assert unguarded_checks("def f(r, e, p):\n    return auth.authenticate(r, email=e, password=p)\n") == ["f"]
    # the gate after the check is too late
    assert unguarded_checks("def f(u, p):\n    ok = u.check_password(p)\n    proofs.attempt(u.pk)\n") == ["f"]
    assert unguarded_checks("def f(u, p):\n    proofs.attempt(u.pk)\n    return u.check_password(p)\n") == []
    assert unguarded_checks("def f(raw):\n    return digests(raw, TEMP_TOKEN_PURPOSE)\n") == []


# Types (issue 16, item 5): the mypy configuration in pyproject.toml stays true to the package.

PYPROJECT = PACKAGE.parent / "pyproject.toml"
_UNTYPED_IGNORE = re.compile(r"#\s*type:\s*ignore(?!\[)")


def _mypy_overrides() -> list[dict[str, object]]:
    import tomllib

    overrides = tomllib.loads(PYPROJECT.read_text())["tool"]["mypy"]["overrides"]
    return [o for o in overrides if isinstance(o, dict)]


def _override_modules(flag: str) -> list[str]:
    return [name for o in _mypy_overrides() if o.get(flag) is True
            for name in (o["module"] if isinstance(o["module"], list) else [o["module"]])
            if isinstance(name, str) and name.startswith("django_dualauth")]


def missing_modules(names: list[str]) -> list[str]:
    """The ``django_dualauth...`` module names (``pkg.*`` for a package) with no source file."""
    missing = []
    for name in names:
        parts = name.removesuffix(".*").split(".")[1:]
        base = PACKAGE.joinpath(*parts)
        exists = (base / "__init__.py").is_file() if name.endswith(".*") else (
            base.with_suffix(".py").is_file() or (base / "__init__.py").is_file())
        if not exists:
            missing.append(name)
    return missing


def test_mypy_overrides_name_modules_that_exist() -> None:
    # A module renamed or moved leaves its line behind silently: it would then be checked
    # non-strictly (strict list) or its successor unexpectedly (ignore list).
    strict = _override_modules("disallow_untyped_defs")
    unchecked = _override_modules("ignore_errors")
    assert strict, "the strict list of [tool.mypy] is gone"
    assert missing_modules(strict + unchecked) == []


def test_no_module_is_both_strict_and_unchecked() -> None:
    strict, unchecked = set(_override_modules("disallow_untyped_defs")), set(_override_modules("ignore_errors"))
    assert strict.isdisjoint(unchecked)


def test_the_module_list_detector_detects() -> None:
    assert missing_modules(["django_dualauth.crypto", "django_dualauth.models.*", "django_dualauth.api"]) == []
    assert missing_modules(["django_dualauth.nowhere", "django_dualauth.crypto.*"]) == [
        "django_dualauth.nowhere", "django_dualauth.crypto.*"]


#: Modules of the package that are type-checked but not strictly, each with its reason.
NOT_YET_STRICT: dict[str, str] = {}  # module -> why it is not strict yet (none left)
#: What issue 16 (item 5) requires to be strict.
REQUIRED_STRICT = ("django_dualauth.services.*", "django_dualauth.delivery.*", "django_dualauth.types",
                   "django_dualauth.conf", "django_dualauth.authentication", "django_dualauth._seam.*")


def covered(module: str, patterns: list[str]) -> bool:
    """Whether a mypy module pattern in ``patterns`` (``pkg.*`` covers ``pkg`` and below) names ``module``."""
    return any(module == p or (p.endswith(".*") and (module + ".").startswith(p[:-1])) for p in patterns)


def test_nothing_in_the_package_is_exempt_from_type_checking() -> None:
    assert _override_modules("ignore_errors") == []


def test_every_module_is_strict_or_named_with_its_reason() -> None:
    strict = _override_modules("disallow_untyped_defs")
    loose = [m for m in map(_module_name, SOURCES) if not covered(m, strict)]
    assert sorted(loose) == sorted(NOT_YET_STRICT), (
        "a module off the strict list needs a reason in NOT_YET_STRICT (or it joins the strict list)")
    assert all(covered(m, strict) for m in REQUIRED_STRICT)


def test_the_strict_coverage_detector_detects() -> None:
    assert covered("django_dualauth.services", ["django_dualauth.services.*"])
    assert covered("django_dualauth.services.login", ["django_dualauth.services.*"])
    assert not covered("django_dualauth.servicesx", ["django_dualauth.services.*"])
    assert not covered("django_dualauth.api.sms", ["django_dualauth.api"])


@pytest.mark.parametrize("path", SOURCES, ids=_rel)
def test_every_type_ignore_names_its_error_code(path: Path) -> None:
    # A bare ignore silences every error on its line, including the next one nobody meant to hide.
    bare = [n for n, line in enumerate(path.read_text().splitlines(), 1) if _UNTYPED_IGNORE.search(line)]
    assert not bare, f"{_rel(path)}: bare '# type: ignore' on lines {bare}; name the code, e.g. [override]"


# --- no view compares delivery names (issue 16 item 2) ---------------------------------------------

#: What a view would compare to pick a behaviour by delivery, and the delivery layer's own
#: decisions (which delivery guards, which one clears cookies) a view would otherwise restate.
DELIVERY_NAMES = frozenset({"COOKIE", "BEARER", "cookie", "bearer"})
DELIVERY_DECISIONS = frozenset({"protect_cookie_request", "has_token_cookie", "asks_for_bearer",
                                "existing_refresh_cookie"})


def delivery_name_comparisons(source: str) -> list[int]:
    """Lines that compare something with a delivery name, or call a delivery decision, in ``source``."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Compare):
            operands = [node.left, *node.comparators]
            if any(_name(o) in DELIVERY_NAMES
                   or (isinstance(o, ast.Constant) and o.value in DELIVERY_NAMES) for o in operands):
                found.append(node.lineno)
        elif isinstance(node, ast.Call) and _name(node.func) in DELIVERY_DECISIONS:
            found.append(node.lineno)
    return found


@pytest.mark.parametrize("path", sorted((PACKAGE / "api").glob("*.py")) + [PACKAGE / "authentication.py"],
                         ids=_rel)
def test_no_view_compares_delivery_names(path: Path) -> None:
    lines = delivery_name_comparisons(path.read_text())
    assert not lines, (f"{_rel(path)}:{lines} picks a behaviour by delivery name; ask the delivery "
                       "object (delivery.for_request/for_session/for_credential) instead")


def test_the_delivery_comparison_detector_detects() -> None:
    assert delivery_name_comparisons("if mode == delivery.COOKIE:\n    pass\n") == [1]
    assert delivery_name_comparisons("x = c.via != BEARER\n") == [1]
    assert delivery_name_comparisons("x = 'cookie' == challenge.delivery\n") == [1]
    assert delivery_name_comparisons("delivery.protect_cookie_request(request)\n") == [1]
    assert delivery_name_comparisons("m = COOKIE if delivery.has_token_cookie(r) else BEARER\n") == [1]
    assert delivery_name_comparisons("delivery.for_request(request).guard(request)\n") == []
    assert delivery_name_comparisons("if kind == 'refresh':\n    pass\n") == []


def _module_name(path: Path) -> str:
    parts = ["django_dualauth", *path.relative_to(PACKAGE).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph(sources: dict[str, tuple[str, bool]]) -> dict[str, set[str]]:
    """Module -> the package modules it imports, at any level (a function-level import too).

    ``sources`` maps a dotted module name to its source and whether it is a package
    (``__init__``). ``from x import y`` is an edge to ``x.y`` when that is a module, else to ``x``.
    """
    graph: dict[str, set[str]] = {}
    for name, (source, is_package) in sources.items():
        package = name if is_package else name.rpartition(".")[0]
        edges: set[str] = set()
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.Import):
                edges.update(alias.name for alias in node.names if alias.name in sources)
            elif isinstance(node, ast.ImportFrom):
                base = package.split(".")[:len(package.split(".")) - node.level + 1] if node.level else []
                target = ".".join([*base, node.module] if node.module else base)
                for alias in node.names:
                    if f"{target}.{alias.name}" in sources:
                        edges.add(f"{target}.{alias.name}")
                    elif target in sources:
                        edges.add(target)
        edges.discard(name)
        graph[name] = edges
    return graph


def import_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected groups of more than one module (Tarjan, iterative: bounded)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                group = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    group.append(member)
                    if member == node:
                        break
                if len(group) > 1:
                    cycles.append(sorted(group))
    return cycles


def test_the_package_has_no_import_cycle() -> None:
    sources = {_module_name(p): (p.read_text(), p.name == "__init__.py") for p in SOURCES}
    cycles = import_cycles(import_graph(sources))
    assert not cycles, f"modules that import each other (a function-level import counts too): {cycles}"


def test_the_import_cycle_detector_detects() -> None:
    sources = {
        "pkg": ("", True),
        "pkg.services": ("", True),
        "pkg.services.a": ("from .b import f\n", False),
        "pkg.services.b": ("def f():\n    from . import a\n", False),  # escaped by a late import
        "pkg.api": ("from .services import a\nfrom .services.b import f\n", False),
        "pkg.c": ("import pkg.d\n", False),
        "pkg.d": ("from pkg import c\n", False),
    }
    graph = import_graph(sources)
    assert graph["pkg.api"] == {"pkg.services.a", "pkg.services.b"}
    assert sorted(import_cycles(graph)) == [["pkg.c", "pkg.d"], ["pkg.services.a", "pkg.services.b"]]
    assert import_cycles({"x": {"y"}, "y": set()}) == []


# --- only the private seam touches private attributes of Django, PyJWT or redis-py -------------

SEAM = "_seam/"
# Django's underscore names that its documentation makes public API (the Model _meta API, the
# managers of "Using managers for related object access", Field.many_to_many ...).
DOCUMENTED_UNDERSCORE = frozenset({"_meta", "_base_manager", "_default_manager", "_replace"})
# Private names of libraries outside this rule (DRF, django-ratelimit), each where it is read.
OUTSIDE_THE_RULE = {
    "_request": "DRF's Request wraps the HttpRequest there; CSRF and cookies need the original",
    "_split_rate": "django-ratelimit", "_get_window": "django-ratelimit", "_make_cache_key": "django-ratelimit",
}


def _defined_private_names(sources: list[Path]) -> set[str]:
    """Every ``_name`` the package itself defines: functions, classes, assignments, attributes
    it assigns (``self._x = ...``) and keywords of its own calls. Anything else with a leading
    underscore belongs to another library."""
    names: set[str] = set()
    for path in sources:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                names.add(node.name)
            elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                names.add(node.id)
            elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
                names.add(node.attr)
            elif isinstance(node, ast.alias):
                names.add(node.asname or node.name.rsplit(".", 1)[-1])
    return {n for n in names if n.startswith("_")}


def foreign_private_uses(source: str, own: set[str]) -> list[str]:
    """The private attributes of other libraries that ``source`` reads: ``x._name`` (and
    ``getattr(x, "_name")``) for a ``_name`` the package does not define, and any ``__dict__``."""
    found = []
    for node in ast.walk(ast.parse(source)):
        name = None
        if isinstance(node, ast.Attribute):
            name = node.attr
            if name == "__dict__" and _name(node.value) == "self":
                continue  # an object's own attributes
        elif (isinstance(node, ast.Call) and _name(node.func) in ("getattr", "hasattr", "setattr")
              and len(node.args) > 1 and isinstance(node.args[1], ast.Constant)
              and isinstance(node.args[1].value, str)):
            name = node.args[1].value
        if name is None:
            continue
        if name == "__dict__" or (name.startswith("_") and not name.startswith("__")
                                  and name not in own and name not in DOCUMENTED_UNDERSCORE):
            found.append(name)
    return found


@pytest.mark.parametrize("path", [p for p in SOURCES if not _rel(p).startswith(SEAM)], ids=_rel)
def test_only_the_private_seam_touches_private_attributes_of_other_libraries(path: Path) -> None:
    own = _defined_private_names(SOURCES)
    found = [n for n in foreign_private_uses(path.read_text(), own) if n not in OUTSIDE_THE_RULE]
    assert not found, (f"{_rel(path)} reads private attributes of another library ({sorted(set(found))}): "
                       "put that behind one narrow interface in django_dualauth/_seam/")


def test_the_private_attribute_detector_detects() -> None:
    own = {"_mine"}
    assert foreign_private_uses("x = settings._wrapped\n", own) == ["_wrapped"]
    assert foreign_private_uses("s = getattr(conn, '_sock', None)\n", own) == ["_sock"]
    assert foreign_private_uses("m = connection.__dict__\n", own) == ["__dict__"]
    assert foreign_private_uses("q = qs._known_related_objects\n", own) == ["_known_related_objects"]
    assert foreign_private_uses("f = self._mine\nm = M._meta\nx.__class__\nd = self.__dict__\n", own) == []
