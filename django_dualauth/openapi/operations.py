"""What each endpoint takes and answers, per view and method: the request body, the success
answers and the errors of its own (docs/errors.md says when each is answered).

The errors every endpoint of a kind shares are added by :mod:`.extensions` from the view itself:
a body's 400 / 413 / 415, an authenticated view's 401s, a cookie request's 403 ``CSRF_INVALID``,
every endpoint's 503.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from rest_framework import serializers

from ..api import (
    account,
    email_flows,
    jwks,
    linking,
    login,
    magic_links,
    profile,
    sms,
    social,
    social_redirect,
    tokens,
    twofactor,
    ui_config,
)
from ..api.inputs import CredentialsInput, EmailInput, NamesInput, RegisterInput
from ..exceptions import (
    AccountTokenInvalid,
    CredentialConflict,
    DeliveryNotAllowed,
    EmailNotVerified,
    EmailRequired,
    EmailTaken,
    EmailVerificationRequired,
    EmailVerificationRequiresPost,
    IdTokenInvalid,
    InvalidCredentials,
    InvalidSetupCode,
    InvalidTwoFactorCode,
    LastSignInMethod,
    LinkedAccountNotFound,
    LinkTokenInvalid,
    MagicLinkInvalid,
    NotAuthenticated,
    OAuthAccountConflict,
    OAuthAccountLinkedElsewhere,
    OAuthAppCodeInvalid,
    OAuthCodeExchangeFailed,
    OAuthEmailNotVerified,
    OAuthNonceInvalid,
    OAuthStateInvalid,
    PhoneCodeInvalid,
    PhoneNotVerified,
    ProviderFlowUnsupported,
    ProviderNotConfigured,
    ProviderUnavailable,
    RateLimited,
    ReauthenticationFailed,
    ReauthenticationRequired,
    RefreshTokenInvalid,
    RefreshTokenMissing,
    ReturnUrlNotAllowed,
    SessionRevoked,
    SMSCodeInvalid,
    TempTokenInvalid,
    TokenMismatch,
    TwoFactorAlreadyEnabled,
    TwoFactorNotEnabled,
    TwoFactorRequired,
    TwoFactorSetupNotStarted,
    TwoFactorSetupRequired,
)
from . import bodies as b
from .errors import Refusal, domain, drf_refusal

__all__ = ["Operation", "OPERATIONS"]

_Serializer = type[serializers.Serializer[Any]]


@dataclass(frozen=True)
class Operation:
    """One method of one endpoint.

    ``issues_session``: the answer hands over a session through the delivery the request asks
    for (``X-Auth-Strategy``): tokens in the body, or ``Set-Cookie``. ``ends_session``: the
    answer clears the token cookies of a cookie caller. ``csrf_checked``: a cookie request is
    CSRF-checked although no authentication class runs (``register``, ``refresh``, ``logout``).
    """

    summary: str
    answers: dict[int, _Serializer | None]
    request: _Serializer | None = None
    refusals: tuple[Refusal, ...] = ()
    description: str = ""
    issues_session: bool = False
    ends_session: bool = False
    rate_limited: bool = False
    csrf_checked: bool = False
    query: tuple[str, ...] = field(default=())
    cacheable: bool = False  # Cache-Control and ETag; If-None-Match answers 304
    operation_id: str | None = None  # when the path makes a poor one
    query_serializer: _Serializer | None = None  # optional query parameters, typed (the staff API's lists)


def _named(serializer: _Serializer, name: str) -> _Serializer:
    """A view's own input serializer under a component name of ours (its fields, unchanged)."""
    return type(f"DualAuth{name}Serializer", (serializer,), {"__module__": __name__})


_SIGN_IN_REFUSALS = (domain(EmailNotVerified), domain(EmailVerificationRequired), domain(TwoFactorSetupRequired))
_DELIVERY = (domain(DeliveryNotAllowed),)
_REAUTH = (domain(ReauthenticationFailed), domain(ReauthenticationRequired))
_AUTH_2FA = "Authenticated by an access token, or by the setup temp token of a `2FA_SETUP_REQUIRED` login."

