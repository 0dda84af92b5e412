"""The one place that maps errors to HTTP: every error of our endpoints, and every refusal of
our authentication classes, becomes JSON ``{"error": message, "code": CODE}`` with its status
and headers (``WWW-Authenticate`` on a 401, ``Retry-After`` on a 429 or 503)."""

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

__all__ = ["REALM", "INVALID_TOKEN_CHALLENGE", "DRF_CODES", "FALLBACK", "VALIDATION", "as_drf_exception",
           "error_answer", "exception_handler"]

#: The ``WWW-Authenticate`` challenge of every 401 (RFC 6750 §3).
REALM = 'Bearer realm="api"'
#: The challenge when the request carried an access token that was refused (RFC 6750 §3.1).
INVALID_TOKEN_CHALLENGE = f'{REALM}, error="invalid_token"'


def error_answer(error: DualAuthError) -> tuple[int, dict[str, Any], dict[str, str]]:
    """``(status, body, headers)`` of a domain error."""
    headers: dict[str, str] = {}
    if isinstance(error, RateLimited | ServiceUnavailable):
        headers["Retry-After"] = str(error.retry_after)
    if error.status == 401:
        headers["WWW-Authenticate"] = REALM
    return error.status, error.as_dict(), headers


class _DualAuthFailed(exceptions.AuthenticationFailed):
    pass


class _DualAuthRefused(exceptions.APIException):
    pass


def as_drf_exception(error: DualAuthError) -> exceptions.APIException:
    """A DRF exception for an authentication class to raise: it answers as
    :func:`error_answer` under any exception handler, DRF's default one included.

    A 401 is an ``AuthenticationFailed`` (DRF then asks the view's first authentication class
    for the challenge); ``wait`` is what DRF's default handler sends as ``Retry-After``.
    """
    status, body, headers = error_answer(error)
    exc: exceptions.APIException = (_DualAuthFailed if status == 401 else _DualAuthRefused)(detail=body)
    exc.status_code = status
    if "Retry-After" in headers:
        exc.wait = int(headers["Retry-After"])  # type: ignore[attr-defined]  # read by DRF's handler
    return exc

#: ``(exception class, code, message)`` of DRF's exceptions, first match wins (docs/errors.md,
#: "Generic HTTP errors"; the OpenAPI schema documents them from here).
DRF_CODES: list[tuple[type[exceptions.APIException], str, str]] = [
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
#: ``(code, message)`` of DRF's ``ValidationError`` (the body adds ``fields``).
VALIDATION = ("VALIDATION_ERROR", "Invalid input")
#: ``(code, message)`` of any other DRF ``APIException``.
FALLBACK = ("ERROR", "Request failed")


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
        status, body, headers = error_answer(exc)
    elif isinstance(exc, exceptions.ValidationError):
        status = 400
        body = {"error": VALIDATION[1], "code": VALIDATION[0], "fields": _fields(exc.detail)}
    elif isinstance(exc, exceptions.APIException):
        status = exc.status_code
        if isinstance(exc.detail, dict) and "code" in exc.detail:
            body = {k: str(v) for k, v in exc.detail.items()}
        else:
            code, message = next(((c, m) for cls, c, m in DRF_CODES if isinstance(exc, cls)), FALLBACK)
            body = {"error": message, "code": code}
        if getattr(exc, "auth_header", None):
            headers["WWW-Authenticate"] = exc.auth_header  # type: ignore[attr-defined]
        if getattr(exc, "wait", None):
            headers["Retry-After"] = str(int(exc.wait))  # type: ignore[attr-defined]
    else:
        return None
    if status == 401 and "WWW-Authenticate" not in headers:
        headers["WWW-Authenticate"] = REALM
    return no_store(Response(body, status=status, headers=headers))
