from django.contrib import admin
from django.urls import include, path

from tests.views import WhoAmI

urlpatterns = [
    path("admin/api/", include("django_dualauth.staff.urls")),  # before admin/: its catch-all would shadow it
    path("admin/", admin.site.urls),
    path("auth/", include("django_dualauth.urls")),
    path("auth/openapi/", include("django_dualauth.openapi.urls")),
    path("api/whoami", WhoAmI.as_view()),
]