OPERATIONS: dict[type[Any], dict[str, Operation]] = {
    login.LoginView: {"post": Operation(
        "Sign in with e-mail and password",
        {200: b.LoginAnswer}, _named(CredentialsInput, "LoginRequest"),
        (domain(InvalidCredentials), *_SIGN_IN_REFUSALS, *_DELIVERY),
        "Every failure of the credentials is the same 401. With 2FA on, the answer is the challenge.",
        issues_session=True, rate_limited=True)},
    login.RegisterView: {"post": Operation(
        "Create an account (it does not sign in)",
        {201: b.RegisteredBody}, _named(RegisterInput, "RegisterRequest"),
        (domain(EmailTaken),), "Off (absent here) unless `DUALAUTH_REGISTRATION_ENABLED`.",
        rate_limited=True, csrf_checked=True)},
    tokens.RefreshView: {"post": Operation(
        "Rotate the refresh token",
        {200: b.SessionAnswer}, b.RefreshRequest,
        (domain(RefreshTokenMissing), domain(RefreshTokenInvalid), domain(SessionRevoked),
         domain(CredentialConflict), *_DELIVERY),
        "The answer goes through the delivery the session was created with. A replayed refresh token "
        "revokes its whole family (`SESSION_REVOKED`).",
        issues_session=True, rate_limited=True, csrf_checked=True)},
    tokens.LogoutView: {"post": Operation(
        "End the caller's session (idempotent)",
        {200: b.SuccessBody}, b.LogoutRequest, (),
        "The session is found by the Bearer access token, the body `refreshToken` or the cookies. Always 200.",
        ends_session=True, csrf_checked=True)},
    tokens.LogoutAllView: {"post": Operation(
        "End every session of the caller", {200: b.LogoutAllBody}, ends_session=True)},
    profile.MeView: {"get": Operation("The caller's account", {200: b.ProfileBody})},
    profile.ProfileView: {"patch": Operation(
        "Change the caller's names", {200: b.SuccessBody}, _named(NamesInput, "ProfileRequest"),
        description="Send `firstName`, `lastName` or both; an empty string clears a name.")},
    profile.CsrfView: {"get": Operation(
        "Plant the CSRF cookie and answer its token", {200: b.CsrfBody},
        description="For browsers, before their first unsafe request.")},
    twofactor.TwoFactorSetupView: {"post": Operation(
        "Start TOTP enrolment", {200: b.TotpSetupBody}, None,
        (domain(TwoFactorAlreadyEnabled), domain(TempTokenInvalid)), _AUTH_2FA)},
    twofactor.TwoFactorVerifySetupView: {"post": Operation(
        "Confirm the TOTP device and receive the recovery codes",
        {200: b.SetupSessionAnswer}, b.VerifySetupRequest,
        (domain(InvalidSetupCode), domain(TwoFactorSetupNotStarted), domain(TempTokenInvalid)),
        _AUTH_2FA + " Under the setup temp token this also finishes the login.",
        issues_session=True, rate_limited=True)},
    twofactor.TwoFactorVerifyView: {"post": Operation(
        "Second step of a login: a TOTP or recovery code",
        {200: b.SessionAnswer}, _named(twofactor._VerifyInput, "TwoFactorVerifyRequest"),
        (domain(TempTokenInvalid), domain(InvalidTwoFactorCode), *_DELIVERY),
        "Send exactly one of `totpCode` and `recoveryCode`.", issues_session=True, rate_limited=True)},
    twofactor.TwoFactorDisableView: {"post": Operation(
        "Turn 2FA off", {200: b.SuccessBody}, _named(twofactor._DisableInput, "TwoFactorDisableRequest"),
        (domain(TwoFactorRequired), domain(TwoFactorNotEnabled), *_REAUTH),
        "Proven by exactly one of `totpCode` and `password`.", rate_limited=True)},
    twofactor.RecoveryCodesView: {"post": Operation(
        "A new set of recovery codes (the old set stops working)", {200: b.RecoveryCodesBody},
        _named(twofactor._TotpInput, "RecoveryCodesRequest"),
        (domain(TwoFactorNotEnabled), domain(ReauthenticationFailed)), rate_limited=True)},
    magic_links.MagicLinkSendView: {"post": Operation(
        "Mail a sign-in link", {202: b.SuccessBody}, b.MagicLinkSendRequest, (domain(TempTokenInvalid),),
        "Always 202 for a well-formed request, whether the account exists or not. "
        "Off (absent here) unless `DUALAUTH_MAGIC_LINK_ENABLED`.", rate_limited=True)},
    magic_links.MagicLinkVerifyView: {"post": Operation(
        "Sign in with a mailed link", {200: b.LoginAnswer}, b.MagicLinkVerifyRequest,
        (domain(MagicLinkInvalid), domain(TokenMismatch), domain(TempTokenInvalid), *_SIGN_IN_REFUSALS,
         *_DELIVERY),
        issues_session=True, rate_limited=True)},
    sms.SMSPhoneView: {
        "post": Operation(
            "Add or replace the caller's phone (a code is sent to it)", {202: b.SuccessBody},
            _named(sms._PhoneInput, "PhoneRequest"), (domain(ReauthenticationFailed),),
            "Replacing a verified phone needs `password`. Off (absent here) unless `DUALAUTH_SMS_ENABLED`.",
            rate_limited=True),
        "delete": Operation(
            "Remove the caller's phone", {200: b.SuccessBody}, None, (domain(ReauthenticationFailed),),
            "The JSON body carries `password` for a user who has one.", rate_limited=True)},
    sms.AddPhoneView: {"post": Operation(
        "node-auth's name for `POST sms/phone`", {202: b.SuccessBody},
        _named(sms._PhoneInput, "AddPhoneRequest"), (domain(ReauthenticationFailed),), rate_limited=True)},
    sms.SMSPhoneVerifyView: {"post": Operation(
        "Confirm the pending phone", {200: b.SuccessBody}, _named(sms._CodeInput, "PhoneVerifyRequest"),
        (domain(PhoneCodeInvalid),), rate_limited=True)},
    sms.SMSSendView: {"post": Operation(
        "Send a sign-in code (or a second-factor code) by SMS", {202: b.SuccessBody}, b.SMSSendRequest,
        (domain(EmailRequired), domain(PhoneNotVerified), domain(TempTokenInvalid)),
        "Mode \"login\": always 202, whether the account exists or not.", rate_limited=True)},
    sms.SMSVerifyView: {"post": Operation(
        "Sign in with an SMS code", {200: b.LoginAnswer}, b.SMSVerifyRequest,
        (domain(SMSCodeInvalid), domain(EmailRequired), domain(TempTokenInvalid), *_SIGN_IN_REFUSALS,
         *_DELIVERY),
        issues_session=True, rate_limited=True)},
    account.SessionListView: {"get": Operation("The caller's active sessions", {200: b.SessionListBody})},
    account.SessionCleanupView: {"post": Operation(
        "Delete the caller's ended sessions", {200: b.SessionsDeletedBody})},
    account.SessionDetailView: {"delete": Operation(
        "End one of the caller's sessions", {200: b.SuccessBody}, None, (drf_refusal("NOT_FOUND"),),
        "Another user's handle, an unknown or an ended one: the same 404. Ending the current session "
        "clears its cookies.", ends_session=True)},
    account.ChangePasswordView: {"post": Operation(
        "Change (or set a first) password", {200: b.SuccessBody},
        _named(account._ChangePasswordInput, "ChangePasswordRequest"), _REAUTH,
        "The user's other sessions are revoked. `currentPassword: \"\"` sets a first password, shortly "
        "after sign-in only.", ends_session=True, rate_limited=True)},
    account.DeleteAccountView: {"delete": Operation(
        "Delete the caller's account", {200: b.SuccessBody}, None, _REAUTH,
        "The JSON body carries exactly one of `password` and `totpCode` (schema `DualAuthDeleteAccountRequest`; "
        "OpenAPI 3.0 gives a DELETE no request body).", ends_session=True, rate_limited=True)},
    email_flows.SendVerificationEmailView: {"post": Operation(
        "Mail a verification link", {202: b.SuccessBody}, b.VerificationMailRequest, (),
        "To the caller's address when signed in (no body needed), else to `email`. Always 202 alike.",
        rate_limited=True)},
    email_flows.VerifyEmailView: {
        "get": Operation(
            "node-auth's link form: changes nothing", {303: None}, None, (domain(EmailVerificationRequiresPost),),
            "A browser is sent on to the front-end page with the token (303, `Location`); anything else gets "
            "405. Send the token with POST.", query=("token",)),
        "post": Operation(
            "Verify the e-mail address with the mailed token", {200: b.SuccessBody},
            _named(email_flows._TokenInput, "VerifyEmailRequest"), (domain(AccountTokenInvalid),),
            rate_limited=True)},
    email_flows.ForgotPasswordView: {"post": Operation(
        "Mail a password-reset link", {202: b.SuccessBody}, _named(EmailInput, "ForgotPasswordRequest"), (),
        "Always 202, whether the account exists or not.", rate_limited=True)},
    email_flows.ResetPasswordView: {"post": Operation(
        "Set a new password with the mailed token", {200: b.SuccessBody},
        _named(email_flows._ResetInput, "ResetPasswordRequest"), (domain(AccountTokenInvalid),),
        "Every session of the user is revoked.", rate_limited=True)},
    email_flows.ChangeEmailRequestView: {"post": Operation(
        "Mail a confirmation link to a new address", {202: b.SuccessBody},
        _named(email_flows._ChangeEmailInput, "ChangeEmailRequest"), _REAUTH,
        "A taken address gets the same 202 (and no mail).", rate_limited=True)},
    email_flows.ChangeEmailConfirmView: {"post": Operation(
        "Switch to the confirmed address", {200: b.SuccessBody},
        _named(email_flows._TokenInput, "ChangeEmailConfirmRequest"), (domain(AccountTokenInvalid),),
        rate_limited=True)},
    ui_config.UiConfigView: {"get": Operation(
        "What this server offers, for login screens", {200: b.UiConfigBody},
        description="The same for every caller; cacheable for five minutes.")},
    jwks.JwksView: {"get": Operation(
        "The public keys that verify access tokens (JWK set)", {200: b.JwkSetBody, 304: None},
        description="For resource servers (`PyJWKClient`): the signing key and the verify-only ones, by `kid`. "
                    "Cacheable for `DUALAUTH_JWKS_MAX_AGE`. Off (absent here) unless `DUALAUTH_JWT_KEYS` holds "
                    "an asymmetric key (docs/jwks.md).", cacheable=True, operation_id="jwks_retrieve")},
}

