"""``DualAuthentication``'s override points, its 401 challenge without request state, and the
one mapping of domain errors to HTTP (issue 16, item 4). Every request runs under both
deliveries: the access token as ``Authorization: Bearer`` and as the access cookie."""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework import exceptions
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.test import APIRequestFactory
from rest_framework.views import APIView
from rest_framework.views import exception_handler as drf_exception_handler

from django_dualauth.api.errors import INVALID_TOKEN_CHALLENGE, REALM, as_drf_exception, exception_handler
from django_dualauth.authentication import DualAuthentication
from django_dualauth.delivery import BEARER, Credential, access_cookie_name
from django_dualauth.exceptions import (
    AccessTokenInvalid,
    DualAuthError,
    RateLimited,
    ServiceUnavailable,
    SessionRevoked,
)
from django_dualauth.types import AccessClaims

from .conftest import AuthClient

factory = APIRequestFactory()


def _get(client: AuthClient, token: str, **extra: Any) -> Any:
    """A GET carrying ``token`` in the channel of ``client``'s delivery."""
    if client.is_cookie:
        return factory.get("/x", HTTP_COOKIE=f"{access_cookie_name()}={token}", **extra)
    return factory.get("/x", HTTP_AUTHORIZATION=f"Bearer {token}", **extra)


def _view(authentication: type[DualAuthentication]) -> Any:
    class Protected(APIView):
        authentication_classes = [authentication]
        permission_classes = [IsAuthenticated]

        def get(self, request: Any) -> Response:
            return Response({"id": str(request.user.pk), "user": type(request.user).__name__,
                             "email": getattr(request.user, "marker", "")})

    return Protected.as_view()


@pytest.fixture
def token(auth_client: AuthClient, user: Any) -> str:
    assert auth_client.login().status_code == 200
    assert auth_client.access_token
    return auth_client.access_token


def test_the_default_class_authenticates(auth_client: AuthClient, token: str, user: Any) -> None:
    response = _view(DualAuthentication)(_get(auth_client, token))
    assert response.status_code == 200
    assert response.data["id"] == str(user.pk)


def test_validate_claims_can_refuse_a_valid_token(auth_client: AuthClient, token: str) -> None:
    seen: list[AccessClaims] = []

    class OnlyAdmins(DualAuthentication):
        def validate_claims(self, claims: AccessClaims) -> None:
            seen.append(claims)
            if not claims.claims.get("admin"):
                raise AccessTokenInvalid()

    response = _view(OnlyAdmins)(_get(auth_client, token))
    assert response.status_code == 401
    assert response.data == {"error": AccessTokenInvalid.message, "code": "INVALID_ACCESS_TOKEN"}
    assert response["WWW-Authenticate"] == INVALID_TOKEN_CHALLENGE
    assert [c.jti for c in seen] and seen[0].sid  # called with the verified claims


def test_get_user_chooses_request_user(auth_client: AuthClient, token: str, user: Any) -> None:
    class Marked(DualAuthentication):
        def get_user(self, found: Any, claims: AccessClaims) -> Any:
            assert str(found.pk) == claims.sub
            real = type(user).objects.get(pk=claims.sub)
            real.marker = "from get_user"
            return real

    response = _view(Marked)(_get(auth_client, token))
    assert response.status_code == 200
    assert response.data["email"] == "from get_user"


def test_get_credential_can_read_another_header(auth_client: AuthClient, token: str, user: Any) -> None:
    class FromApiKeyHeader(DualAuthentication):
        def get_credential(self, request: Any) -> Credential | None:
            raw = request.META.get("HTTP_X_API_TOKEN")
            return Credential(raw, BEARER) if raw else None

    view = _view(FromApiKeyHeader)
    assert view(factory.get("/x", HTTP_X_API_TOKEN=token)).status_code == 200
    # The default channels are no longer read: no credential is a 401 without invalid_token.
    refused = view(_get(auth_client, token))
    assert refused.status_code == 401
    assert refused["WWW-Authenticate"] == REALM


