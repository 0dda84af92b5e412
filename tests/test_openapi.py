"""The OpenAPI schema (issue 18): generated with warnings as errors and valid OpenAPI 3, true to the
routes and to the error codes of the code, without the features that are off, served with its
viewer, and no import of drf-spectacular when a project does not install it."""

from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.urls import URLPattern, include, path
from drf_spectacular.drainage import GENERATOR_STATS
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.settings import patched_settings
from drf_spectacular.validation import validate_schema

from django_dualauth import urls as package_urls
from django_dualauth.openapi.views import SCHEMA_SETTINGS
from django_dualauth.staff import urls as staff_urls
from tests.views import WhoAmI

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "django_dualauth"

def _es256_key() -> dict[str, str]:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    pem = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    return {"kid": "es1", "algorithm": "ES256", "private_key": pem.decode()}


#: Every feature switched on, so that every route is in the schema.
ALL_ON = {
    "DUALAUTH_JWT_KEYS": [_es256_key()],  # an asymmetric key: the JWK set is published
    "DUALAUTH_REGISTRATION_ENABLED": True,
    "DUALAUTH_MAGIC_LINK_ENABLED": True,
    "DUALAUTH_SMS_ENABLED": True,
    "DUALAUTH_VERIFY_EMAIL_URL": "https://app.example.com/verify-email?token={token}",
    "DUALAUTH_PASSWORD_RESET_URL": "https://app.example.com/reset?token={token}",
    "DUALAUTH_EMAIL_CHANGE_URL": "https://app.example.com/change-email?token={token}",
    # The redirect flow on, every provider endpoint a dead loopback port (port 9, discard): no
    # fuzzed request can reach a provider off 127.0.0.1. A fuzzed state never names a flow, so the
    # callback answers 400 before any provider call; the start makes none for Google.
    "DUALAUTH_LINK_VERIFY_URL": "https://app.example.com/link-verify?token={token}",
    "DUALAUTH_SOCIAL_PROVIDERS": {"google": {
        "client_ids": ["web.apps.googleusercontent.com"],
        "redirect_uri": "https://api.example.com/auth/oauth/google/callback",
        "jwks_uri": "http://127.0.0.1:9/certs", "authorization_endpoint": "http://127.0.0.1:9/auth",
        "token_endpoint": "http://127.0.0.1:9/token"}},
    "DUALAUTH_SOCIAL_RETURN_URLS": ["https://app.example.com/signed-in"],
    "DUALAUTH_SOCIAL_APP_RETURN_URLS": ["myapp://auth"],
}

#: Codes of the enum that no endpoint answers on purpose, documented in the enum only: the
#: handler's answers to a method a view lacks, to an ``Accept`` it cannot meet (it never happens:
#: the views always answer JSON), to a DRF ``PermissionDenied`` (no view of the package raises
#: one) and to any other DRF exception.
GENERIC_ONLY = {"NOT_ACCEPTABLE", "FORBIDDEN", "ERROR"}  # 405: the callback's (Apple POST, the others GET)
#: Codes the redirect flow's callback only ever sends as ``error=<code>`` in its 302 (documented
#: in that operation's description), never as a JSON answer.
REDIRECT_ONLY = {"OAUTH_ACCESS_DENIED", "OAUTH_ISSUER_MISMATCH"}  # a failed Apple code is also oauth/apple/token's


def generate(**spectacular: Any) -> dict[str, Any]:
    """The schema the include serves, generated here; a warning or an error of the generator fails."""
    with patched_settings({**SCHEMA_SETTINGS, **spectacular}):
        schema: dict[str, Any] = SchemaGenerator().get_schema(request=None, public=True)
    assert not GENERATOR_STATS, "drf-spectacular warned while generating the schema (see the captured stderr)"
    validate_schema(schema)
    return schema


@pytest.fixture
def all_on(settings: Any) -> None:
    for name, value in ALL_ON.items():
        setattr(settings, name, value)


def _openapi_path(pattern: URLPattern, prefix: str = "/auth/") -> str:
    return prefix + re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", str(pattern.pattern))


