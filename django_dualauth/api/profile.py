"""``GET me``, ``PATCH profile`` and ``GET csrf``."""

from __future__ import annotations

from typing import Any

from django.middleware.csrf import get_token
from rest_framework import serializers
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response

from ..authentication import DualAuthentication
from ..services import profile, profile_names
from .base import DualAuthAPIView, request_user, validated
from .inputs import NamesInput

__all__ = ["MeView", "ProfileView", "CsrfView"]

class _ProfileInput(NamesInput):
    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if not attrs:
            raise serializers.ValidationError("Send firstName, lastName or both.")
        return attrs


class MeView(DualAuthAPIView):
    """The caller's profile, rebuilt from the database (not from the token)."""

    authentication_classes = [DualAuthentication]
    permission_classes = [IsAuthenticated]

    def get(self, request: Request) -> Response:
        return Response(profile(request_user(request)))


class ProfileView(DualAuthAPIView):
    """``PATCH {firstName?, lastName?}`` (at least one): the caller's names, within the user
    model's field lengths; ``GET me`` shows them. Other fields are ignored."""

    authentication_classes = [DualAuthentication]
    permission_classes = [IsAuthenticated]

    def patch(self, request: Request) -> Response:
        changes = validated(_ProfileInput, request.data)
        profile_names.update_names(request_user(request), changes)
        return Response({"success": True})


class CsrfView(DualAuthAPIView):
    """Sets the CSRF cookie and returns the token, for web clients before their first POST."""

    def get(self, request: Request) -> Response:
        return Response({"csrfToken": get_token(request._request)})
