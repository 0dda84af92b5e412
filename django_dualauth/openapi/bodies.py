"""The bodies of the schema that the views' input serializers do not give: what each endpoint
answers, and the requests whose fields several serializers check in turn.

Each serializer here describes a body; none validates one. Their class names, less
``Serializer``, are the component names, prefixed ``DualAuth`` so that they cannot collide with
a project's own components when the schemas merge.
"""

from __future__ import annotations

from typing import Any, ClassVar

from rest_framework import serializers

from ..api.inputs import PasswordField, StrictCharField, StrictEmailField

__all__ = [
    "AnyOf", "NamedChoiceField", "BearerSession", "ChallengeBody", "CookieSession", "CsrfBody", "LoginAnswer",
    "LogoutAllBody",
    "LogoutRequest", "MagicLinkSendRequest", "MagicLinkVerifyRequest", "ProfileBody", "RecoveryCodesBody",
    "RefreshRequest", "RegisteredBody", "SessionAnswer", "SessionListBody", "SessionsDeletedBody",
    "SetupBody", "SetupSessionAnswer", "SMSSendRequest", "SMSVerifyRequest", "SuccessBody", "TotpSetupBody",
    "UiConfigBody", "JwkSetBody", "VerificationMailRequest", "VerifySetupRequest", "DeleteAccountRequest",
    "NonceBody", "IdTokenRequest", "OAuthTokenRequest", "LinkedAccountBody", "LinkedAccountsBody", "LinkAnswer",
    "OAuthExchangeRequest", "OAuthLinkStartRequest", "OAuthLinkStartBody", "AppleFormPost", "OAuthLinkRequest",
    "LinkVerifyAnswer",
]

_Body = serializers.Serializer[Any]


class NamedChoiceField(serializers.ChoiceField):
    """A choice whose enum is one named component (``enum_name``), not drf-spectacular's
    ``<Field>Enum`` that a project's own fields of the same name would collide with."""

    def __init__(self, enum_name: str, **kwargs: Any) -> None:
        self.enum_name = enum_name
        super().__init__(**kwargs)


class DualAuthSuccessSerializer(_Body):
    success = serializers.BooleanField(help_text="Always true.")


SuccessBody = DualAuthSuccessSerializer


class DualAuthBearerSessionSerializer(_Body):
    """Bearer delivery: both tokens in the body; no cookie is set."""

    success = serializers.BooleanField()
    accessToken = serializers.CharField(help_text="A JWT; send it as `Authorization: Bearer`.")
    refreshToken = serializers.CharField(help_text="Opaque, single use: `refresh` answers a new one.")
    expiresIn = serializers.IntegerField(help_text="Seconds until the access token expires.")


class DualAuthCookieSessionSerializer(_Body):
    """Cookie delivery: the tokens are HttpOnly cookies (`Set-Cookie`); the body carries no
    refresh token. `accessToken` is present only with `DUALAUTH_COOKIE_ACCESS_TOKEN_IN_BODY`."""

    success = serializers.BooleanField()
    expiresIn = serializers.IntegerField(help_text="Seconds until the access token expires.")
    accessToken = serializers.CharField(required=False)


class DualAuthTwoFactorChallengeSerializer(_Body):
    """The password (or link, or SMS code) was right and a second factor is due: no session yet."""

    requiresTwoFactor = serializers.BooleanField()
    tempToken = serializers.CharField(help_text="Send it to `2fa/verify` (or the SMS / magic-link second step).")
    available2faMethods = serializers.ListField(child=serializers.CharField())


BearerSession = DualAuthBearerSessionSerializer
CookieSession = DualAuthCookieSessionSerializer
ChallengeBody = DualAuthTwoFactorChallengeSerializer


class _RecoveryCodes(_Body):
    recoveryCodes = serializers.ListField(child=serializers.CharField(), help_text="Shown once; store them.")


