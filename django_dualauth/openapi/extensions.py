"""drf-spectacular's extensions for the package: importing this module registers them.

* :class:`DualAuthViews` describes every view of ``django_dualauth.urls`` from
  :data:`.operations.OPERATIONS` (and leaves out the methods of a feature that is off);
* :class:`DualAuthenticationScheme` and :class:`SetupTokenScheme` give the security schemes, so a
  project's own views with ``DualAuthentication`` show both of them in the project's schema;
* :class:`AnyOfBody` and :class:`NamedEnum` shape the unions and the named enums (the error codes).
"""

from __future__ import annotations

import re
from collections import defaultdict
from typing import Any

from django.http import HttpRequest
from drf_spectacular.extensions import (
    OpenApiAuthenticationExtension,
    OpenApiSerializerExtension,
    OpenApiSerializerFieldExtension,
    OpenApiViewExtension,
)
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.plumbing import build_bearer_security_scheme_object
from drf_spectacular.utils import (
    Direction,
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
)
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.settings import api_settings
from rest_framework.views import APIView

from .. import delivery
from ..api.base import DualAuthAPIView, FeatureView
from ..api.inputs import NameField, StrictCharField
from ..authentication import DualAuthentication, SetupTokenAuthentication
from ..conf import dualauth_settings
from ..exceptions import (
    AccessTokenInvalid,
    BadRequest,
    CSRFFailed,
    PayloadTooLarge,
    ServiceUnavailable,
    SessionRevoked,
    UnsupportedMediaType,
)
from . import bodies
from .errors import VALIDATION_REFUSAL, DualAuthErrorSerializer, Refusal, domain, drf_refusal
from .operations import OPERATIONS, RATE_LIMITED, Operation
from .staff import STAFF_OPERATIONS

__all__ = ["described", "BEARER_SCHEME", "COOKIE_SCHEME", "CSRF_SCHEME", "SETUP_SCHEME", "DualAuthViews",
           "DualAuthenticationScheme", "SetupTokenScheme", "AnyOfBody", "NamedEnum", "StrictString", "Name"]

BEARER_SCHEME = "dualauthBearer"
COOKIE_SCHEME = "dualauthCookie"
CSRF_SCHEME = "dualauthCsrf"
SETUP_SCHEME = "dualauthSetupToken"

_BODY_METHODS = frozenset({"post", "put", "patch", "delete"})
_TAG = "dualauth"


def _requirements(method: str | None) -> list[dict[str, list[Any]]]:
    """Bearer, or the access cookie (with the CSRF header on an unsafe method)."""
    cookie: dict[str, list[Any]] = {COOKIE_SCHEME: []}
    if (method or "GET").upper() not in delivery.SAFE_METHODS:
        cookie[CSRF_SCHEME] = []
    return [{BEARER_SCHEME: []}, cookie]


class DualAuthenticationScheme(OpenApiAuthenticationExtension):  # type: ignore[no-untyped-call]  # its __init_subclass__
    """:class:`~django_dualauth.authentication.DualAuthentication` (and its subclasses): a JWT as
    ``Authorization: Bearer``, or the HttpOnly access cookie plus the CSRF header."""

    target_class = DualAuthentication
    match_subclasses = True
    name = [BEARER_SCHEME, COOKIE_SCHEME, CSRF_SCHEME]

    def get_security_requirement(self, auto_schema: AutoSchema) -> list[dict[str, list[Any]]]:
        return _requirements(getattr(auto_schema, "method", None))

    def get_security_definition(self, auto_schema: AutoSchema) -> list[dict[str, Any]]:
        return [
            build_bearer_security_scheme_object("Authorization", "Bearer", "JWT"),
            {"type": "apiKey", "in": "cookie", "name": delivery.access_cookie_name(),
             "description": "Set by the cookie delivery (HttpOnly); a browser sends it by itself."},
            {"type": "apiKey", "in": "header", "name": delivery.csrf_header_name(),
             "description": f"The `{dualauth_settings.CSRF_COOKIE_NAME}` cookie's value (or `GET csrf`), "
                            "on unsafe requests with the access cookie."},
        ]


class SetupTokenScheme(OpenApiAuthenticationExtension):  # type: ignore[no-untyped-call]  # its __init_subclass__
    """:class:`~django_dualauth.authentication.SetupTokenAuthentication`: the setup temp token of a
    ``2FA_SETUP_REQUIRED`` login, as ``Authorization: Bearer`` (or the body's ``tempToken``)."""

    target_class = SetupTokenAuthentication
    match_subclasses = True
    name = SETUP_SCHEME

    def get_security_definition(self, auto_schema: AutoSchema) -> dict[str, Any]:
        scheme = build_bearer_security_scheme_object("Authorization", "Bearer")
        scheme["description"] = "The setup temp token of a `2FA_SETUP_REQUIRED` login (opens the setup only)."
        return scheme


