"""The base view: JSON in and out, our error shape, no caching, no implicit authentication."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.permissions import AllowAny
from rest_framework.renderers import JSONRenderer
from rest_framework.views import APIView

from ..delivery import no_store
from ..exceptions import ValidationFailed
from .errors import exception_handler
from .parsers import StrictJSONParser

__all__ = ["DualAuthAPIView", "validated"]


class _AlwaysJSON(BaseContentNegotiation):
    """Answer JSON whatever ``Accept`` says: clients must not get a 406 or an HTML page."""

    def select_parser(self, request: Any, parsers: list[Any]) -> Any:
        for parser in parsers:
            if request.content_type.split(";")[0].strip().lower() == parser.media_type:
                return parser
        return None

    def select_renderer(self, request: Any, renderers: list[Any],
                        format_suffix: str | None = None) -> tuple[Any, str]:
        return renderers[0], renderers[0].media_type


class DualAuthAPIView(APIView):
    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]
    parser_classes = [StrictJSONParser]
    renderer_classes = [JSONRenderer]
    content_negotiation_class = _AlwaysJSON
    throttle_classes: list[Any] = []

    def get_exception_handler(self) -> Any:
        return exception_handler

    def finalize_response(self, request: Any, response: Any, *args: Any, **kwargs: Any) -> Any:
        return no_store(super().finalize_response(request, response, *args, **kwargs))


def validated(serializer_class: type[serializers.Serializer], data: Any,
              **kwargs: Any) -> dict[str, Any]:
    """Validate ``data`` or raise :class:`ValidationFailed` with per-field messages."""
    serializer = serializer_class(data=data, **kwargs)
    if not serializer.is_valid():
        fields = {k: [str(m) for m in v] if isinstance(v, list) else [str(v)]
                  for k, v in serializer.errors.items()}
        raise ValidationFailed(fields=fields)
    return dict(serializer.validated_data)
