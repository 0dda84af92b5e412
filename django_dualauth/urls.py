"""A fixed list of routes; disabled features answer 404 at request time (no settings here)."""

from __future__ import annotations

from django.urls import path

from .api.account import (
    ChangePasswordView,
    DeleteAccountView,
    SessionCleanupView,
    SessionDetailView,
    SessionListView,
)
from .api.email_flows import (
    ChangeEmailConfirmView,
    ChangeEmailRequestView,
    ForgotPasswordView,
    ResetPasswordView,
    SendVerificationEmailView,
    VerifyEmailView,
)
from .api.jwks import JwksView
from .api.linking import LinkRequestView, LinkVerifyView
from .api.login import LoginView, RegisterView
from .api.magic_links import MagicLinkSendView, MagicLinkVerifyView
from .api.profile import CsrfView, MeView, ProfileView
from .api.sms import AddPhoneView, SMSPhoneVerifyView, SMSPhoneView, SMSSendView, SMSVerifyView
from .api.social import (
    LinkedAccountDetailView,
    LinkedAccountsView,
    OAuthLinkView,
    OAuthNonceView,
    OAuthTokenView,
)
from .api.social_redirect import (
    OAuthCallbackView,
    OAuthExchangeView,
    OAuthLinkFinishView,
    OAuthLinkStartView,
    OAuthStartView,
)
from .api.tokens import LogoutAllView, LogoutView, RefreshView
from .api.twofactor import (
    RecoveryCodesView,
    TwoFactorDisableView,
    TwoFactorSetupView,
    TwoFactorVerifySetupView,
    TwoFactorVerifyView,
)
from .api.ui_config import UiConfigView

app_name = "dualauth"

urlpatterns = [
    path("login", LoginView.as_view(), name="login"),
    path("refresh", RefreshView.as_view(), name="refresh"),
    path("logout", LogoutView.as_view(), name="logout"),
    path("logout-all", LogoutAllView.as_view(), name="logout-all"),
    path("me", MeView.as_view(), name="me"),
    path("profile", ProfileView.as_view(), name="profile"),
    path("register", RegisterView.as_view(), name="register"),
    path("csrf", CsrfView.as_view(), name="csrf"),
    path("2fa/setup", TwoFactorSetupView.as_view(), name="2fa-setup"),
    path("2fa/verify-setup", TwoFactorVerifySetupView.as_view(), name="2fa-verify-setup"),
    path("2fa/verify", TwoFactorVerifyView.as_view(), name="2fa-verify"),
    path("2fa/disable", TwoFactorDisableView.as_view(), name="2fa-disable"),
    path("2fa/recovery-codes", RecoveryCodesView.as_view(), name="2fa-recovery-codes"),
    path("magic-link/send", MagicLinkSendView.as_view(), name="magic-link-send"),
    path("magic-link/verify", MagicLinkVerifyView.as_view(), name="magic-link-verify"),
    path("sms/phone", SMSPhoneView.as_view(), name="sms-phone"),
    path("sms/phone/verify", SMSPhoneVerifyView.as_view(), name="sms-phone-verify"),
    path("sms/send", SMSSendView.as_view(), name="sms-send"),
    path("sms/verify", SMSVerifyView.as_view(), name="sms-verify"),
    path("add-phone", AddPhoneView.as_view(), name="add-phone"),
    path("sessions", SessionListView.as_view(), name="sessions"),
    # Before sessions/<handle>, which would take "cleanup" for a handle.
    path("sessions/cleanup", SessionCleanupView.as_view(), name="sessions-cleanup"),
    path("sessions/<str:handle>", SessionDetailView.as_view(), name="session-detail"),
    path("change-password", ChangePasswordView.as_view(), name="change-password"),
    path("account", DeleteAccountView.as_view(), name="account"),
    path("send-verification-email", SendVerificationEmailView.as_view(), name="send-verification-email"),
    path("verify-email", VerifyEmailView.as_view(), name="verify-email"),
    path("forgot-password", ForgotPasswordView.as_view(), name="forgot-password"),
    path("reset-password", ResetPasswordView.as_view(), name="reset-password"),
    path("change-email/request", ChangeEmailRequestView.as_view(), name="change-email-request"),
    path("change-email/confirm", ChangeEmailConfirmView.as_view(), name="change-email-confirm"),
    path("ui/config", UiConfigView.as_view(), name="ui-config"),
    path(".well-known/jwks.json", JwksView.as_view(), name="jwks"),
    # Social sign-in; node-auth's oauth/<provider> and oauth/<provider>/callback are the redirect flow's.
    path("oauth/<str:provider>", OAuthStartView.as_view(), name="oauth-start"),
    path("oauth/<str:provider>/callback", OAuthCallbackView.as_view(), name="oauth-callback"),
    path("oauth/<str:provider>/exchange", OAuthExchangeView.as_view(), name="oauth-exchange"),
    path("oauth/<str:provider>/nonce", OAuthNonceView.as_view(), name="oauth-nonce"),
    path("oauth/<str:provider>/token", OAuthTokenView.as_view(), name="oauth-token"),
    path("oauth/<str:provider>/link", OAuthLinkView.as_view(), name="oauth-link"),
    path("oauth/<str:provider>/link/start", OAuthLinkStartView.as_view(), name="oauth-link-start"),
    path("oauth/<str:provider>/link/finish", OAuthLinkFinishView.as_view(), name="oauth-link-finish"),
    path("link-request", LinkRequestView.as_view(), name="link-request"),
    path("link-verify", LinkVerifyView.as_view(), name="link-verify"),
    path("linked-accounts", LinkedAccountsView.as_view(), name="linked-accounts"),
    path("linked-accounts/<str:provider>/<path:provider_account_id>", LinkedAccountDetailView.as_view(),
         name="linked-account-detail"),
]