class AnyOfBody(OpenApiSerializerExtension):  # type: ignore[no-untyped-call]  # its __init_subclass__
    """:class:`.bodies.AnyOf`: ``anyOf`` its members, each a component of its own."""

    target_class = bodies.AnyOf
    match_subclasses = True

    def map_serializer(self, auto_schema: AutoSchema, direction: Direction) -> dict[str, Any]:
        members = self.target.members  # the target is the AnyOf subclass itself
        return {"anyOf": [auto_schema.resolve_serializer(m, direction).ref for m in members],
                "description": (self.target.__doc__ or "").strip()}


class NamedEnum(OpenApiSerializerFieldExtension):  # type: ignore[no-untyped-call]  # its __init_subclass__
    """:class:`.bodies.NamedChoiceField`: its choices as the enum component it names."""

    target_class = bodies.NamedChoiceField
    match_subclasses = True

    def get_name(self) -> str:
        return str(self.target.enum_name)

    def map_serializer_field(self, auto_schema: AutoSchema, direction: Direction) -> dict[str, Any]:
        return {"type": "string", "enum": list(self.target.choices)}


def _strict_string(field: StrictCharField) -> dict[str, Any]:
    """A string as the serializer checks it; beside the length bounds (what drf-spectacular
    shows), the empty string it refuses unless ``allow_blank``, and, where DRF trims the value
    first, a blank one. drf-spectacular adds the field's description and ``nullable``."""
    schema: dict[str, Any] = {"type": "string"}
    if field.max_length is not None:
        schema["maxLength"] = field.max_length
    least = field.min_length if field.min_length is not None else (0 if field.allow_blank else 1)
    if least:
        schema["minLength"] = least
    if not field.allow_blank and field.trim_whitespace:
        schema["pattern"] = r"\S"
    return schema


class StrictString(OpenApiSerializerFieldExtension):  # type: ignore[no-untyped-call]  # its __init_subclass__
    """The package's input strings (:class:`~django_dualauth.api.inputs.StrictCharField`, its
    password field)."""

    target_class = StrictCharField
    match_subclasses = True

    def map_serializer_field(self, auto_schema: AutoSchema, direction: Direction) -> dict[str, Any]:
        return _strict_string(self.target)


class Name(OpenApiSerializerFieldExtension):  # type: ignore[no-untyped-call]  # its __init_subclass__
    """A first or last name: at most what the user model's field stores (``services.profile_names``)."""

    target_class = NameField
    priority = 1  # before StrictString, which matches it too

    def map_serializer_field(self, auto_schema: AutoSchema, direction: Direction) -> dict[str, Any]:
        return {**_strict_string(self.target), "maxLength": self.target.model_limit()}


def described(view: type[Any]) -> dict[str, Operation] | None:
    """The operations of ``view``, or of its nearest class that has them (a project's subclass of
    a package view inherits its description); None for any other view."""
    for cls in getattr(view, "__mro__", ()):
        if cls in OPERATIONS:
            return OPERATIONS[cls]
        if cls in STAFF_OPERATIONS:
            return STAFF_OPERATIONS[cls]
    return None


def _enabled(view: type[APIView], method: str) -> bool:
    """Whether the view answers ``method`` now: a feature that is off answers 404 (FeatureView)."""
    if not issubclass(view, FeatureView):
        return True
    http = HttpRequest()
    http.method = method.upper()
    instance = view()
    instance.request = Request(http)
    return instance.enabled()


def _authenticators(view: type[APIView]) -> list[type[Any]]:
    return list(getattr(view, "authentication_classes", []))


def _refusals(view: type[APIView], method: str, op: Operation) -> list[Refusal]:
    """The operation's own errors and those it shares with every endpoint of its kind."""
    found = list(op.refusals)
    if method in _BODY_METHODS:
        found += [domain(BadRequest), domain(PayloadTooLarge), domain(UnsupportedMediaType)]
    if op.request is not None or op.query or op.query_serializer is not None:
        found.append(VALIDATION_REFUSAL)
    auth = _authenticators(view)
    if any(issubclass(a, DualAuthentication) for a in auth):
        found += [domain(AccessTokenInvalid), domain(SessionRevoked)]
        if IsAuthenticated in getattr(view, "permission_classes", []):
            found.append(drf_refusal("NOT_AUTHENTICATED"))
    checks_csrf = (method in _BODY_METHODS and bool(auth)) or op.issues_session or op.csrf_checked
    if checks_csrf:
        found.append(domain(CSRFFailed))
    if op.rate_limited:
        found.append(RATE_LIMITED)
    found.append(domain(ServiceUnavailable))
    unique: dict[tuple[int, str], Refusal] = {}
    for refusal in found:
        unique.setdefault((refusal.status, refusal.code), refusal)
    return list(unique.values())


