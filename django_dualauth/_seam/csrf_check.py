"""Django's CSRF check (``CsrfViewMiddleware``) as a function that returns why it refused.

The middleware answers a refusal with ``_reject`` (a private method), which renders
``CSRF_FAILURE_VIEW`` and logs; the delivery layer wants only the verdict, to answer in the
package's own JSON. No reference path: the public alternative (running the middleware and
inspecting the failure view's response) renders a page and logs a second warning per refusal.
If a Django release renames ``_reject``, the failure view's response is returned instead, which
is still a truthy refusal.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponseBase
from django.middleware.csrf import CsrfViewMiddleware

__all__ = ["CsrfCheck"]


def _no_view(request: HttpRequest) -> HttpResponseBase:
    raise AssertionError("never called: the middleware only reads its csrf_exempt flag")


class CsrfCheck(CsrfViewMiddleware):
    """One instance per settings snapshot (``conf.Snapshot.csrf_check``): it keeps what it parses
    from ``CSRF_TRUSTED_ORIGINS`` on itself and holds no per-request state."""

    def __init__(self) -> None:
        super().__init__(_no_view)

    def _reject(self, request: HttpRequest, reason: str) -> str:  # the verdict, not a page
        return reason

    def refusal(self, request: HttpRequest) -> str | None:
        """Why Django's check refuses ``request`` (the CSRF cookie against its header), or None."""
        self.process_request(request)
        reason = self.process_view(request, _no_view, (), {})
        return str(reason) if reason else None
