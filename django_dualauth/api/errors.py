"""Every error of our endpoints becomes JSON ``{"error": message, "code": CODE}``."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.db import connections, transaction
from django.http import Http404
from rest_framework import exceptions
from rest_framework.response import Response

from .. import audit
from ..delivery import no_store
from ..exceptions import DualAuthError, RateLimited, ServiceUnavailable, database_outage

__all__ = ["exception_handler"]

_DRF_CODES: list[tuple[type[exceptions.APIException], str, str]] = [
    (exceptions.NotAuthenticated, "NOT_AUTHENTICATED", "Authentication required"),
    (exceptions.AuthenticationFailed, "INVALID_ACCESS_TOKEN", "Invalid or expired access token"),
    (exceptions.ParseError, "BAD_REQUEST", "Malformed request"),
    (exceptions.UnsupportedMediaType, "UNSUPPORTED_MEDIA_TYPE",
     "Content-Type must be application/json"),
    (exceptions.MethodNotAllowed, "METHOD_NOT_ALLOWED", "Method not allowed"),
    (exceptions.NotAcceptable, "NOT_ACCEPTABLE", "Not acceptable"),
    (exceptions.PermissionDenied, "FORBIDDEN", "Forbidden"),
    (exceptions.NotFound, "NOT_FOUND", "Not found"),
    (exceptions.Throttled, "RATE_LIMITED", "Too many requests, try again later"),
]


def _fields(detail: Any) -> dict[str, list[str]]:
    if isinstance(detail, dict):
        return {str(k): [str(m) for m in (v if isinstance(v, list) else [v])]
                for k, v in detail.items()}
    return {"non_field_errors": [str(m) for m in (detail if isinstance(detail, list) else [detail])]}


def _roll_back_atomic_requests() -> None:
    # Under ATOMIC_REQUESTS the view returns normally with our 503, and Django would COMMIT
    # what the failed connection holds: an error there is an HTML 500. Roll back instead, as
    # DRF's own handler does for the exceptions it answers.
    for connection in connections.all(initialized_only=True):
        if connection.settings_dict.get("ATOMIC_REQUESTS") and connection.in_atomic_block:
            transaction.set_rollback(True, using=connection.alias)


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF exception handler for the package's views."""
    headers: dict[str, str] = {}
    outage = database_outage(exc)
    if outage is not None:
        audit.record_outage(outage.reason, getattr(context.get("request"), "path", ""))
        _roll_back_atomic_requests()
        exc = outage
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    if isinstance(exc, DualAuthError):
        status, body = exc.status, exc.as_dict()
        if isinstance(exc, RateLimited | ServiceUnavailable):
            headers["Retry-After"] = str(exc.retry_after)
    elif isinstance(exc, exceptions.ValidationError):
        status = 400
        body = {"error": "Invalid input", "code": "VALIDATION_ERROR", "fields": _fields(exc.detail)}
    elif isinstance(exc, exceptions.APIException):
        status = exc.status_code
        if isinstance(exc.detail, dict) and "code" in exc.detail:
            body = {k: str(v) for k, v in exc.detail.items()}
        else:
            code, message = next(((c, m) for cls, c, m in _DRF_CODES if isinstance(exc, cls)),
                                 ("ERROR", "Request failed"))
            body = {"error": message, "code": code}
        if getattr(exc, "auth_header", None):
            headers["WWW-Authenticate"] = exc.auth_header  # type: ignore[attr-defined]
        if getattr(exc, "wait", None):
            headers["Retry-After"] = str(int(exc.wait))  # type: ignore[attr-defined]
    else:
        return None
    if status == 401 and "WWW-Authenticate" not in headers:
        headers["WWW-Authenticate"] = 'Bearer realm="api"'
    return no_store(Response(body, status=status, headers=headers))
