from django.contrib import admin
from django.urls import include, path

from example_project.demo.views import PAGES, DemoPageView, HelloView

urlpatterns = [
    path("admin/api/", include("django_dualauth.staff.urls")),  # the staff API; before admin/ (docs/admin.md)
    path("admin/", admin.site.urls),
    path("auth/", include("django_dualauth.urls")),
    path("auth/openapi/", include("django_dualauth.openapi.urls")),
    path("api/hello", HelloView.as_view()),
    # The demo page and the pages the demo's mails link to (DUALAUTH_*_URL in settings.py).
    path("", DemoPageView.as_view(page="home"), name="demo-home"),
    *(path(name, DemoPageView.as_view(page=name), name=f"demo-{name}") for name in PAGES if name != "home"),
]
