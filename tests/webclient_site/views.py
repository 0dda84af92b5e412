"""The harness's views and middleware (see settings.py)."""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable
from typing import Any

from django.contrib.staticfiles.views import serve
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from django_dualauth.delivery.cookies import access_cookie_name, refresh_cookie_name

_lock = threading.Lock()
_log: list[dict[str, Any]] = []  # one worker process (live_server): one log
_refreshes = threading.Condition()
_in_flight = 0  # refreshes being answered now (RequestLog's hold)

#: The page: the client on ``window.client``, its events in ``window.events``, and every fetch it
#: made in ``window.requests``.
PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>dualauth.js harness</title></head>
<body><h1>dualauth.js harness</h1><pre id="out"></pre>
<script type="module">
const { DualAuthClient, DualAuthError } = await import(BASE_SCRIPT);
window.requests = [];
const original = window.fetch.bind(window);
window.fetch = (input, init) => {
  window.requests.push({ url: String(input), method: (init && init.method) || "GET" });
  return original(input, init);
};
window.DualAuthClient = DualAuthClient;
window.DualAuthError = DualAuthError;
window.events = [];
window.newClient = (options) => {
  const client = new DualAuthClient(options);
  for (const type of ["signedin", "signedout"]) {
    client.addEventListener(type, (event) => window.events.push({ type, detail: event.detail }));
  }
  return client;
};
window.client = window.newClient(BASE_OPTIONS);
window.harnessReady = true;
</script></body></html>
"""


def page(script: str, options: dict[str, Any]) -> str:
    """The harness page importing the client from ``script`` with these client options."""
    return PAGE.replace("BASE_SCRIPT", json.dumps(script)).replace("BASE_OPTIONS", json.dumps(options))


def harness(request: HttpRequest) -> HttpResponse:
    return HttpResponse(page("/static/dualauth/dualauth.js", {}))


def log(request: HttpRequest) -> JsonResponse:
    with _lock:
        return JsonResponse(list(_log), safe=False)


def always_401(request: HttpRequest) -> JsonResponse:
    """An API that refuses every access token, even a fresh one: the client must not loop."""
    return JsonResponse({"error": "Invalid or expired access token", "code": "INVALID_ACCESS_TOKEN"}, status=401)


@csrf_exempt
def redirect_307(request: HttpRequest) -> HttpResponse:
    """A same-origin URL that sends any request on to ``?to=`` (307 keeps the method, body and
    headers): what an open redirect on the API's or the page's origin would do."""
    response = HttpResponse(status=307)
    response["Location"] = request.GET.get("to", "/")
    return response


def static(request: HttpRequest, path: str) -> HttpResponse:
    return serve(request, path, insecure=True)


class RequestLog:
    """Writes down each answered request (never a cookie's or a token's value)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.hold = float(os.environ.get("WEBCLIENT_REFRESH_HOLD_SECONDS", "0"))

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path.startswith("/harness/log"):
            return self.get_response(request)
        overlap = None
        if self.hold and request.path == "/auth/refresh":
            overlap, response = self._held(request)
        else:
            response = self.get_response(request)
        code = None
        if response.get("Content-Type", "").startswith("application/json") and response.status_code >= 400:
            try:
                code = json.loads(response.content).get("code")
            except (ValueError, AttributeError):
                code = None
        sent = request.META.get("HTTP_COOKIE", "")
        with _lock:
            _log.append({
                "method": request.method, "path": request.path, "status": response.status_code, "code": code,
                "access": f"{access_cookie_name()}=" in sent, "refresh": f"{refresh_cookie_name()}=" in sent,
                "site": request.META.get("HTTP_SEC_FETCH_SITE"), "origin": request.META.get("HTTP_ORIGIN"),
                "csrfHeader": bool(request.META.get("HTTP_X_CSRF_TOKEN")),
                "overlap": overlap,
            })
        return response

    def _held(self, request: HttpRequest) -> tuple[int, HttpResponse]:
        """Hold a refresh until another is in flight (or ``hold`` s passed); answer it; how many
        refreshes were in flight at most while it was held."""
        global _in_flight
        with _refreshes:
            _in_flight += 1
            _refreshes.notify_all()
            _refreshes.wait_for(lambda: _in_flight >= 2, timeout=self.hold)
            overlap = _in_flight
        try:
            return overlap, self.get_response(request)
        finally:
            with _refreshes:
                _in_flight -= 1


class CorsForTests:
    """Just enough CORS for one trusted test origin (``WEBCLIENT_CORS_ORIGIN``), with credentials;
    what django-cors-headers does in a real deployment (docs/tutorial-web-spa.md)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.origin = os.environ.get("WEBCLIENT_CORS_ORIGIN", "")

    def __call__(self, request: HttpRequest) -> HttpResponse:
        allowed = bool(self.origin) and request.META.get("HTTP_ORIGIN") == self.origin
        if allowed and request.method == "OPTIONS" and "HTTP_ACCESS_CONTROL_REQUEST_METHOD" in request.META:
            response = HttpResponse(status=204)
            response["Access-Control-Allow-Methods"] = "GET, POST, PUT, PATCH, DELETE"
            response["Access-Control-Allow-Headers"] = "content-type, x-csrf-token"
            response["Access-Control-Max-Age"] = "600"
        else:
            response = self.get_response(request)
        if allowed:
            response["Access-Control-Allow-Origin"] = self.origin
            response["Access-Control-Allow-Credentials"] = "true"
            response["Access-Control-Expose-Headers"] = "Retry-After"
        response["Vary"] = "Origin" if "Vary" not in response else f"{response['Vary']}, Origin"
        return response