_PROVIDER = (domain(ProviderNotConfigured), domain(ProviderFlowUnsupported))
_ID_TOKEN = (*_PROVIDER, domain(IdTokenInvalid), domain(OAuthNonceInvalid), domain(ProviderUnavailable))
_SOCIAL = " Off (absent here) while `DUALAUTH_SOCIAL_PROVIDERS` is empty; `provider` is a configured name."

OPERATIONS.update({
    social.OAuthNonceView: {"post": Operation(
        "A nonce for one sign-in (or link) with the provider", {201: b.NonceBody}, None, _PROVIDER,
        "Single use, short-lived, bound to the provider; pass it to the platform SDK." + _SOCIAL,
        rate_limited=True)},
    social.OAuthTokenView: {"post": Operation(
        "Sign in (or up) with the provider's id_token", {200: b.LoginAnswer}, b.OAuthTokenRequest,
        (*_ID_TOKEN, domain(OAuthEmailNotVerified), domain(OAuthAccountConflict), domain(InvalidCredentials),
         domain(OAuthCodeExchangeFailed), *_SIGN_IN_REFUSALS, *_DELIVERY),
        "A first sign-in creates the account (no password) when the provider verified an address no account "
        "has; an address an account has is `OAUTH_ACCOUNT_CONFLICT` (nothing written). With 2FA on, the answer "
        "is the challenge." + _SOCIAL, issues_session=True, rate_limited=True)},
    social.OAuthLinkView: {"post": Operation(
        "Link the provider account of an id_token to the caller", {200: b.LinkAnswer}, b.OAuthLinkRequest,
        (*_ID_TOKEN, domain(OAuthAccountLinkedElsewhere), domain(ReauthenticationRequired),
         domain(OAuthCodeExchangeFailed)),
        "Within `DUALAUTH_FRESH_SIGN_IN_WINDOW` of the session's sign-in only." + _SOCIAL, rate_limited=True)},
    social_redirect.OAuthStartView: {"get": Operation(
        "Start the redirect flow: 302 to the provider", {302: None}, None,
        (domain(ProviderNotConfigured), domain(ReturnUrlNotAllowed), domain(ProviderUnavailable)),
        "node-auth's path. Query (all optional): `returnUrl`, exactly one of `DUALAUTH_SOCIAL_RETURN_URLS` "
        "(web) or `DUALAUTH_SOCIAL_APP_RETURN_URLS` (`app=1`), the first when absent; node-auth's "
        "`return_path` (a path of an allowlisted origin: the request's `Origin`/`Referer` one if allowlisted, "
        "else the first entry's) and `returnTo` (a URL or such a path) are aliases, matched against the same "
        "allowlist (names that disagree are refused); `app=1` with `code_challenge` (S256 of the app's own "
        "verifier) and `code_challenge_method=S256` for a native app using the system browser; `linkTicket` "
        "from `oauth/{provider}/link/start` (linking, `INVALID_STATE` when unknown or spent). The answer plants "
        "a short-lived HttpOnly `SameSite=Lax` cookie binding the flow to this browser. 404 for a provider "
        "without `redirect_uri`." + _SOCIAL, rate_limited=True)},
    social_redirect.OAuthLinkStartView: {"post": Operation(
        "Link a provider account to the caller through the redirect flow", {200: b.OAuthLinkStartBody},
        b.OAuthLinkStartRequest,
        (domain(ProviderNotConfigured), domain(ReturnUrlNotAllowed), domain(ProviderUnavailable),
         domain(ReauthenticationRequired)),
        "Within `DUALAUTH_FRESH_SIGN_IN_WINDOW` of the session's sign-in only. `url` is "
        "`oauth/{provider}?linkTicket=…` (single use, for `DUALAUTH_SOCIAL_STATE_LIFETIME`): a web page "
        "navigates to it, an app opens it in the system browser. For a web page the callback links the "
        "provider account instead of signing in and sends the browser to the return URL with "
        "`linked={provider}`, or with `error=OAUTH_ACCOUNT_CONFLICT&code=OAUTH_ACCOUNT_CONFLICT&provider=…` "
        "when it signs in another user, `error=REAUTHENTICATION_REQUIRED` when the session ended meanwhile, or "
        "the callback's other errors. An app (`app: true`) must send its PKCE `code_challenge` (S256): its "
        "callback links nothing and sends the app URL a one-time `code`, which the same session redeems with "
        "its verifier at `oauth/{provider}/link/finish`." + _SOCIAL, rate_limited=True)},
    social_redirect.OAuthLinkFinishView: {"post": Operation(
        "Finish an app's link through the redirect flow", {200: b.LinkAnswer}, b.OAuthExchangeRequest,
        (domain(ProviderNotConfigured), domain(OAuthAppCodeInvalid), domain(OAuthAccountLinkedElsewhere)),
        "`code` from the app URL (the callback of an `app: true` link) and `codeVerifier`, the verifier of the "
        "`code_challenge` sent to `oauth/{provider}/link/start`, from the very session that started the link. "
        "Single use: a wrong verifier or another session spends the code." + _SOCIAL, rate_limited=True)},
    social_redirect.OAuthCallbackView: {"get": Operation(
        "The provider's redirect back: 302 to the return URL", {302: None}, None,
        (domain(ProviderNotConfigured), domain(OAuthStateInvalid), drf_refusal("METHOD_NOT_ALLOWED")),
        "Query: `state`, `code`, `iss` (RFC 9207), or `error`. Web flow: the cookie session (`Set-Cookie`) and "
        "302 to the return URL; a second factor due: 302 to `<return origin>/auth/2fa?tempToken=…&methods=…`. "
        "App flow: 302 to the app URL with `code` (one-time, for `oauth/{provider}/exchange`), or its "
        "`/auth/2fa?tempToken=…&methods=…`. Any refusal once the state is known is a 302 to the return URL with "
        "`error=<code>` (`INVALID_STATE`, `OAUTH_ACCESS_DENIED`, `OAUTH_ISSUER_MISMATCH`, "
        "`OAUTH_CODE_EXCHANGE_FAILED`, `INVALID_ID_TOKEN`, `INVALID_NONCE`, `OAUTH_EMAIL_NOT_VERIFIED`, "
        "`OAUTH_ACCOUNT_CONFLICT` with `code` and `provider`, `PROVIDER_UNAVAILABLE`, a sign-in policy's code); "
        "a state naming no flow is 400 JSON. Apple answers by POST instead (405 here)." + _SOCIAL,
        rate_limited=True),
        "post": Operation(
        "Apple's form_post back to the callback: 302 to the return URL", {302: None}, b.AppleFormPost,
        (domain(ProviderNotConfigured), domain(OAuthStateInvalid), drf_refusal("METHOD_NOT_ALLOWED")),
        "Apple only (`response_mode=form_post`; other providers answer 405): Apple's page POSTs `state`, `code`, "
        "`id_token` and, at the first authorization, `user`. No CSRF token: the `state` must be one this browser "
        "started (its `SameSite=None; Secure` binding cookie), spent once. The answers are the GET's." + _SOCIAL,
        rate_limited=True)},
    social_redirect.OAuthExchangeView: {"post": Operation(
        "Redeem the app flow's one-time code", {200: b.SessionAnswer}, b.OAuthExchangeRequest,
        (domain(ProviderNotConfigured), domain(OAuthAppCodeInvalid), domain(InvalidCredentials), *_DELIVERY),
        "`code` from the app URL and `codeVerifier`, the verifier of the `code_challenge` the app sent to "
        "`oauth/{provider}`. Single use: a wrong verifier spends the code." + _SOCIAL,
        issues_session=True, rate_limited=True)},
    social.LinkedAccountsView: {"get": Operation(
        "The caller's linked provider accounts", {200: b.LinkedAccountsBody}, description=_SOCIAL.strip())},
    social.LinkedAccountDetailView: {"delete": Operation(
        "Unlink one of the caller's provider accounts", {200: b.SuccessBody}, None,
        (domain(LinkedAccountNotFound), domain(LastSignInMethod)),
        "Refused while it is the last way to sign in (no usable password, no other link)." + _SOCIAL)},
})