class DualAuthBearerSetupSessionSerializer(DualAuthBearerSessionSerializer, _RecoveryCodes):
    """`2fa/verify-setup` under a setup temp token, bearer delivery: the session and the codes."""


class DualAuthCookieSetupSessionSerializer(DualAuthCookieSessionSerializer, _RecoveryCodes):
    """`2fa/verify-setup` under a setup temp token, cookie delivery: the codes; tokens in cookies."""


class DualAuthRecoveryCodesSerializer(DualAuthSuccessSerializer, _RecoveryCodes):
    pass


RecoveryCodesBody = DualAuthRecoveryCodesSerializer


class AnyOf(_Body):
    """A body that is one of :attr:`members` (``anyOf``): the answer depends on the delivery or
    on the account, which the request alone does not say. Subclass it and set ``members``."""

    members: ClassVar[tuple[type[serializers.Serializer[Any]], ...]] = ()


class DualAuthSessionSerializer(AnyOf):
    """A new session, in the body (bearer) or in cookies (cookie)."""

    members = (BearerSession, CookieSession)


class DualAuthLoginAnswerSerializer(AnyOf):
    """A new session (bearer or cookie), or the second factor due."""

    members = (BearerSession, CookieSession, ChallengeBody)


class DualAuthSetupAnswerSerializer(AnyOf):
    """Signed in: the recovery codes. Under a setup temp token: the new session and the codes."""

    members = (DualAuthRecoveryCodesSerializer, DualAuthBearerSetupSessionSerializer,
               DualAuthCookieSetupSessionSerializer)


SessionAnswer = DualAuthSessionSerializer
LoginAnswer = DualAuthLoginAnswerSerializer
SetupSessionAnswer = DualAuthSetupAnswerSerializer


class DualAuthRegisteredSerializer(DualAuthSuccessSerializer):
    userId = serializers.CharField()


class DualAuthLogoutAllSerializer(DualAuthSuccessSerializer):
    revokedSessions = serializers.IntegerField()


class DualAuthSessionsDeletedSerializer(DualAuthSuccessSerializer):
    deleted = serializers.IntegerField()


class DualAuthCsrfSerializer(_Body):
    csrfToken = serializers.CharField(help_text="Send it back as the CSRF header on unsafe requests.")


class DualAuthProfileSerializer(_Body):
    """The caller's account, rebuilt from the database; a project's custom claims
    (`DUALAUTH_USER_CLAIMS`) appear beside these fields."""

    sub = serializers.CharField()
    id = serializers.CharField()
    email = serializers.CharField(required=False)
    firstName = serializers.CharField(allow_null=True)
    lastName = serializers.CharField(allow_null=True)
    name = serializers.CharField(allow_null=True)
    phoneNumber = serializers.CharField(allow_null=True, help_text="The verified phone, while SMS is on.")
    hasPassword = serializers.BooleanField()
    lastLogin = serializers.DateTimeField(allow_null=True)
    isAdmin = serializers.BooleanField()


class DualAuthTotpSetupSerializer(_Body):
    secret = serializers.CharField(help_text="Base32, for manual entry.")
    otpauthUrl = serializers.CharField()
    qrCode = serializers.CharField(help_text="A `data:image/png;base64,…` URI of the QR code.")


class DualAuthDeviceSessionSerializer(_Body):
    """One of the caller's sessions (a signed-in device)."""

    sessionHandle = serializers.CharField(help_text="`DELETE sessions/{handle}` ends it.")
    handle = serializers.CharField(help_text="The same as `sessionHandle` (node-auth's Flutter name).")
    createdAt = serializers.DateTimeField()
    lastActiveAt = serializers.DateTimeField(allow_null=True)
    expiresAt = serializers.DateTimeField()
    ipAddress = serializers.CharField(allow_null=True)
    userAgent = serializers.CharField(allow_null=True)
    deliveryMode = NamedChoiceField("DualAuthDelivery", choices=["cookie", "bearer"])
    current = serializers.BooleanField(help_text="This request's own session.")
    isCurrent = serializers.BooleanField()


