"""The optional include of the staff API (docs/admin.md, "The staff API")::

    urlpatterns = [
        path("admin/api/", include("django_dualauth.staff.urls")),  # before admin.site.urls
        path("admin/", admin.site.urls),
        ...
    ]

Put it **before** ``admin/``: the Django admin ends with a catch-all pattern
(``AdminSite.final_catch_all_view``) that would answer ``admin/api/...`` itself (a redirect to its
login page) if it came first. Nothing here is routed unless the project includes it.
"""

from __future__ import annotations

from django.urls import path

from ..api.staff import (
    SessionDetailView,
    SessionListView,
    SessionsRevokeView,
    TwoFactorPolicyView,
    UserDeactivateView,
    UserDetailView,
    UserLinkedAccountsView,
    UserListView,
    UserReactivateView,
    UserSessionsRevokeView,
    UserSessionsView,
    UserTwoFactorRequireView,
    UserTwoFactorResetView,
)

app_name = "dualauth-staff"

urlpatterns = [
    path("users", UserListView.as_view(), name="users"),
    path("users/<str:user_id>", UserDetailView.as_view(), name="user"),
    path("users/<str:user_id>/deactivate", UserDeactivateView.as_view(), name="user-deactivate"),
    path("users/<str:user_id>/reactivate", UserReactivateView.as_view(), name="user-reactivate"),
    path("users/<str:user_id>/sessions", UserSessionsView.as_view(), name="user-sessions"),
    path("users/<str:user_id>/sessions/revoke", UserSessionsRevokeView.as_view(), name="user-sessions-revoke"),
    path("users/<str:user_id>/2fa/require", UserTwoFactorRequireView.as_view(), name="user-2fa-require"),
    path("users/<str:user_id>/2fa/reset", UserTwoFactorResetView.as_view(), name="user-2fa-reset"),
    path("users/<str:user_id>/linked-accounts", UserLinkedAccountsView.as_view(), name="user-linked-accounts"),
    path("sessions", SessionListView.as_view(), name="sessions"),
    # Before sessions/<id>, which would take "revoke" for an id.
    path("sessions/revoke", SessionsRevokeView.as_view(), name="sessions-revoke"),
    path("sessions/<str:session_id>", SessionDetailView.as_view(), name="session"),
    path("2fa-policy", TwoFactorPolicyView.as_view(), name="2fa-policy"),
]
