"""The protected resource every contender serves, and the login view of the session contender."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import authenticate, login
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView


class BareView(APIView):
    """The floor: DRF with no authentication at all."""

    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]

    def get(self, request: Any) -> Response:
        return Response({"id": None})


def protected_view(auth_class: Any, *, profile: bool = False) -> Any:
    """The same tiny authenticated resource behind ``auth_class``: it reads only ``user.pk``,
    or with ``profile`` (the realistic arm, ``/api/profile``) also ``user.email`` and
    ``user.username``. The username is the point: dualauth's cache mode answers with a
    ``TokenUser`` that carries the pk and the e-mail from the token's claims, so only a field
    the claims do not hold makes it load the user row, as most views that use the user do."""

    class Protected(APIView):
        authentication_classes = [auth_class]
        permission_classes = [IsAuthenticated]

        def get(self, request: Any) -> Response:
            if profile:
                user = request.user
                return Response({"id": user.pk, "email": user.email, "username": user.username})
            return Response({"id": request.user.pk})

    Protected.__name__ = f"Protected{'Profile' if profile else ''}_{auth_class.__name__}"
    return Protected.as_view()


class SessionLoginView(APIView):
    """DRF + django.contrib.auth sessions: authenticate, then ``login()`` (a session row)."""

    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]

    def post(self, request: Any) -> Response:
        user = authenticate(request._request, username=request.data.get("username"),
                            password=request.data.get("password"))
        if user is None:
            return Response({"error": "invalid"}, status=401)
        login(request._request, user)
        return Response({"success": True})