def _methods(pattern: URLPattern) -> set[str]:
    view = pattern.callback.view_class  # type: ignore[attr-defined]
    return {m for m in view.http_method_names if m not in ("options", "head") and hasattr(view, m)}


def _operations(schema: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(p, m): op for p, item in schema["paths"].items() for m, op in item.items()}


# --- generated with warnings as errors, valid OpenAPI 3 ------------------------------------------

def test_the_schema_generates_without_a_warning_and_is_valid_openapi_3(all_on: None) -> None:
    schema = generate()
    assert schema["openapi"].startswith("3.")
    assert schema["info"]["title"] == "django-dualauth"


def test_the_spectacular_command_validates_with_fail_on_warn(all_on: None, tmp_path: Path) -> None:
    out = tmp_path / "schema.json"
    # What a project runs in its CI: the package's extensions alone, none of the include's settings.
    call_command("spectacular", "--validate", "--fail-on-warn", "--urlconf", "tests.package_urls",
                 "--format", "openapi-json", "--file", str(out))
    assert "/auth/login" in json.loads(out.read_text())["paths"]


def test_a_warning_fails_generation(all_on: None, settings: Any) -> None:
    # The check above must be able to fail: a view the package does not describe warns.
    with pytest.raises(AssertionError, match="warned"):
        with patched_settings({**SCHEMA_SETTINGS, "PREPROCESSING_HOOKS": []}):
            settings.REST_FRAMEWORK = {"DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema"}
            SchemaGenerator(patterns=[path("api/whoami", WhoAmI.as_view())]).get_schema(public=True)
            assert not GENERATOR_STATS, "drf-spectacular warned"


# --- true to the routes -------------------------------------------------------------------------

def test_every_route_and_method_of_the_include_is_in_the_schema(all_on: None) -> None:
    schema = generate()
    expected = {(_openapi_path(p), m) for p in package_urls.urlpatterns for m in _methods(p)}
    assert len(expected) == 48  # 45 routes; sms/phone, verify-email and oauth/<provider>/callback have two methods
    staff = {(_openapi_path(p, "/admin/api/"), m) for p in staff_urls.urlpatterns for m in _methods(p)}
    assert len(staff) == 15  # the staff include (tests/urls.py mounts it): 13 routes, two with GET and DELETE
    assert set(_operations(schema)) == expected | staff  # none missing, none invented


def test_operation_ids_do_not_change_with_what_else_is_mounted(all_on: None) -> None:
    # drf-spectacular names an operation by its path minus the common prefix of the whole schema:
    # mounting the staff API beside auth/ would rename login_create to auth_login_create and break
    # every client generated from the schema. Ours are named inside their include.
    both = {(p, m): op["operationId"] for (p, m), op in _operations(generate()).items()}
    with patched_settings({**SCHEMA_SETTINGS}):
        alone = SchemaGenerator(urlconf="tests.package_urls").get_schema(request=None, public=True)
    assert {(p, m): op["operationId"] for (p, m), op in _operations(alone).items()} == {
        key: name for key, name in both.items() if key[0].startswith("/auth/")}
    assert {both[("/auth/login", "post")], both[("/auth/me", "get")], both[("/auth/sessions/{handle}", "delete")]} == {
        "login_create", "me_retrieve", "sessions_destroy"}
    staff = [name for (p, _), name in both.items() if p.startswith("/admin/api/")]
    assert staff and all(name.startswith("staff_") for name in staff)
    assert len(set(both.values())) == len(both)


