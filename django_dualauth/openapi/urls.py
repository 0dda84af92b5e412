"""The optional include of the schema and its viewers (docs/openapi.md)::

    path("auth/openapi/", include("django_dualauth.openapi.urls")),

``schema`` (YAML, or JSON by content negotiation), ``schema.json``, ``schema.yaml``, ``docs``
(Swagger UI) and ``redoc``. Nothing here is routed unless the project includes it.
"""

from __future__ import annotations

from django.urls import path

from .views import JSONSchemaView, RedocView, SchemaView, SwaggerView, YAMLSchemaView

app_name = "dualauth-openapi"

urlpatterns = [
    path("schema", SchemaView.as_view(), name="schema"),
    path("schema.json", JSONSchemaView.as_view(), name="schema-json"),
    path("schema.yaml", YAMLSchemaView.as_view(), name="schema-yaml"),
    path("docs", SwaggerView.as_view(), name="swagger-ui"),
    path("redoc", RedocView.as_view(), name="redoc"),
]
