"""The browser client's TypeScript declarations (dualauth.d.ts) say what dualauth.js exports:
the same runtime exports, the same public methods and the same error fields. A method added
to the module and forgotten in the .d.ts (or the reverse) is a bug for TypeScript users.

Both files are parsed by their layout (one declaration a line, two-space class bodies), which
the module keeps; the Chromium tests (tests/test_browser_client.py) run the module itself.

Where node is installed, TypeScript (pinned in tests/js/package-lock.json, installed by `make`
with ``npm ci``) also compiles tests/js/usage.ts, an app's code against the declarations under
``strict`` (its ``@ts-expect-error`` lines must fail to compile), and type-checks dualauth.js
itself (``checkJs``, with JSDoc types where inference needs them). Without node that test is skipped, saying so; under
``DUALAUTH_REQUIRE_SERVICES=1`` (CI) a missing TypeScript next to an installed node fails it.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
STATIC = ROOT / "django_dualauth" / "static" / "dualauth"
TS_DIR = ROOT / "tests" / "js"
TSC = TS_DIR / "node_modules" / "typescript" / "bin" / "tsc"
JS = (STATIC / "dualauth.js").read_text()
DTS = (STATIC / "dualauth.d.ts").read_text()
CONTRACT = {"DualAuthClient": {"call", "fetch", "login", "verifyTwoFactor", "cancelTwoFactor", "sendMagicLink",
                               "verifyMagicLink", "me", "refresh", "logout", "logoutAll"}}


def runtime_exports(source: str) -> set[str]:
    """Names of the values a module (or its declarations) exports: classes, functions, constants."""
    names = set(re.findall(r"^export\s+(?:declare\s+)?(?:abstract\s+)?(?:class|function\*?|const|let|var|enum)"
                           r"\s+([A-Za-z_$][\w$]*)", source, re.M))
    for group in re.findall(r"^export\s*\{([^}]*)\}", source, re.M):
        names |= {part.split(" as ")[-1].strip() for part in group.split(",") if part.strip()}
    return names


def class_body(source: str, name: str) -> str:
    found = re.search(rf"^export\s+(?:declare\s+)?class\s+{name}\b[^{{]*\{{\n(.*?)^\}}", source, re.M | re.S)
    assert found, f"no class {name}"
    return found.group(1)


def js_methods(body: str) -> set[str]:
    """Public methods and getters of a class body (two-space indent; #private ones excluded)."""
    return set(re.findall(r"^  (?:static\s+)?(?:async\s+)?(?:get\s+)?([A-Za-z_$][\w$]*)\s*\(", body, re.M)) - {
        "constructor"}


def dts_methods(body: str) -> set[str]:
    return set(re.findall(r"^  (?:static\s+)?(?:readonly\s+)?([A-Za-z_$][\w$]*)\s*(?:<[^>]*>)?\s*\(", body, re.M)) - {
        "constructor"}


def test_the_declarations_export_exactly_the_modules_runtime_exports() -> None:
    assert runtime_exports(JS) == {"DualAuthClient", "DualAuthError"}
    assert runtime_exports(DTS) == runtime_exports(JS)


@pytest.mark.parametrize("name", ["DualAuthClient", "DualAuthError"])
def test_each_class_declares_exactly_the_public_methods_it_has(name: str) -> None:
    declared = dts_methods(class_body(DTS, name)) - {"addEventListener", "removeEventListener"}  # EventTarget's, typed
    assert declared == js_methods(class_body(JS, name))


def test_the_client_has_the_contracts_methods() -> None:
    assert js_methods(class_body(JS, "DualAuthClient")) == CONTRACT["DualAuthClient"]


def test_the_error_declares_the_fields_the_constructor_sets() -> None:
    fields = set(re.findall(r"^\s+this\.(\w+)\s*=", class_body(JS, "DualAuthError"), re.M)) - {"name"}
    declared = set(re.findall(r"^  readonly (\w+):", class_body(DTS, "DualAuthError"), re.M))
    assert fields == declared == {"status", "code", "body", "retryAfter"}


def test_the_parsers_see_what_they_must() -> None:
    """The checks above are only as good as their parsers: each one finds a planted difference."""
    assert runtime_exports("export class A {}\nexport function b() {}\nexport const c = 1;\nexport { d, e as f };\n") \
        == {"A", "b", "c", "d", "f"}
    assert runtime_exports("export declare class A {}\nexport interface I {}\nexport type T = 1;\n") == {"A"}
    body = class_body(JS.replace("  async logoutAll() {", "  async logoutAll() {}\n  extra(x) {"), "DualAuthClient")
    assert "extra" in js_methods(body)
    assert "refresh" in dts_methods(class_body(DTS, "DualAuthClient"))
    assert "call" in dts_methods(class_body(DTS, "DualAuthClient"))  # generic: call<T = any>(...)


def test_the_module_stays_plain_and_small() -> None:
    """No import (no dependency, no build step), no web storage, and small enough to read."""
    code = "\n".join(line for line in JS.splitlines() if not line.strip().startswith("//"))
    assert not re.search(r"^\s*import\s", code, re.M)
    assert "localStorage" not in code and "sessionStorage" not in code
    assert "document.cookie" not in code  # the CSRF token comes from GET csrf, the tokens are HttpOnly
    assert len(code.encode()) < 12_000


def _node_and_tsc() -> tuple[str, Path]:
    node = shutil.which("node")
    if node is None:
        pytest.skip("TYPESCRIPT CHECK SKIPPED: node is not installed (the .d.ts is still parsed above)")
    if not TSC.is_file():
        message = f"TypeScript is not installed in {TS_DIR} (run `make test`, or `npm ci --prefix tests/js`)"
        if os.environ.get("DUALAUTH_REQUIRE_SERVICES") == "1":
            pytest.fail(message, pytrace=False)
        pytest.skip(f"TYPESCRIPT CHECK SKIPPED: {message}")
    return node, TSC


def test_typescript_compiles_an_app_against_the_declarations_and_checks_the_module() -> None:
    node, tsc = _node_and_tsc()
    result = subprocess.run([node, str(tsc), "-p", str(TS_DIR / "tsconfig.json"), "--listFiles"], cwd=TS_DIR,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    checked = {Path(line).resolve() for line in result.stdout.splitlines()}
    assert {STATIC / "dualauth.d.ts", STATIC / "dualauth.js", TS_DIR / "usage.ts"} <= checked
