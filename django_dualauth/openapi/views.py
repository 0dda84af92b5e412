"""The schema of the package's endpoints as JSON or YAML, and the Swagger UI and Redoc pages that
show it (from drf-spectacular-sidecar's files when that app is installed, else from drf-spectacular's
default CDN)."""

from __future__ import annotations

from typing import Any

from django.apps import apps
from drf_spectacular.settings import patched_settings
from drf_spectacular.utils import extend_schema
from drf_spectacular.views import (
    SpectacularAPIView,
    SpectacularJSONAPIView,
    SpectacularRedocView,
    SpectacularSwaggerView,
    SpectacularYAMLAPIView,
)
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from .. import __version__

__all__ = ["SCHEMA_SETTINGS", "SchemaView", "JSONSchemaView", "YAMLSchemaView", "SwaggerView", "RedocView"]

#: drf-spectacular settings of the served schema (the project's SPECTACULAR_SETTINGS still apply
#: to whatever this leaves out).
SCHEMA_SETTINGS: dict[str, Any] = {
    "TITLE": "django-dualauth",
    "DESCRIPTION": "Sign-in, sessions and account endpoints. Every error is `{error, code}`; branch on `code`. "
                   "Send `X-Auth-Strategy: bearer` for tokens in the body; without it, tokens are HttpOnly cookies.",
    "VERSION": __version__,
    "PREPROCESSING_HOOKS": ["django_dualauth.openapi.hooks.package_endpoints"],
    # drf-spectacular's default (named enums), then the links between the operations.
    "POSTPROCESSING_HOOKS": ["drf_spectacular.hooks.postprocess_schema_enums",
                             "django_dualauth.openapi.hooks.session_links"],
}


class SchemaView(SpectacularAPIView):
    """The package's endpoints only, public like the endpoints themselves. YAML by default; JSON
    for ``Accept: application/vnd.oai.openapi+json`` or ``?format=json``."""

    authentication_classes = []
    permission_classes = [AllowAny]
    serve_public = True
    custom_settings = SCHEMA_SETTINGS


class JSONSchemaView(SchemaView):
    renderer_classes = SpectacularJSONAPIView.renderer_classes


class YAMLSchemaView(SchemaView):
    renderer_classes = SpectacularYAMLAPIView.renderer_classes


def _viewer_settings() -> dict[str, Any]:
    if not apps.is_installed("drf_spectacular_sidecar"):
        return {}
    return {"SWAGGER_UI_DIST": "SIDECAR", "SWAGGER_UI_FAVICON_HREF": "SIDECAR", "REDOC_DIST": "SIDECAR"}


class _OfflineViewer(APIView):
    """A viewer page of the package's schema, public; its files from the sidecar when installed."""

    authentication_classes = []
    permission_classes = [AllowAny]
    url_name = "dualauth-openapi:schema"

    @extend_schema(exclude=True)  # a page, not an endpoint of the API
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        with patched_settings(_viewer_settings()):
            return super().get(request, *args, **kwargs)  # type: ignore[misc,no-any-return]  # the viewer's get


class SwaggerView(_OfflineViewer, SpectacularSwaggerView):
    title = SCHEMA_SETTINGS["TITLE"]


class RedocView(_OfflineViewer, SpectacularRedocView):
    title = SCHEMA_SETTINGS["TITLE"]