@pytest.mark.parametrize(("setting", "off", "gone"), [
    ("DUALAUTH_SMS_ENABLED", False,
     {("/auth/sms/phone", "post"), ("/auth/sms/phone", "delete"), ("/auth/sms/phone/verify", "post"),
      ("/auth/sms/send", "post"), ("/auth/sms/verify", "post"), ("/auth/add-phone", "post")}),
    ("DUALAUTH_MAGIC_LINK_ENABLED", False, {("/auth/magic-link/send", "post"), ("/auth/magic-link/verify", "post")}),
    ("DUALAUTH_REGISTRATION_ENABLED", False, {("/auth/register", "post")}),
    ("DUALAUTH_SOCIAL_PROVIDERS", {},
     {("/auth/oauth/{provider}/nonce", "post"), ("/auth/oauth/{provider}/token", "post"),
      ("/auth/oauth/{provider}/link", "post"), ("/auth/linked-accounts", "get"),
      ("/auth/linked-accounts/{provider}/{provider_account_id}", "delete"), ("/auth/oauth/{provider}", "get"),
      ("/auth/oauth/{provider}/callback", "get"), ("/auth/oauth/{provider}/callback", "post"),
      ("/auth/oauth/{provider}/exchange", "post"), ("/auth/oauth/{provider}/link/start", "post"),
      ("/auth/oauth/{provider}/link/finish", "post")}),
    # GET verify-email answers alike while the flow is off (405, or 303 to the page): it stays.
    ("DUALAUTH_VERIFY_EMAIL_URL", "", {("/auth/send-verification-email", "post"), ("/auth/verify-email", "post")}),
    ("DUALAUTH_PASSWORD_RESET_URL", "", {("/auth/forgot-password", "post"), ("/auth/reset-password", "post")}),
    ("DUALAUTH_EMAIL_CHANGE_URL", "", {("/auth/change-email/request", "post"), ("/auth/change-email/confirm", "post")}),
    ("DUALAUTH_LINK_VERIFY_URL", "", {("/auth/link-request", "post"), ("/auth/link-verify", "post")}),
    ("DUALAUTH_JWT_KEYS", [], {("/auth/.well-known/jwks.json", "get")}),  # no asymmetric key: no JWK set
])
def test_a_feature_that_is_off_is_absent(all_on: None, settings: Any, setting: str, off: Any,
                                         gone: set[tuple[str, str]]) -> None:
    everything = set(_operations(generate()))
    assert gone <= everything
    setattr(settings, setting, off)
    assert set(_operations(generate())) == everything - gone


def test_get_verify_email_stays_while_the_flow_is_off(all_on: None, settings: Any) -> None:
    settings.DUALAUTH_VERIFY_EMAIL_URL = ""
    assert ("/auth/verify-email", "get") in _operations(generate())


# --- true to the error codes ----------------------------------------------------------------------

def _codes_in_source() -> set[str]:
    """Every ``code`` the package can answer, read from the source, not from the package's own list:
    the ``code`` of each error class, the ``"code": "..."`` literals, and the codes of the exception
    handler's tables (module-level tuples of ``api/errors.py``)."""
    codes: set[str] = set()
    for source in PACKAGE.rglob("*.py"):
        if "migrations" in source.parts:
            continue
        tree = ast.parse(source.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.ClassDef):
                codes.update(_class_codes(node))
            elif isinstance(node, ast.Dict):
                codes.update(v.value for k, v in zip(node.keys, node.values, strict=True)
                             if isinstance(k, ast.Constant) and k.value == "code"
                             and isinstance(v, ast.Constant) and isinstance(v.value, str))
        if source.relative_to(PACKAGE).as_posix() == "api/errors.py":
            for statement in tree.body:
                value = getattr(statement, "value", None)
                targets = getattr(statement, "targets", [getattr(statement, "target", None)])
                names = [getattr(t, "id", None) for t in targets]
                if "__all__" not in names and isinstance(value, ast.List | ast.Tuple):
                    codes.update(c.value for c in ast.walk(value) if isinstance(c, ast.Constant)
                                 and isinstance(c.value, str) and re.fullmatch(r"[A-Z0-9_]+", c.value))
    return codes


def _class_codes(node: ast.ClassDef) -> set[str]:
    found = set()
    for statement in node.body:
        if isinstance(statement, ast.AnnAssign) and getattr(statement.target, "id", None) == "code":
            targets, values = [statement.target], [statement.value]
        elif isinstance(statement, ast.Assign) and isinstance(statement.targets[0], ast.Tuple):
            targets, values = statement.targets[0].elts, getattr(statement.value, "elts", [])
        elif isinstance(statement, ast.Assign):
            targets, values = statement.targets, [statement.value]
        else:
            continue
        found.update(v.value for t, v in zip(targets, values, strict=False)
                     if getattr(t, "id", None) == "code" and isinstance(v, ast.Constant))
    return found