def test_enforce_csrf_guards_unsafe_cookie_requests(auth_client: AuthClient, token: str) -> None:
    guarded: list[Credential] = []

    class Recording(DualAuthentication):
        def enforce_csrf(self, request: Any, credential: Credential) -> None:
            guarded.append(credential)
            super().enforce_csrf(request, credential)

    class Protected(APIView):
        authentication_classes = [Recording]
        permission_classes = [IsAuthenticated]

        def post(self, request: Any) -> Response:
            return Response({"ok": True})

    if auth_client.is_cookie:
        request = factory.post("/x", {}, format="json", HTTP_COOKIE=f"{access_cookie_name()}={token}",
                               HTTP_ORIGIN="https://evil.example")
        assert Protected.as_view()(request).status_code == 403  # a forged cookie request
    else:
        request = factory.post("/x", {}, format="json", HTTP_AUTHORIZATION=f"Bearer {token}",
                               HTTP_ORIGIN="https://evil.example")
        assert Protected.as_view()(request).status_code == 200  # a bearer token cannot be forged
    assert [c.via for c in guarded] == [auth_client.delivery]


def test_a_refused_token_leaves_no_state_on_the_request(auth_client: AuthClient, token: str) -> None:
    request = Request(_get(auth_client, token + "x"), authenticators=[DualAuthentication()])
    with pytest.raises(exceptions.AuthenticationFailed):
        request.user  # noqa: B018
    assert not [name for name in vars(request) if "dualauth" in name.lower()]
    assert not [name for name in vars(request._request) if "dualauth" in name.lower()]
    assert DualAuthentication().authenticate_header(request) == INVALID_TOKEN_CHALLENGE


def test_no_credential_and_other_schemes_get_the_plain_challenge(auth_client: AuthClient, db: Any) -> None:
    for request in (factory.get("/x"), factory.get("/x", HTTP_AUTHORIZATION="Basic Zm9vOmJhcg==")):
        response = _view(DualAuthentication)(request)
        assert response.status_code in (401, 403)
        if response.status_code == 401:
            assert response["WWW-Authenticate"] == REALM


def test_a_valid_token_refused_later_gets_the_plain_challenge(auth_client: AuthClient, token: str) -> None:
    class Refuses(APIView):
        authentication_classes = [DualAuthentication]
        permission_classes = [IsAuthenticated]

        def get(self, request: Any) -> Response:
            raise exceptions.AuthenticationFailed()

    response = Refuses.as_view()(_get(auth_client, token))
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == REALM  # the token itself was good


def test_a_garbage_jwt_on_the_setup_endpoints_keeps_the_plain_challenge(auth_client: AuthClient,
                                                                         token: str) -> None:
    # Their first authentication class is the setup-token one, whose challenge names no error.
    if auth_client.is_cookie:
        auth_client.client.cookies[access_cookie_name()] = "a.b.c"
        response = auth_client.post("/auth/2fa/setup")
    else:
        auth_client.access_token = "a.b.c"
        response = auth_client.post("/auth/2fa/setup")
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == REALM
    assert response.json()["code"] == "INVALID_ACCESS_TOKEN"


@pytest.mark.parametrize("error", [AccessTokenInvalid(), SessionRevoked(), ServiceUnavailable(),
                                   RateLimited(7)], ids=lambda e: type(e).__name__)
def test_one_mapping_of_domain_errors_under_either_handler(error: DualAuthError) -> None:
    ours = exception_handler(error, {})
    drf = drf_exception_handler(as_drf_exception(error), {})
    assert ours is not None and drf is not None
    assert (drf.status_code, drf.data) == (ours.status_code, ours.data) == (error.status, error.as_dict())
    assert drf.get("Retry-After") == ours.get("Retry-After")
    if error.status in (429, 503):
        assert ours["Retry-After"] == str(error.retry_after)  # type: ignore[attr-defined]
    if error.status == 401:
        assert ours["WWW-Authenticate"] == REALM
