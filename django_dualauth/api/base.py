"""The base view: JSON in and out, our error shape, no caching, no implicit authentication."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from functools import cached_property
from typing import Any

from rest_framework import serializers
from rest_framework.authentication import BaseAuthentication
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.parsers import BaseParser
from rest_framework.permissions import AllowAny
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import BaseThrottle
from rest_framework.views import APIView

from ..delivery import TokenDelivery, client_info, for_request, no_store, plant_csrf_cookie
from ..exceptions import EndpointDisabled, ValidationFailed
from ..services import TokenUser
from .errors import exception_handler
from .parsers import StrictJSONParser

__all__ = ["DualAuthAPIView", "FeatureView", "TokenIssuingView", "client_ip_key", "request_user", "session_id",
           "validated"]


class _AlwaysJSON(BaseContentNegotiation):
    """Answer JSON whatever ``Accept`` says: clients must not get a 406 or an HTML page."""

    def select_parser(self, request: Request, parsers: Iterable[BaseParser]) -> BaseParser | None:
        for parser in parsers:
            if request.content_type.split(";")[0].strip().lower() == parser.media_type:
                return parser
        return None

    def select_renderer(self, request: Request, renderers: Iterable[BaseRenderer],
                        format_suffix: str | None = None) -> tuple[BaseRenderer, str]:
        renderer = next(iter(renderers))
        return renderer, renderer.media_type


class DualAuthAPIView(APIView):
    authentication_classes: list[type[BaseAuthentication]] = []
    permission_classes = [AllowAny]
    parser_classes = [StrictJSONParser]
    renderer_classes = [JSONRenderer]
    content_negotiation_class = _AlwaysJSON
    throttle_classes: list[type[BaseThrottle]] = []

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)
        # Parse the body now, even where the view ignores it: a malformed, non-JSON or oversized
        # body is a clear 4xx on every endpoint, never silently accepted by some of them.
        request.data  # noqa: B018

    def get_exception_handler(self) -> Callable[[Exception, dict[str, Any]], Response | None]:
        return exception_handler

    #: Set to "no-referrer" on views whose requests carry a one-time token in a page URL.
    referrer_policy: str | None = None

    #: Plant the CSRF cookie on answers to a browser that lacks it (``delivery.plant_csrf_cookie``).
    plants_csrf_cookie = True

    def finalize_response(self, request: Request, response: Response, *args: Any, **kwargs: Any) -> Response:
        response = no_store(super().finalize_response(request, response, *args, **kwargs))
        if self.referrer_policy:
            response["Referrer-Policy"] = self.referrer_policy
        if self.plants_csrf_cookie:
            plant_csrf_cookie(request._request)
        return response


def validated(serializer_class: type[serializers.Serializer[Any]], data: Any,
              **kwargs: Any) -> dict[str, Any]:
    """Validate ``data`` or raise :class:`ValidationFailed` with per-field messages."""
    serializer = serializer_class(data=data, **kwargs)
    if not serializer.is_valid():
        fields = {k: [str(m) for m in v] if isinstance(v, list) else [str(v)]
                  for k, v in serializer.errors.items()}
        raise ValidationFailed(fields=fields)
    return dict(serializer.validated_data)


class TokenIssuingView(DualAuthAPIView):
    """A view that hands a new session to the client through the delivery the request asks for."""

    @cached_property
    def token_delivery(self) -> TokenDelivery:
        """This request's delivery, chosen once (a view instance serves one request).

        Raises :class:`DeliveryNotAllowed` when the policy forbids the one asked for.
        """
        return for_request(self.request)


class FeatureView(DualAuthAPIView):
    """A view of an opt-in feature: 404 ``NOT_FOUND`` while :meth:`enabled` is false."""

    def enabled(self) -> bool:
        raise NotImplementedError

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        if not self.enabled():
            raise EndpointDisabled()
        super().initial(request, *args, **kwargs)


def request_user(request: Request) -> Any:
    """The real user model instance (the cache revocation mode hands out a lazy TokenUser)."""
    user = request.user
    return user.resolve() if isinstance(user, TokenUser) else user


def session_id(request: Request) -> str | None:
    """The caller's session id when authenticated by an access token."""
    sid = getattr(request.auth, "sid", None)
    return None if sid is None else str(sid)


def client_ip_key(request: Request) -> str:
    """The client IP as a rate-limit key ("unknown" when it cannot be told)."""
    return client_info(request).ip_address or "unknown"