def _error_responses(refusals: list[Refusal]) -> dict[int, OpenApiResponse]:
    by_status: dict[int, list[Refusal]] = defaultdict(list)
    for refusal in refusals:
        by_status[refusal.status].append(refusal)
    return {
        status: OpenApiResponse(
            DualAuthErrorSerializer,
            description=", ".join(f"`{r.code}`" for r in listed) + " (docs/errors.md).",
            examples=[OpenApiExample(r.code, value=r.example, status_codes=[status], response_only=True)
                      for r in listed])
        for status, listed in sorted(by_status.items())
    }


_BEARER_EXAMPLE = {"success": True, "accessToken": "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9…",
                   "refreshToken": "k3J9…", "expiresIn": 900}
_COOKIE_EXAMPLE = {"success": True, "expiresIn": 900}
_CHALLENGE_EXAMPLE = {"requiresTwoFactor": True, "tempToken": "Zm9v…", "available2faMethods": ["totp"]}


def _success_examples(serializer: Any, status: int) -> list[OpenApiExample]:
    if serializer not in (bodies.SessionAnswer, bodies.LoginAnswer):
        return []
    examples = [
        OpenApiExample("bearer", value=_BEARER_EXAMPLE, status_codes=[status], response_only=True,
                       summary="Bearer delivery: tokens in the body"),
        OpenApiExample("cookie", value=_COOKIE_EXAMPLE, status_codes=[status], response_only=True,
                       summary="Cookie delivery: tokens in Set-Cookie, no secret in the body"),
    ]
    if serializer is bodies.LoginAnswer:
        examples.append(OpenApiExample("two-factor", value=_CHALLENGE_EXAMPLE, status_codes=[status],
                                       response_only=True, summary="A second factor is due"))
    return examples


def _success_description(op: Operation, status: int) -> str:
    if status == 303:
        return "Sent on to the front-end page with the token (`Location`)."
    if status == 302:
        return "A browser redirect (`Location`); see the operation's description for where."
    if status == 304:
        return "Not modified: the `If-None-Match` tag is current (no body)."
    if op.cacheable:
        return "Cacheable for `max-age` seconds (`Cache-Control`); revalidate with `If-None-Match`."
    if op.issues_session:
        return ("Bearer delivery: the tokens are in the body. Cookie delivery: they are HttpOnly cookies "
                "(`Set-Cookie`) and the body carries no refresh token.")
    if op.ends_session:
        return "A cookie caller's token cookies are cleared (`Set-Cookie`)."
    return "Accepted: done off the request path." if status == 202 else "Done."


def _parameters(op: Operation, successes: list[int], errors: list[int]) -> list[Any]:
    params: list[Any] = [OpenApiParameter(name, str, OpenApiParameter.QUERY, required=True) for name in op.query]
    if op.query_serializer is not None:
        params.append(op.query_serializer)  # drf-spectacular lists its fields as query parameters
    if op.issues_session or op.csrf_checked:
        # No enum: the server reads any other value as no value (the cookie delivery), it refuses none.
        params += [OpenApiParameter(name, str, OpenApiParameter.HEADER,
                                    description=" or ".join(f"`{v}`" for v in values) + " asks for the bearer "
                                                "delivery (tokens in the body); any other value, or none, "
                                                "the cookie delivery.")
                   for name, values in dualauth_settings.BEARER_HEADERS.items()]
    if op.issues_session or op.ends_session:
        params.append(OpenApiParameter(
            "Set-Cookie", str, OpenApiParameter.HEADER, response=successes,
            description=f"Cookie delivery: `{delivery.access_cookie_name()}` and `{delivery.refresh_cookie_name()}`, "
                        "HttpOnly (set, or cleared when the session ends)."))
    redirects = [s for s in successes if s in (302, 303)]
    if redirects:
        params.append(OpenApiParameter("Location", str, OpenApiParameter.HEADER, response=redirects))
    if op.cacheable:
        params += [
            OpenApiParameter("If-None-Match", str, OpenApiParameter.HEADER,
                             description="An `ETag` of an earlier answer: 304 while it is current."),
            OpenApiParameter("ETag", str, OpenApiParameter.HEADER, response=successes),
            OpenApiParameter("Cache-Control", str, OpenApiParameter.HEADER, response=successes,
                             description="`public, max-age=N`."),
        ]
    waits = [s for s in errors if s in (429, 503)]
    if waits:
        params.append(OpenApiParameter("Retry-After", int, OpenApiParameter.HEADER, response=waits,
                                       description="Seconds to wait before retrying."))
    if 401 in errors:
        params.append(OpenApiParameter("WWW-Authenticate", str, OpenApiParameter.HEADER, response=[401]))
    return params