_LINKING = " Off (absent here) while `DUALAUTH_LINK_VERIFY_URL` is empty."

OPERATIONS.update({
    linking.LinkRequestView: {"post": Operation(
        "Mail a single-use link that links an identity to an account", {202: b.SuccessBody},
        _named(linking._LinkRequestInput, "LinkRequestRequest"),
        (domain(NotAuthenticated), domain(ProviderNotConfigured)),
        "Signed in, `provider` \"email\" (the default) links the mailbox `email`. Signed out, after a provider "
        "sign-in answered `OAUTH_ACCOUNT_CONFLICT`, `{email, provider}` mails the owner of `email` a link that "
        "attaches the provider account that sign-in proved. Always 202 alike." + _LINKING, rate_limited=True)},
    linking.LinkVerifyView: {"post": Operation(
        "Link with the mailed token", {200: b.LinkVerifyAnswer},
        _named(linking._LinkVerifyInput, "LinkVerifyRequest"),
        (domain(LinkTokenInvalid), domain(OAuthAccountLinkedElsewhere), *_SIGN_IN_REFUSALS, *_DELIVERY),
        "With `loginAfterLinking: true` and a link mailed to the account's own address, also signs in." + _LINKING,
        issues_session=True, rate_limited=True)},
})

#: Documented with every rate-limited operation.
RATE_LIMITED = domain(RateLimited)
