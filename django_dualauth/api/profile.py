"""``GET me`` and ``GET csrf``."""

from __future__ import annotations

from typing import Any

from django.middleware.csrf import get_token
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response

from ..authentication import DualAuthentication
from ..services import profile
from .base import DualAuthAPIView, request_user

__all__ = ["MeView", "CsrfView"]


class MeView(DualAuthAPIView):
    """The caller's profile, rebuilt from the database (not from the token)."""

    authentication_classes = [DualAuthentication]
    permission_classes = [IsAuthenticated]

    def get(self, request: Any) -> Response:
        return Response(profile(request_user(request)))


class CsrfView(DualAuthAPIView):
    """Sets the CSRF cookie and returns the token, for web clients before their first POST."""

    def get(self, request: Any) -> Response:
        return Response({"csrfToken": get_token(request._request)})