def test_the_code_enum_is_every_code_the_code_can_answer(all_on: None) -> None:
    source = _codes_in_source()
    assert {"INVALID_REFRESH_TOKEN", "METHOD_NOT_ALLOWED", "VALIDATION_ERROR", "ERROR"} <= source  # the reader reads
    enum = generate()["components"]["schemas"]["DualAuthErrorCode"]["enum"]
    assert set(enum) == source


def test_every_code_but_the_generic_ones_is_an_answer_of_some_operation(all_on: None) -> None:
    schema = generate()
    answered = {example["value"]["code"]
                for op in _operations(schema).values()
                for status, response in op["responses"].items() if int(status) >= 400
                for example in response["content"]["application/json"]["examples"].values()}
    assert set(schema["components"]["schemas"]["DualAuthErrorCode"]["enum"]) - answered == GENERIC_ONLY | REDIRECT_ONLY
    description = _operations(schema)[("/auth/oauth/{provider}/callback", "get")]["description"]
    assert all(f"`{code}`" in description for code in REDIRECT_ONLY)


def test_every_error_answer_uses_the_shared_error_schema(all_on: None) -> None:
    for (where, method), op in _operations(generate()).items():
        for status, response in op["responses"].items():
            if int(status) >= 400:
                ref = response["content"]["application/json"]["schema"]["$ref"]
                assert ref == "#/components/schemas/DualAuthError", (where, method, status)
                codes = [e["value"]["code"] for e in response["content"]["application/json"]["examples"].values()]
                assert f"`{codes[0]}`" in response["description"]


def test_protected_endpoints_document_their_401s_and_every_endpoint_its_503(all_on: None) -> None:
    ops = _operations(generate())
    me = ops[("/auth/me", "get")]["responses"]
    assert {e["value"]["code"] for e in me["401"]["content"]["application/json"]["examples"].values()} == {
        "NOT_AUTHENTICATED", "INVALID_ACCESS_TOKEN", "SESSION_REVOKED"}
    assert "Retry-After" in me["503"]["headers"]
    assert all("503" in op["responses"] for op in ops.values())


# --- the deliveries and the security schemes ------------------------------------------------------

def test_session_answers_are_the_bearer_body_or_the_cookie_body(all_on: None) -> None:
    schema = generate()
    components = schema["components"]["schemas"]
    bearer, cookie = components["DualAuthBearerSession"], components["DualAuthCookieSession"]
    assert {"accessToken", "refreshToken"} <= set(bearer["required"])
    assert "refreshToken" not in cookie["properties"]  # no secret of the cookie delivery in the body
    refresh = _operations(schema)[("/auth/refresh", "post")]["responses"]["200"]
    assert refresh["content"]["application/json"]["schema"]["$ref"] == "#/components/schemas/DualAuthSession"
    assert {m["$ref"].rsplit("/", 1)[1] for m in components["DualAuthSession"]["anyOf"]} == {
        "DualAuthBearerSession", "DualAuthCookieSession"}
    assert "Set-Cookie" in refresh["headers"]
    examples = refresh["content"]["application/json"]["examples"]
    assert "refreshToken" in examples["Bearer"]["value"] and "refreshToken" not in examples["Cookie"]["value"]
    login = _operations(schema)[("/auth/login", "post")]
    assert [p["name"] for p in login["parameters"] if p["in"] == "header"] == ["X-Auth-Strategy"]