class DualAuthSessionListSerializer(_Body):
    sessions = DualAuthDeviceSessionSerializer(many=True)


class DualAuthUiFeaturesSerializer(_Body):
    register = serializers.BooleanField()
    magicLink = serializers.BooleanField()
    sms = serializers.BooleanField()
    google = serializers.BooleanField()
    github = serializers.BooleanField()
    forgotPassword = serializers.BooleanField()
    verifyEmail = serializers.BooleanField()
    changeEmail = serializers.BooleanField()
    twoFactor = serializers.BooleanField()


class DualAuthUiSiteSerializer(_Body):
    siteName = serializers.CharField()


class DualAuthUiConfigSerializer(_Body):
    """What this server offers, for login screens; a feature that is off says false."""

    registrationEnabled = serializers.BooleanField()
    magicLinkEnabled = serializers.BooleanField()
    smsEnabled = serializers.BooleanField()
    totpEnabled = serializers.BooleanField()
    githubEnabled = serializers.BooleanField()
    googleEnabled = serializers.BooleanField()
    availableProviders = serializers.ListField(child=serializers.CharField())
    apiPrefix = serializers.CharField()
    features = DualAuthUiFeaturesSerializer()
    ui = DualAuthUiSiteSerializer()


class DualAuthJwkSerializer(_Body):
    """A public key (RFC 7517 §4): the members of its key type only, never a private one."""

    kid = serializers.CharField(help_text="The `kid` of the access tokens this key verifies.")
    kty = NamedChoiceField("DualAuthJwkKeyType", choices=["RSA", "EC", "OKP"])
    alg = serializers.CharField(help_text="The only algorithm to verify with: RS*, PS*, ES* or EdDSA.")
    use = NamedChoiceField("DualAuthJwkUse", choices=["sig"])
    n = serializers.CharField(required=False, help_text="RSA modulus (base64url).")
    e = serializers.CharField(required=False, help_text="RSA exponent (base64url).")
    crv = serializers.CharField(required=False, help_text="EC or OKP curve: P-256, P-384, P-521, Ed25519, Ed448.")
    x = serializers.CharField(required=False)
    y = serializers.CharField(required=False, help_text="EC only.")


class DualAuthJwkSetSerializer(_Body):
    """The public keys of every asymmetric `DUALAUTH_JWT_KEYS` entry: the signing key and the
    verify-only ones (retiring or upcoming), for `PyJWKClient` and its kind."""

    keys = DualAuthJwkSerializer(many=True)


RegisteredBody = DualAuthRegisteredSerializer
LogoutAllBody = DualAuthLogoutAllSerializer
SessionsDeletedBody = DualAuthSessionsDeletedSerializer
CsrfBody = DualAuthCsrfSerializer
ProfileBody = DualAuthProfileSerializer
TotpSetupBody = DualAuthTotpSetupSerializer
SetupBody = DualAuthTotpSetupSerializer
SessionListBody = DualAuthSessionListSerializer
UiConfigBody = DualAuthUiConfigSerializer
JwkSetBody = DualAuthJwkSetSerializer

# Requests whose fields the view checks with several serializers in turn (by ``mode``).

_MODE = NamedChoiceField("DualAuthMode", choices=["login", "2fa"], required=False, default="login",
                                help_text='"2fa": the second step of a pending login (`tempToken`).')


class DualAuthRefreshRequestSerializer(_Body):
    refreshToken = StrictCharField(required=False, allow_null=True,
                                   help_text="Bearer delivery; cookie clients send the cookie. `null`: absent.")


class DualAuthLogoutRequestSerializer(_Body):
    """Logout never fails on a bad credential: a value that is not a live token, or not a string at
    all, counts as absent (hence no type here)."""

    refreshToken = serializers.JSONField(required=False, help_text="A string: bearer clients without an "
                                                                   "access token.")
    tempToken = serializers.JSONField(required=False, help_text="A string: ends a pending 2FA login too.")


