from django.contrib.auth.views import LoginView
from django.urls import include, path

from . import views

urlpatterns = [
    # The issuer is <origin>/o: discovery at /o/.well-known/openid-configuration, as for an
    # issuer with a path (Keycloak's /realms/<name>, Entra's /<tenant>/v2.0).
    path("o/", include("oauth2_provider.urls", namespace="oauth2_provider")),
    path("accounts/login/", LoginView.as_view(), name="login"),
    path("_test/clients", views.clients),
    path("_test/users", views.users),
]
