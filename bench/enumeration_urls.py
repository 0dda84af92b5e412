"""The URL conf of ``bench/enumeration_timing.py``: the package's routes under ``/auth/``."""

from django.urls import include, path

urlpatterns = [path("auth/", include("django_dualauth.urls"))]