def _schema_of(view: type[APIView], method: str, op: Operation) -> Any:
    if not _enabled(view, method):
        return extend_schema(methods=[method], exclude=True)
    errors = _error_responses(_refusals(view, method, op))
    successes: dict[int, OpenApiResponse] = {
        status: OpenApiResponse(serializer, description=_success_description(op, status),
                                examples=_success_examples(serializer, status))
        for status, serializer in op.answers.items()
    }
    return extend_schema(
        methods=[method], summary=op.summary, description=op.description or None, tags=[_TAG],
        request=op.request, responses={**successes, **errors},
        parameters=_parameters(op, list(successes), list(errors)),
    )


def _schema_class() -> type[AutoSchema]:
    """The project's schema class when it is drf-spectacular's (or a subclass), else drf-spectacular's."""
    configured = api_settings.DEFAULT_SCHEMA_CLASS
    return configured if isinstance(configured, type) and issubclass(configured, AutoSchema) else AutoSchema


class DualAuthViews(OpenApiViewExtension):  # type: ignore[no-untyped-call]  # its __init_subclass__
    """Every view of the package, described from :data:`.operations.OPERATIONS` at generation time,
    so the schema shows what the settings switch on then."""

    target_class = DualAuthAPIView
    match_subclasses = True

    def view_replacement(self) -> type[APIView]:
        operations = described(self.target)
        if operations is None:
            return self.target  # type: ignore[no-any-return]  # a project's own subclass: theirs to describe
        annotated = type(self.target.__name__, (self.target,), {
            "schema": _named_operations(_schema_class(), self.target, operations)(),
            "__module__": self.target.__module__,
            "__doc__": _summary_doc(self.target)})
        # Class decorations, one per method, each on top of the last: an annotation of the view
        # methods would take DRF's DEFAULT_SCHEMA_CLASS as its base, which need not be drf-spectacular's.
        for method, op in operations.items():
            annotated = _schema_of(self.target, method, op)(annotated)
        return annotated


def _named_operations(schema: type[AutoSchema], view: type[APIView],
                      operations: dict[str, Operation]) -> type[AutoSchema]:
    """``schema``, answering a stable ``operation_id``: the one an operation names (a class-level
    ``extend_schema(operation_id=...)`` is what drf-spectacular warns against), else drf-spectacular's
    own built from the route *inside its include*. drf-spectacular trims the common prefix of every
    path in the schema, so mounting a second include (the staff API at ``admin/api/``) would rename
    every operation (``login_create`` to ``auth_login_create``) and break generated clients."""
    names = {method: op.operation_id for method, op in operations.items() if op.operation_id}
    routes = _routes_of(view)

    def get_operation_id(self: AutoSchema) -> str:
        if name := names.get(self.method.lower()):
            return name
        for route, id_prefix in routes:
            if self.path.endswith("/" + route):
                trimmed, self.path_prefix = self.path_prefix, "^" + re.escape(self.path[:-len(route)])
                try:
                    return id_prefix + schema.get_operation_id(self)
                finally:
                    self.path_prefix = trimmed
        return schema.get_operation_id(self)  # a route of the project's own

    return type(schema.__name__, (schema,), {"get_operation_id": get_operation_id})


def _routes_of(view: type[APIView]) -> list[tuple[str, str]]:
    """``view``'s routes in the package's URL modules, OpenAPI-style (``sessions/{handle}``), each
    with the operation-id prefix of its include: none for ``auth/``, ``staff_`` for the staff API."""
    from .. import urls as package_urls  # the URL modules import every view: only at generation time
    from ..staff import urls as staff_urls

    return [(re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", str(pattern.pattern)), id_prefix)
            for module, id_prefix in ((package_urls, ""), (staff_urls, "staff_"))
            for pattern in module.urlpatterns
            if getattr(pattern.callback, "view_class", None) is view]


def _summary_doc(view: type[APIView]) -> str:
    # The view's docstring is written for the package's readers (reST roles); the schema's
    # description comes from the operations table instead.
    return re.sub(r"\s+", " ", (view.__doc__ or "").split("\n\n")[0]).strip()