class DualAuthVerifySetupRequestSerializer(_Body):
    token = StrictCharField(max_length=16, help_text="The code the authenticator app shows.")
    tempToken = StrictCharField(max_length=256, required=False,
                                help_text="The setup temp token, when not sent as `Authorization: Bearer`.")


class DualAuthMagicLinkSendRequestSerializer(_Body):
    email = StrictEmailField(max_length=254, required=False, help_text='Mode "login" (required there).')
    mode = _MODE
    tempToken = StrictCharField(max_length=256, required=False, help_text='Mode "2fa" (required there).')


class DualAuthMagicLinkVerifyRequestSerializer(_Body):
    token = StrictCharField(max_length=256)
    mode = _MODE
    tempToken = StrictCharField(max_length=256, required=False, help_text='Mode "2fa" (required there).')


class DualAuthSMSSendRequestSerializer(DualAuthMagicLinkSendRequestSerializer):
    pass


class DualAuthSMSVerifyRequestSerializer(DualAuthMagicLinkSendRequestSerializer):
    code = StrictCharField(max_length=16)


class DualAuthVerificationMailRequestSerializer(_Body):
    email = StrictEmailField(max_length=254, required=False, help_text="Without a session (required there).")


class DualAuthDeleteAccountRequestSerializer(_Body):
    password = PasswordField(required=False)
    totpCode = StrictCharField(max_length=16, required=False, help_text="For an account without a password.")


RefreshRequest = DualAuthRefreshRequestSerializer
LogoutRequest = DualAuthLogoutRequestSerializer
VerifySetupRequest = DualAuthVerifySetupRequestSerializer
MagicLinkSendRequest = DualAuthMagicLinkSendRequestSerializer
MagicLinkVerifyRequest = DualAuthMagicLinkVerifyRequestSerializer
SMSSendRequest = DualAuthSMSSendRequestSerializer
SMSVerifyRequest = DualAuthSMSVerifyRequestSerializer
DeleteAccountRequest = DualAuthDeleteAccountRequestSerializer
VerificationMailRequest = DualAuthVerificationMailRequestSerializer


# --- social sign-in ---------------------------------------------------------------------------------

class DualAuthNonceSerializer(_Body):
    nonce = serializers.CharField(help_text="Single use. Google and OIDC SDKs take it as is; Sign in with "
                                            "Apple takes its SHA-256 (hex) and the token carries that.")
    expiresAt = serializers.DateTimeField()


class DualAuthIdTokenRequestSerializer(_Body):
    idToken = StrictCharField(help_text="The id_token the platform SDK returned.")
    nonce = StrictCharField(help_text="The nonce from `oauth/{provider}/nonce` (the raw value, also for Apple).")


class DualAuthNamesSerializer(_Body):
    firstName = StrictCharField(required=False, allow_blank=True)
    lastName = StrictCharField(required=False, allow_blank=True)


class DualAuthOAuthLinkRequestSerializer(DualAuthIdTokenRequestSerializer):
    authorizationCode = StrictCharField(
        required=False, max_length=2048,
        help_text="Apple: the credential's `authorizationCode`. Where the server has Apple's team key it is "
                  "exchanged for Apple's refresh token (kept encrypted, revoked when the account or the link is "
                  "deleted); a code that fails refuses the call (`OAUTH_CODE_EXCHANGE_FAILED`).")


class DualAuthOAuthTokenRequestSerializer(DualAuthOAuthLinkRequestSerializer):
    name = DualAuthNamesSerializer(required=False, help_text="Apple gives the app the name at the first "
                                                             "authorization only: send it then (a new account).")


class DualAuthLinkedAccountSerializer(_Body):
    provider = serializers.CharField()
    providerAccountId = serializers.CharField(help_text="The provider's `sub`.")
    email = serializers.CharField(help_text="The address the provider last asserted (may be empty).")
    linkedAt = serializers.DateTimeField()


class DualAuthLinkedAccountsSerializer(_Body):
    linkedAccounts = DualAuthLinkedAccountSerializer(many=True)


