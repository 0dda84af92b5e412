from django.contrib import admin
from django.urls import include, path

from example_project.demo.views import HelloView

urlpatterns = [
    path("admin/api/", include("django_dualauth.staff.urls")),  # the staff API; before admin/ (docs/admin.md)
    path("admin/", admin.site.urls),
    path("auth/", include("django_dualauth.urls")),
    path("auth/openapi/", include("django_dualauth.openapi.urls")),
    path("api/hello", HelloView.as_view()),
]