def test_the_two_security_schemes_and_csrf_on_unsafe_methods(all_on: None) -> None:
    schema = generate()
    schemes = schema["components"]["securitySchemes"]
    assert schemes["dualauthBearer"] == {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
    assert schemes["dualauthCookie"]["in"] == "cookie" and schemes["dualauthCookie"]["name"].endswith("accessToken")
    assert schemes["dualauthCsrf"] == {**schemes["dualauthCsrf"], "in": "header", "name": "X-Csrf-Token"}
    ops = _operations(schema)
    assert ops[("/auth/me", "get")]["security"] == [{"dualauthBearer": []}, {"dualauthCookie": []}]
    assert ops[("/auth/logout-all", "post")]["security"] == [
        {"dualauthBearer": []}, {"dualauthCookie": [], "dualauthCsrf": []}]
    assert ops[("/auth/2fa/setup", "post")]["security"][0] == {"dualauthSetupToken": []}
    assert ops[("/auth/login", "post")]["security"] == [{}]


def test_a_project_schema_merges_the_package_and_its_own_views_show_both_schemes(settings: Any,
                                                                                   all_on: None) -> None:
    # The project's own schema: drf-spectacular's schema class, none of the include's settings,
    # no hook; WhoAmI is a project view with DualAuthentication.
    settings.REST_FRAMEWORK = {"DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema"}
    patterns = [path("auth/", include("django_dualauth.urls")),
                path("admin/api/", include("django_dualauth.staff.urls")), path("api/whoami", WhoAmI.as_view())]
    schema = SchemaGenerator(patterns=patterns).get_schema(public=True)
    whoami = schema["paths"]["/api/whoami"]
    assert whoami["get"]["security"] == [{"dualauthBearer": []}, {"dualauthCookie": []}]
    assert whoami["post"]["security"] == [{"dualauthBearer": []}, {"dualauthCookie": [], "dualauthCsrf": []}]
    assert {"dualauthBearer", "dualauthCookie", "dualauthCsrf"} <= set(schema["components"]["securitySchemes"])
    assert set(_operations(schema)) >= set(_operations(generate()))


# --- served, with its viewer, under both deliveries -----------------------------------------------

def test_the_include_serves_the_schema_as_json_and_yaml(auth_client: Any, all_on: None) -> None:
    response = auth_client.get("/auth/openapi/schema.json")
    assert response.status_code == 200, response.content
    served = json.loads(response.content)
    validate_schema(served)
    assert set(_operations(served)) == set(_operations(generate()))
    yaml = auth_client.get("/auth/openapi/schema.yaml")
    assert yaml.status_code == 200 and b"/auth/login:" in yaml.content


def test_the_served_schema_follows_the_settings(auth_client: Any, settings: Any) -> None:
    settings.DUALAUTH_SMS_ENABLED = False
    served = json.loads(auth_client.get("/auth/openapi/schema.json").content)
    assert "/auth/sms/send" not in served["paths"] and "/auth/login" in served["paths"]


@pytest.mark.parametrize(("page", "asset"), [("docs", "swagger-ui-dist/swagger-ui-bundle.js"),
                                            ("redoc", "redoc/bundles/redoc.standalone.js")])
def test_the_viewers_are_served_offline_from_the_sidecar(auth_client: Any, page: str, asset: str) -> None:
    response = auth_client.get(f"/auth/openapi/{page}")
    assert response.status_code == 200
    html = response.content.decode()
    assert f"/static/drf_spectacular_sidecar/{asset}" in html
    assert "cdn.jsdelivr.net" not in html
    assert "/auth/openapi/schema" in html


# --- a project without drf-spectacular ------------------------------------------------------------

WITHOUT_SPECTACULAR = r"""
import importlib.abc, io, sys

class Absent(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name.partition(".")[0] in ("drf_spectacular", "drf_spectacular_sidecar"):
            raise ModuleNotFoundError(f"No module named {name!r}")
        return None

sys.meta_path.insert(0, Absent())
import django
from django.conf import settings
import tests.settings as base
values = {k: getattr(base, k) for k in dir(base) if k.isupper()}
values["INSTALLED_APPS"] = [a for a in base.INSTALLED_APPS if not a.startswith("drf_spectacular")]
values["ROOT_URLCONF"] = "tests.package_urls"
settings.configure(**values)
django.setup()
from django.core.management import call_command
from django.test import Client
call_command("check", stdout=io.StringIO())
client = Client()
assert client.get("/auth/ui/config").status_code == 200
bad = client.post("/auth/login", "{", content_type="application/json", HTTP_X_AUTH_STRATEGY="bearer")
assert bad.status_code == 400 and bad.json()["code"] == "BAD_REQUEST", bad.content
assert not [m for m in sys.modules if m.startswith("drf_spectacular")]
print("ok")
"""


def test_the_package_works_without_drf_spectacular() -> None:
    result = subprocess.run([sys.executable, "-c", WITHOUT_SPECTACULAR], cwd=ROOT, capture_output=True, text=True,
                            timeout=120, check=False)
    assert result.returncode == 0 and result.stdout.strip() == "ok", result.stderr[-3000:]


def _field_tree(serializer: Any) -> dict[str, Any]:
    """The field names of a body serializer, nested serializers as sub-trees."""
    from rest_framework import serializers

    return {name: _field_tree(field) if isinstance(field, serializers.Serializer) else None
            for name, field in serializer.fields.items()}


def _key_tree(document: dict[str, Any]) -> dict[str, Any]:
    return {k: _key_tree(v) if isinstance(v, dict) else None for k, v in document.items()}


def test_the_jwks_answer_is_documented_as_a_jwk_set_with_its_cache_headers(all_on: None) -> None:
    schema = generate()
    op = _operations(schema)[("/auth/.well-known/jwks.json", "get")]
    ok = op["responses"]["200"]
    assert ok["content"]["application/json"]["schema"]["$ref"] == "#/components/schemas/DualAuthJwkSet"
    assert {"ETag", "Cache-Control"} <= set(ok["headers"]) and "304" in op["responses"]
    assert [p["name"] for p in op["parameters"] if p["in"] == "header"] == ["If-None-Match"]
    assert op["security"] == [{}]  # public
    assert op["operationId"] == "jwks_retrieve"
    jwk = schema["components"]["schemas"]["DualAuthJwk"]
    assert {"kid", "kty", "alg", "use"} <= set(jwk["required"])
    assert not {"d", "p", "q", "dp", "dq", "qi", "k"} & set(jwk["properties"])


def test_the_jwk_schema_names_every_member_the_view_publishes(settings: Any) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

    from django_dualauth.conf import snapshot
    from django_dualauth.openapi.bodies import DualAuthJwkSerializer

    def pem(key: Any) -> str:
        return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                 serialization.NoEncryption()).decode()

    settings.DUALAUTH_JWT_KEYS = [
        _es256_key(), {"kid": "ed", "algorithm": "EdDSA", "private_key": pem(ed25519.Ed25519PrivateKey.generate())},
        {"kid": "rs", "algorithm": "RS256", "private_key": pem(rsa.generate_private_key(65537, 2048))}]
    jwk_set = snapshot().jwk_set
    assert jwk_set is not None
    members = {member for key in json.loads(jwk_set.body)["keys"] for member in key}
    assert members == set(DualAuthJwkSerializer().fields)


