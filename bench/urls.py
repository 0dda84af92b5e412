"""Every contender under its own prefix, over the one ``auth.User`` table.

=================  ========================================================================
prefix             contender
=================  ========================================================================
/bare/             DRF view, no authentication (the floor)
/session/          DRF SessionAuthentication (+ a login view calling ``django.contrib.auth.login``)
/simplejwt/        djangorestframework-simplejwt, rotation + blacklist
/knox/             django-rest-knox
/djrestauth/       dj-rest-auth, JWT in HttpOnly cookies (simplejwt underneath)
/dualauth-cookie/  django-dualauth, web (cookie) delivery, database revocation check
/dualauth-bearer/  django-dualauth, bearer delivery, database revocation check
/dualauth-cache/   django-dualauth, bearer delivery, cache revocation check, push off (bench middleware)
/dualauth-push/    the same with DUALAUTH_REVOCATION_PUSH (Redis pub/sub; PostgreSQL settings only)
=================  ========================================================================

Each protected resource is served twice: ``api/me`` reads ``user.pk`` only, ``api/profile``
(the realistic arm of ``bench.instructions``) reads ``user.email`` and ``user.username`` too.
"""

from dj_rest_auth.jwt_auth import JWTCookieAuthentication, get_refresh_view
from dj_rest_auth.views import LoginView as RestAuthLoginView
from django.urls import include, path
from knox.auth import TokenAuthentication as KnoxTokenAuthentication
from knox.views import LoginView as KnoxLoginView
from rest_framework.authentication import BasicAuthentication, SessionAuthentication
from rest_framework_simplejwt.authentication import JWTAuthentication
from rest_framework_simplejwt.views import TokenObtainPairView, TokenRefreshView

from django_dualauth.authentication import DualAuthentication

from .views import BareView, SessionLoginView, protected_view


class KnoxLogin(KnoxLoginView):
    authentication_classes = [BasicAuthentication]


def _dualauth(prefix: str) -> list:
    return [
        path(f"{prefix}/auth/", include(("django_dualauth.urls", "dualauth"), namespace=prefix)),
        path(f"{prefix}/api/me", protected_view(DualAuthentication)),
        path(f"{prefix}/api/profile", protected_view(DualAuthentication, profile=True)),
    ]


urlpatterns = [
    path("bare/api/me", BareView.as_view()),
    path("session/login", SessionLoginView.as_view()),
    path("session/api/me", protected_view(SessionAuthentication)),
    path("session/api/profile", protected_view(SessionAuthentication, profile=True)),
    path("simplejwt/login", TokenObtainPairView.as_view()),
    path("simplejwt/refresh", TokenRefreshView.as_view()),
    path("simplejwt/api/me", protected_view(JWTAuthentication)),
    path("simplejwt/api/profile", protected_view(JWTAuthentication, profile=True)),
    path("knox/login", KnoxLogin.as_view()),
    path("knox/api/me", protected_view(KnoxTokenAuthentication)),
    path("knox/api/profile", protected_view(KnoxTokenAuthentication, profile=True)),
    path("djrestauth/login", RestAuthLoginView.as_view()),
    path("djrestauth/refresh", get_refresh_view().as_view()),
    path("djrestauth/api/me", protected_view(JWTCookieAuthentication)),
    path("djrestauth/api/profile", protected_view(JWTCookieAuthentication, profile=True)),
    *_dualauth("dualauth-cookie"),
    *_dualauth("dualauth-bearer"),
    *_dualauth("dualauth-cache"),
    *_dualauth("dualauth-push"),
]
