"""A test client that drives the API the way each kind of client does, for projects that use the app.

``AuthClient("cookie")`` behaves as a browser: it fetches a CSRF token first and sends it with
``Origin`` on every unsafe request; the tokens live in its cookie jar. ``AuthClient("bearer")``
behaves as a native app: it sends ``X-Auth-Strategy: bearer``, keeps the tokens from the JSON
body and presents the access token as ``Authorization: Bearer``. A test written once against
its methods runs under both deliveries; ``django_dualauth.pytest_plugin`` parametrizes it.

This module builds requests, it never serves them: it is the one place outside ``delivery/``
that names the Authorization header and the cookie jar, from the client's side.
"""

from __future__ import annotations

from typing import Any, Literal

from django.conf import settings
from rest_framework.test import APIClient

from .delivery import access_cookie_name, refresh_cookie_name

Delivery = Literal["cookie", "bearer"]
DELIVERIES: tuple[Delivery, ...] = ("cookie", "bearer")


class AuthClient:
    """One client of one delivery, wrapping a DRF ``APIClient(enforce_csrf_checks=True)``.

    ``access_token`` and ``refresh_token`` hold what the server last issued (for ``cookie``,
    what the jar holds). ``prefix`` is where the project mounts ``django_dualauth.urls``;
    ``origin`` defaults to the first of ``CSRF_TRUSTED_ORIGINS``; ``email`` and ``password`` are
    what ``login()`` sends when it is given none.
    """

    def __init__(self, delivery: Delivery, *, prefix: str = "/auth/", origin: str | None = None,
                 email: str | None = None, password: str | None = None) -> None:
        if delivery not in DELIVERIES:
            raise ValueError(f"delivery must be one of {DELIVERIES}, not {delivery!r}")
        self.delivery = delivery
        self.prefix = prefix if prefix.endswith("/") else f"{prefix}/"
        trusted = list(getattr(settings, "CSRF_TRUSTED_ORIGINS", []))
        self.origin = origin or (trusted[0] if trusted else "http://testserver")
        self.client = APIClient(enforce_csrf_checks=True)
        self.email, self.password = email, password
        self.access_token: str | None = None
        self.refresh_token: str | None = None
        if self.is_cookie:
            self.client.get(self.url("csrf"))

    @property
    def is_cookie(self) -> bool:
        return self.delivery == "cookie"

    def url(self, endpoint: str) -> str:
        """The path of one of the app's endpoints (``"login"``, ``"2fa/verify"``, ...)."""
        return f"{self.prefix}{endpoint}"

    # --- what is sent ----------------------------------------------------------------------

    def csrf_token(self) -> str:
        morsel = self.client.cookies.get(settings.CSRF_COOKIE_NAME)
        return morsel.value if morsel else ""

    def headers(self, *, auth: bool = True) -> dict[str, str]:
        """The WSGI headers of this delivery: ``Origin`` and the CSRF token for ``cookie``;
        ``X-Auth-Strategy`` and (with ``auth``) the access token for ``bearer``."""
        if self.is_cookie:
            return {"HTTP_ORIGIN": self.origin, settings.CSRF_HEADER_NAME: self.csrf_token()}
        headers = {"HTTP_X_AUTH_STRATEGY": "bearer"}
        if auth and self.access_token:
            headers["HTTP_AUTHORIZATION"] = f"Bearer {self.access_token}"
        return headers

    def cookie(self, name: str) -> str | None:
        morsel = self.client.cookies.get(name)
        return morsel.value if morsel and morsel.value else None

    def use_access(self, token: str) -> None:
        """From now on, present ``token`` as the access token, through this delivery's channel."""
        if self.is_cookie:
            self.client.cookies[access_cookie_name()] = token
        self.access_token = token

    def use_refresh(self, token: str) -> None:
        """From now on, present ``token`` as the refresh token, through this delivery's channel."""
        if self.is_cookie:
            self.client.cookies[refresh_cookie_name()] = token
        self.refresh_token = token

    # --- what came back --------------------------------------------------------------------

    def issued_access(self, response: Any) -> str:
        """The access token a 200 ``response`` handed out, through this delivery."""
        if self.is_cookie:
            return str(response.cookies[access_cookie_name()].value)
        return str(response.json()["accessToken"])

    def issued_refresh(self, response: Any) -> str:
        """The refresh token a 200 ``response`` handed out, through this delivery."""
        if self.is_cookie:
            return str(response.cookies[refresh_cookie_name()].value)
        return str(response.json()["refreshToken"])

    def _remember(self, response: Any) -> Any:
        if response.status_code == 200 and not self.is_cookie:
            body = response.json()
            self.access_token = body.get("accessToken", self.access_token)
            self.refresh_token = body.get("refreshToken", self.refresh_token)
        if self.is_cookie:
            self.access_token = self.cookie(access_cookie_name())
            self.refresh_token = self.cookie(refresh_cookie_name())
        return response

    # --- requests --------------------------------------------------------------------------

    def post(self, path: str, data: Any = None, **extra: Any) -> Any:
        """POST JSON with this delivery's headers; ``extra`` (WSGI keys) overrides them."""
        return self.client.post(path, data if data is not None else {}, format="json",
                                **{**self.headers(), **extra})

    def get(self, path: str, **extra: Any) -> Any:
        return self.client.get(path, **{**self.headers(), **extra})

    def login(self, email: str | None = None, password: str | None = None, **extra: Any) -> Any:
        """POST ``login`` (by default with the client's ``email`` and ``password``); a 200
        answer's tokens are kept."""
        body = {"email": self.email if email is None else email,
                "password": self.password if password is None else password}
        return self._remember(self.post(self.url("login"), body, **extra))

    def refresh(self, **extra: Any) -> Any:
        """POST ``refresh`` with the refresh token held (cookie or body); keeps the successor."""
        data = {} if self.is_cookie else {"refreshToken": self.refresh_token}
        return self._remember(self.post(self.url("refresh"), data, **extra))

    def present_refresh(self, token: str, **extra: Any) -> Any:
        """POST ``refresh`` with ``token`` through this delivery's channel."""
        self.use_refresh(token)
        return self.refresh(**extra)

    def get_with_access(self, path: str, token: str, **extra: Any) -> Any:
        """GET ``path`` with ``token`` as the access token, through this delivery's channel."""
        self.use_access(token)
        return self.get(path, **extra)

    def logout(self, **extra: Any) -> Any:
        return self._remember(self.post(self.url("logout"), **extra))

    def logout_all(self, **extra: Any) -> Any:
        return self._remember(self.post(self.url("logout-all"), **extra))

    def me(self, **extra: Any) -> Any:
        return self.get(self.url("me"), **extra)