def test_the_ui_config_schema_names_exactly_what_the_view_answers() -> None:
    """The document is built by hand in ``api/ui_config.py`` and described by hand in
    ``openapi/bodies.py``: a field added to one and not the other fails here."""
    from django_dualauth.api.ui_config import ui_config
    from django_dualauth.openapi.bodies import DualAuthUiConfigSerializer

    assert _field_tree(DualAuthUiConfigSerializer()) == _key_tree(ui_config("/auth"))


# --- the links (tests/test_fuzz.py follows them) --------------------------------------------------

def _pointer(schema: dict[str, Any], document: dict[str, Any], pointer: str) -> bool:
    """Whether the JSON pointer ``pointer`` names a property of ``document`` (a response schema),
    through ``$ref``, ``anyOf`` members and array items."""
    if "$ref" in document:
        return _pointer(schema, schema["components"]["schemas"][document["$ref"].rsplit("/", 1)[1]], pointer)
    if "anyOf" in document:
        return any(_pointer(schema, member, pointer) for member in document["anyOf"])
    if not pointer:
        return True
    head, _, rest = pointer.partition("/")
    if document.get("type") == "array":
        return head.isdigit() and _pointer(schema, document["items"], rest)
    return head in document.get("properties", {}) and _pointer(schema, document["properties"][head], rest)