class DualAuthLinkAnswerSerializer(DualAuthSuccessSerializer):
    linkedAccount = DualAuthLinkedAccountSerializer()


class DualAuthOAuthExchangeRequestSerializer(_Body):
    code = StrictCharField(help_text="The one-time code the callback put in the app URL (`code`).")
    codeVerifier = StrictCharField(help_text="The PKCE verifier of the `code_challenge` the app sent to "
                                             "`oauth/{provider}` (43 to 128 characters).")


class DualAuthOAuthLinkStartRequestSerializer(_Body):
    returnUrl = StrictCharField(required=False, help_text="Exactly one of `DUALAUTH_SOCIAL_RETURN_URLS` (or, with "
                                                          "`app`, `DUALAUTH_SOCIAL_APP_RETURN_URLS`); the first "
                                                          "when no name is given.")
    returnTo = StrictCharField(required=False, help_text="node-auth's name: a URL, or a path as `return_path`.")
    return_path = StrictCharField(required=False, help_text="node-auth's name: a path of an allowlisted origin.")
    app = serializers.BooleanField(required=False, help_text="The return URL is the app's "
                                                             "(`DUALAUTH_SOCIAL_APP_RETURN_URLS`), and the "
                                                             "link ends at `oauth/{provider}/link/finish`.")
    code_challenge = StrictCharField(required=False, help_text="With `app`, required: S256 of the app's own PKCE "
                                                               "verifier (43 characters).")
    code_challenge_method = StrictCharField(required=False, help_text="`S256` (the only method), or absent.")


class DualAuthOAuthLinkStartSerializer(_Body):
    url = serializers.CharField(help_text="`oauth/{provider}?linkTicket=…`: open it in the browser (single use).")
    expiresAt = serializers.DateTimeField()


class DualAuthAppleFormPostSerializer(_Body):
    """What Apple's page POSTs to the callback (``response_mode=form_post``)."""

    state = StrictCharField(help_text="The `state` of `oauth/apple`: it must be this browser's (binding cookie).")
    code = StrictCharField(required=False, help_text="Apple's authorization code (exchanged with the client secret "
                                                      "JWT).")
    id_token = StrictCharField(required=False, help_text="Ignored: the token endpoint's id_token is the one verified.")
    user = StrictCharField(required=False, help_text="First authorization only: JSON `{\"name\": {\"firstName\", "
                                                      "\"lastName\"}, \"email\"}`; its names fill a new account.")
    error = StrictCharField(required=False, help_text="Apple's error (`user_cancelled_authorize`).")
    iss = StrictCharField(required=False, help_text="RFC 9207: Apple sends none; when present it must be Apple's "
                                                     "issuer (`OAUTH_ISSUER_MISMATCH` otherwise).")


AppleFormPost = DualAuthAppleFormPostSerializer
NonceBody = DualAuthNonceSerializer
OAuthLinkStartRequest = DualAuthOAuthLinkStartRequestSerializer
OAuthLinkStartBody = DualAuthOAuthLinkStartSerializer
OAuthExchangeRequest = DualAuthOAuthExchangeRequestSerializer
IdTokenRequest = DualAuthIdTokenRequestSerializer
OAuthLinkRequest = DualAuthOAuthLinkRequestSerializer
OAuthTokenRequest = DualAuthOAuthTokenRequestSerializer
LinkedAccountBody = DualAuthLinkedAccountSerializer
LinkedAccountsBody = DualAuthLinkedAccountsSerializer
LinkAnswer = DualAuthLinkAnswerSerializer


class DualAuthLinkVerifyAnswerSerializer(AnyOf):
    """Linked; with `loginAfterLinking`, a new session (bearer or cookie) or the second factor due."""

    members = (DualAuthLinkAnswerSerializer, BearerSession, CookieSession, ChallengeBody)


LinkVerifyAnswer = DualAuthLinkVerifyAnswerSerializer
