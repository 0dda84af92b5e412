"""Only the package's endpoints, as a project mounts them: the urlconf of the schema command test
and of the run without drf-spectacular (tests/test_openapi.py)."""

from django.urls import include, path

urlpatterns = [path("auth/", include("django_dualauth.urls"))]