def test_every_link_names_an_operation_its_parameters_and_fields_of_the_answer(all_on: None) -> None:
    schema = generate()
    by_id = {op["operationId"]: (where, op) for (where, _), op in _operations(schema).items()}
    links = [(op, status, name, link) for op in _operations(schema).values()
             for status, answer in op["responses"].items() for name, link in answer.get("links", {}).items()]
    expressions = []
    for op, status, name, link in links:
        assert link["operationId"] in by_id, name
        where, target = by_id[link["operationId"]]
        declared = {p["name"] for p in target.get("parameters", [])}
        assert set(link.get("parameters", {})) <= declared, (name, where)
        body = target.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema")
        if "requestBody" in link:
            assert body is not None, (name, where)
            assert all(_pointer(schema, body, field) for field in link["requestBody"]), (name, where)
        expressions += [(op, status, e) for e in [*link.get("parameters", {}).values(),
                                                  *link.get("requestBody", {}).values()]]
    for op, status, expression in expressions:
        assert expression.startswith("$response.body#/"), expression
        answer = op["responses"][status]["content"]["application/json"]["schema"]
        assert _pointer(schema, answer, expression.removeprefix("$response.body#/")), expression
    named = {(op["operationId"], name) for op, _, name, _ in links}
    assert {("login_create", "me"), ("login_create", "refresh"), ("login_create", "logout"),
            ("login_create", "twoFactorVerify"), ("refresh_create", "refresh"),
            ("sessions_retrieve", "endSession"), ("2fa_verify_create", "me")} <= named


def test_a_link_whose_target_is_off_is_absent(all_on: None, settings: Any) -> None:
    settings.DUALAUTH_SMS_ENABLED = False  # no link targets SMS; the links stay whole
    login = _operations(generate())[("/auth/login", "post")]["responses"]["200"]["links"]
    assert set(login) == {"me", "sessions", "refresh", "logout", "twoFactorVerify"}


# --- what the schema fuzzing found (tests/test_fuzz.py) --------------------------------------------

def test_input_strings_show_that_blank_is_refused(all_on: None) -> None:
    components = generate()["components"]["schemas"]
    login = components["DualAuthLoginRequest"]["properties"]
    assert login["password"]["minLength"] == 1 and "pattern" not in login["password"]  # not trimmed
    code = components["DualAuthVerifySetupRequest"]["properties"]["token"]
    assert code["minLength"] == 1 and code["pattern"] == r"\S"  # trimmed first: "  " is blank too
    names = components["PatchedDualAuthProfileRequest"]["properties"]
    assert "minLength" not in names["firstName"]  # "" clears a name


def test_names_are_bounded_by_the_user_model(all_on: None, django_user_model: Any) -> None:
    limit = django_user_model._meta.get_field("first_name").max_length
    for component in ("PatchedDualAuthProfileRequest", "DualAuthRegisterRequest"):
        names = generate()["components"]["schemas"][component]["properties"]
        assert names["firstName"]["maxLength"] == names["lastName"]["maxLength"] == limit


def test_the_bearer_header_has_no_enum_since_any_other_value_means_cookie(all_on: None) -> None:
    login = _operations(generate())[("/auth/login", "post")]
    header = next(p for p in login["parameters"] if p["name"] == "X-Auth-Strategy")
    assert "enum" not in header["schema"] and "`bearer`" in header["description"]


def test_logout_accepts_any_value_and_refresh_a_null_token(all_on: None) -> None:
    components = generate()["components"]["schemas"]
    assert components["DualAuthLogoutRequest"]["properties"]["refreshToken"].get("type") is None
    assert components["DualAuthRefreshRequest"]["properties"]["refreshToken"]["nullable"] is True
