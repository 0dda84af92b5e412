"""Every ``DUALAUTH_*`` setting, its default and its meaning, in one place.

Settings are read from :mod:`django.conf.settings` on every access, so
``override_settings`` and the pytest-django ``settings`` fixture take effect at
once. No other module of the package reads our keys. The few values the per-request
path needs are resolved once per process, in one place: :class:`Snapshot` (read through
:func:`snapshot`), which is dropped on Django's ``setting_changed`` signal (which both of those
send) and whenever they replace the settings holder (which both do for every change, a removal
included).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from functools import cache, cached_property
from typing import TYPE_CHECKING, Any, Literal, cast

from django.conf import settings
from django.core.signals import setting_changed
from django.utils.module_loading import import_string

from ._seam.csrf_check import CsrfCheck
from ._seam.settings_holder import settings_holder
from .apple_secret import AppleClientSecret
from .gateways import ProviderKeys
from .jwt_keys import SigningKey, prepare_keys, public_jwks
from .social_providers import ProviderConfig, parse_providers
from .token_cipher import token_cipher
from .types import AccessClaims, Delivery

if TYPE_CHECKING:
    from .types import User

__all__ = ["dualauth_settings", "snapshot", "Snapshot", "resolve_import", "DEFAULT_RATE_LIMITS", "REDIS_CACHES"]

DELIVERY_POLICIES = ("per-request", "cookie", "bearer")
REVOCATION_CHECKS = ("database", "cache")
SAMESITE_VALUES = ("Lax", "Strict", "None")
SameSite = Literal["Lax", "Strict", "None"]

#: django-ratelimit rates ("count/period"), merged key by key with DUALAUTH_RATE_LIMITS.
DEFAULT_RATE_LIMITS: dict[str, str | None] = {
    "login_ip": "30/10m",  # failed logins per client IP (password spraying)
    "login_email": "5/5m",  # failed logins per normalised e-mail (brute force on one account)
    "refresh_ip": "120/m",  # refused refresh attempts per client IP (rotations are not counted)
    "register_ip": "10/h",  # registrations per client IP
    "2fa_ip": "30/10m",  # failed second-factor codes per client IP
    "magic_link_email": "3/10m",  # link requests per normalised e-mail (inbox flooding)
    "magic_link_ip": "20/10m",  # link requests per client IP
    "sms_send_phone": "5/h",  # codes sent per phone number (SMS pumping, toll fraud)
    "sms_send_ip": "30/h",  # codes sent per client IP
    "sms_verify_ip": "30/10m",  # wrong SMS codes per client IP
    "sms_verify_email": "10/10m",  # wrong SMS login codes per normalised e-mail, known or not
    "account_email": "3/h",  # account mails per normalised address, or per user when signed in
    "account_ip": "20/10m",  # account-lifecycle requests per client IP
    "account_user": "10/10m",  # wrong passwords and codes per user: every re-authentication and second factor
    "reauth_ip": "30/10m",  # wrong passwords per client IP on change-password, change-email, delete, sms/phone
    "oauth_nonce_ip": "60/10m",  # sign-in nonces handed out per client IP (each is a row)
    "oauth_token_ip": "30/10m",  # id_token exchanges and links per client IP (each may cost a signature check)
    "oauth_redirect_ip": "60/10m",  # redirect-flow starts and callbacks per client IP (a row, a provider call)
    "oauth_exchange_ip": "30/10m",  # one-time code redemptions of the app flow per client IP
}


def _duration(value: Any) -> timedelta:
    return value if isinstance(value, timedelta) else timedelta(seconds=float(value))


@cache
def resolve_import(path: str) -> Any:
    """Import a dotted path once; memoised by path, so changing a setting takes effect."""
    return import_string(path)


#: Cache backends with Redis pub/sub (what ``DUALAUTH_REVOCATION_PUSH`` needs).
REDIS_CACHES = frozenset({"django_redis.cache.RedisCache", "django.core.cache.backends.redis.RedisCache"})

_UNSET = object()
_UNSET_NAMES: set[str] = set()  # DUALAUTH_* names seen unset since the last setting_changed


class DualAuthSettings:
    """Typed, read-on-access view of the ``DUALAUTH_*`` settings."""

    def _get(self, name: str, default: Any) -> Any:
        # A DUALAUTH_* name the project leaves unset costs an AttributeError inside
        # LazySettings on every read (2-3 us; a cookie refresh reads about twenty), so unset
        # names are remembered until setting_changed (sent when a setting is added or changed).
        # Names that are set are read each time: LazySettings caches them, and a removal sends
        # no signal.
        if name in _UNSET_NAMES:
            return default
        value = getattr(settings, f"DUALAUTH_{name}", _UNSET)
        if value is _UNSET:
            _UNSET_NAMES.add(name)
            return default
        return value

    # --- delivery -------------------------------------------------------------------------
    @property
    def DELIVERY_POLICY(self) -> str:
        """"per-request" (the client chooses), "cookie" only or "bearer" only."""
        return str(self._get("DELIVERY_POLICY", "per-request"))

    @property
    def BEARER_HEADERS(self) -> dict[str, tuple[str, ...]]:
        """Request headers (name -> accepted exact values) that ask for bearer delivery."""
        raw = self._get("BEARER_HEADERS", {"X-Auth-Strategy": ["bearer"]})
        return {
            name: (values,) if isinstance(values, str) else tuple(values)
            for name, values in raw.items()
        }

    @property
    def COOKIE_ACCESS_TOKEN_IN_BODY(self) -> bool:
        """Web clients get the access token in the JSON body (kept in memory) instead of a cookie."""
        return bool(self._get("COOKIE_ACCESS_TOKEN_IN_BODY", False))

    # --- cookies --------------------------------------------------------------------------
    @property
    def COOKIE_SECURE(self) -> bool:
        """Secure cookies; ``None`` (default) means Secure unless ``DEBUG``."""
        value = self._get("COOKIE_SECURE", None)
        return (not settings.DEBUG) if value is None else bool(value)

    @property
    def COOKIE_SAMESITE(self) -> SameSite:
        # cast: system check E003 refuses any other value (and Django would refuse it in the cookie).
        return cast(SameSite, str(self._get("COOKIE_SAMESITE", "Lax")))

    @property
    def COOKIE_DOMAIN(self) -> str | None:
        value = self._get("COOKIE_DOMAIN", None)
        return None if value is None else str(value)

    @property
    def COOKIE_HOST_PREFIX(self) -> bool:
        """Prefix cookie names with ``__Host-`` (or ``__Secure-`` with a Domain) when Secure."""
        return bool(self._get("COOKIE_HOST_PREFIX", True))

    @property
    def ACCESS_COOKIE_NAME(self) -> str:
        return str(self._get("ACCESS_COOKIE_NAME", "accessToken"))

    @property
    def REFRESH_COOKIE_NAME(self) -> str:
        return str(self._get("REFRESH_COOKIE_NAME", "refreshToken"))

    @property
    def REQUIRE_ORIGIN(self) -> bool:
        """Refuse cookie-credentialed unsafe requests that carry neither Origin nor Referer."""
        return bool(self._get("REQUIRE_ORIGIN", True))

    # --- lifetimes ------------------------------------------------------------------------
    @property
    def ACCESS_TOKEN_LIFETIME(self) -> timedelta:
        return _duration(self._get("ACCESS_TOKEN_LIFETIME", timedelta(minutes=15)))

    @property
    def REFRESH_TOKEN_IDLE_LIFETIME(self) -> timedelta:
        return _duration(self._get("REFRESH_TOKEN_IDLE_LIFETIME", timedelta(days=7)))

    @property
    def REFRESH_TOKEN_ABSOLUTE_LIFETIME(self) -> timedelta:
        return _duration(self._get("REFRESH_TOKEN_ABSOLUTE_LIFETIME", timedelta(days=30)))

    @property
    def REFRESH_REUSE_GRACE(self) -> timedelta:
        """Window after a rotation in which a retry of the immediate parent gets the same
        successor instead of revoking the family (0 = strict). 10 s by default: a refresh whose
        answer was lost (a dropped connection, a killed worker, two tabs) is retried inside it;
        a stolen parent buys only the successor its owner holds too, so the next rotation by
        either side after the window is reuse (docs/security.md)."""
        return _duration(self._get("REFRESH_REUSE_GRACE", timedelta(seconds=10)))

    # --- access-token format --------------------------------------------------------------
    @property
    def JWT_KEYS(self) -> list[dict[str, Any]]:
        """Signing keys; the first with private material signs, all verify. Empty = derived HS256."""
        return list(self._get("JWT_KEYS", []))

    @property
    def JWT_ISSUER(self) -> str:
        return str(self._get("JWT_ISSUER", "django-dualauth"))

    @property
    def JWT_AUDIENCE(self) -> str:
        return str(self._get("JWT_AUDIENCE", "django-dualauth"))

    @property
    def JWT_LEEWAY(self) -> timedelta:
        return _duration(self._get("JWT_LEEWAY", timedelta(0)))

    @property
    def JWKS_MAX_AGE(self) -> timedelta:
        """How long caches and resource servers may keep the published JWK set (``Cache-Control``)."""
        return _duration(self._get("JWKS_MAX_AGE", timedelta(minutes=5)))

    @property
    def ACCESS_TOKEN_MAX_LENGTH(self) -> int:
        return int(self._get("ACCESS_TOKEN_MAX_LENGTH", 8192))

    @property
    def CUSTOM_CLAIMS(self) -> Any:
        """Dotted path (or callable) ``(user) -> dict`` merged into access tokens and ``me``."""
        value = self._get("CUSTOM_CLAIMS", None)
        return resolve_import(value) if isinstance(value, str) else value

    # --- revocation -----------------------------------------------------------------------
    @property
    def REVOCATION_CHECK(self) -> str:
        """"database" (one query per request) or "cache" (zero queries; needs a shared cache)."""
        return str(self._get("REVOCATION_CHECK", "database"))

    @property
    def REVOCATION_CACHE(self) -> str:
        return str(self._get("REVOCATION_CACHE", "default"))

    @property
    def REVOCATION_PUSH(self) -> bool:
        """Cache mode on Redis: publish revocations, and answer from each process's memory.

        Unset, it is on exactly when the revocation check is ``"cache"`` and its cache is Redis:
        the only place it can work, and there it spares most requests their Redis round trip.
        """
        value = self._get("REVOCATION_PUSH", None)
        if value is None:
            return self.REVOCATION_CHECK == "cache" and self.revocation_cache_backend in REDIS_CACHES
        return bool(value)

    @property
    def revocation_cache_backend(self) -> str:
        """The ``BACKEND`` of the cache named by ``DUALAUTH_REVOCATION_CACHE`` ("" if none)."""
        return str(settings.CACHES.get(self.REVOCATION_CACHE, {}).get("BACKEND", ""))

    # --- endpoints ------------------------------------------------------------------------
    @property
    def REGISTRATION_ENABLED(self) -> bool:
        return bool(self._get("REGISTRATION_ENABLED", False))

    @property
    def RATE_LIMITS(self) -> dict[str, str | None]:
        return {**DEFAULT_RATE_LIMITS, **self._get("RATE_LIMITS", {})}

    @property
    def TRUSTED_PROXY_DEPTH(self) -> int:
        """Number of trusted reverse proxies appending to X-Forwarded-For (0 = use REMOTE_ADDR)."""
        return int(self._get("TRUSTED_PROXY_DEPTH", 0))

    @property
    def MAX_BODY_SIZE(self) -> int:
        return int(self._get("MAX_BODY_SIZE", 64 * 1024))

    @property
    def PASSWORD_MAX_LENGTH(self) -> int:
        return int(self._get("PASSWORD_MAX_LENGTH", 4096))

    # --- second factor --------------------------------------------------------------------
    @property
    def REQUIRE_2FA(self) -> bool:
        """Every user must have a second factor (``AccountState.two_factor_required`` per user)."""
        return bool(self._get("REQUIRE_2FA", False))

    @property
    def TEMP_TOKEN_LIFETIME(self) -> timedelta:
        return _duration(self._get("TEMP_TOKEN_LIFETIME", timedelta(minutes=5)))

    @property
    def TWO_FACTOR_MAX_ATTEMPTS(self) -> int:
        """Wrong codes one temp token allows: this many failures answer 429 and kill it."""
        return int(self._get("TWO_FACTOR_MAX_ATTEMPTS", 5))

    @property
    def RECOVERY_CODE_COUNT(self) -> int:
        return int(self._get("RECOVERY_CODE_COUNT", 10))

    @property
    def TWO_FACTOR_REVOKE_OTHER_SESSIONS(self) -> bool:
        """Confirming, disabling or resetting a factor revokes the user's other sessions."""
        return bool(self._get("TWO_FACTOR_REVOKE_OTHER_SESSIONS", True))

    @property
    def TOTP_ISSUER(self) -> str:
        """Issuer shown by authenticator apps; falls back to django-otp's ``OTP_TOTP_ISSUER``."""
        return str(self._get("TOTP_ISSUER", getattr(settings, "OTP_TOTP_ISSUER", None) or "django-dualauth"))

    # --- magic links and SMS codes -----------------------------------------------------------
    @property
    def MAGIC_LINK_ENABLED(self) -> bool:
        """Magic-link login (a single-factor e-mail authenticator: off unless you opt in)."""
        return bool(self._get("MAGIC_LINK_ENABLED", False))

    @property
    def MAGIC_LINK_URL(self) -> str:
        """Front-end URL the mail links to, with a ``{token}`` placeholder; never built from Host."""
        return str(self._get("MAGIC_LINK_URL", ""))

    @property
    def MAGIC_LINK_LIFETIME(self) -> timedelta:
        return _duration(self._get("MAGIC_LINK_LIFETIME", timedelta(minutes=15)))

    @property
    def MAGIC_LINK_FULL_LOGIN(self) -> bool:
        """A magic link logs in a user who has 2FA without the second step (not recommended)."""
        return bool(self._get("MAGIC_LINK_FULL_LOGIN", False))

    @property
    def MAGIC_LINK_SECOND_FACTOR(self) -> bool:
        """Offer ``magic-link`` in ``available2faMethods`` (a password plus the mailbox)."""
        return bool(self._get("MAGIC_LINK_SECOND_FACTOR", True))

    @property
    def SMS_ENABLED(self) -> bool:
        return bool(self._get("SMS_ENABLED", False))

    @property
    def SMS_GATEWAY(self) -> Any:
        """Dotted path of the gateway class (``django_dualauth.gateways.ConsoleGateway`` ...)."""
        return resolve_import(str(self._get("SMS_GATEWAY", "django_dualauth.gateways.ConsoleGateway")))

    @property
    def SMS_GATEWAY_OPTIONS(self) -> dict[str, Any]:
        return dict(self._get("SMS_GATEWAY_OPTIONS", {}))

    @property
    def SMS_CODE_LIFETIME(self) -> timedelta:
        return _duration(self._get("SMS_CODE_LIFETIME", timedelta(minutes=5)))

    @property
    def SMS_RESEND_COOLDOWN(self) -> timedelta:
        return _duration(self._get("SMS_RESEND_COOLDOWN", timedelta(seconds=60)))

    @property
    def SMS_CODE_MAX_ATTEMPTS(self) -> int:
        """Wrong guesses one code allows before it is void."""
        return int(self._get("SMS_CODE_MAX_ATTEMPTS", 3))

    @property
    def SMS_THROTTLE_FACTOR(self) -> int:
        """django-otp's per-device delay after wrong codes: 1, 2, 4 ... seconds times this."""
        return int(self._get("SMS_THROTTLE_FACTOR", 1))

    @property
    def MESSAGE_DISPATCHER(self) -> Any:
        """``(send: Callable[[], None]) -> None`` that delivers mails and SMS off the request path."""
        return resolve_import(str(self._get("MESSAGE_DISPATCHER",
                                            "django_dualauth.messaging.dispatch_in_thread")))

    # --- account lifecycle: e-mail verification, password reset and change, e-mail change --------
    @property
    def EMAIL_VERIFICATION(self) -> str:
        """"none", "lazy" (log-in allowed until ``EMAIL_VERIFICATION_GRACE`` after sign-up) or
        "strict" (no log-in, by any method, until the address is verified)."""
        return str(self._get("EMAIL_VERIFICATION", "none"))

    @property
    def EMAIL_VERIFICATION_GRACE(self) -> timedelta:
        return _duration(self._get("EMAIL_VERIFICATION_GRACE", timedelta(days=7)))

    @property
    def EMAIL_VERIFICATION_TOKEN_LIFETIME(self) -> timedelta:
        return _duration(self._get("EMAIL_VERIFICATION_TOKEN_LIFETIME", timedelta(hours=24)))

    @property
    def PASSWORD_RESET_TOKEN_LIFETIME(self) -> timedelta:
        return _duration(self._get("PASSWORD_RESET_TOKEN_LIFETIME", timedelta(hours=1)))

    @property
    def EMAIL_CHANGE_TOKEN_LIFETIME(self) -> timedelta:
        return _duration(self._get("EMAIL_CHANGE_TOKEN_LIFETIME", timedelta(hours=1)))

    @property
    def VERIFY_EMAIL_URL(self) -> str:
        """Front-end URL of the verification mail, with a ``{token}`` placeholder."""
        return str(self._get("VERIFY_EMAIL_URL", ""))

    @property
    def PASSWORD_RESET_URL(self) -> str:
        return str(self._get("PASSWORD_RESET_URL", ""))

    @property
    def EMAIL_CHANGE_URL(self) -> str:
        return str(self._get("EMAIL_CHANGE_URL", ""))

    @property
    def LINK_VERIFY_URL(self) -> str:
        """Front-end URL of the account-linking mail (``link-request``), with a ``{token}``
        placeholder; empty: ``link-request`` and ``link-verify`` answer 404."""
        return str(self._get("LINK_VERIFY_URL", ""))

    @property
    def LINK_TOKEN_LIFETIME(self) -> timedelta:
        """How long a linking link works (once), and how long a conflict's pending link waits
        for its ``link-request``."""
        return _duration(self._get("LINK_TOKEN_LIFETIME", timedelta(hours=1)))

    @property
    def FRESH_SIGN_IN_WINDOW(self) -> timedelta:
        """How long after a session's sign-in (not its last refresh) a change that asks for no
        proof in the body is allowed: setting a first password (``change-password`` with an
        empty ``currentPassword``)."""
        return _duration(self._get("FRESH_SIGN_IN_WINDOW", timedelta(minutes=5)))

    @property
    def SITE_NAME(self) -> str:
        """The name ``ui/config`` shows (``ui.siteName``); empty: the TOTP issuer name."""
        return str(self._get("SITE_NAME", "") or self.TOTP_ISSUER)

    @property
    def PASSWORD_CHANGE_KEEPS_CURRENT_SESSION(self) -> bool:
        """``change-password`` revokes the user's other sessions and keeps the caller's."""
        return bool(self._get("PASSWORD_CHANGE_KEEPS_CURRENT_SESSION", True))

    # --- social sign-in -----------------------------------------------------------------
    @property
    def SOCIAL_PROVIDERS(self) -> dict[str, Any]:
        """Sign-in providers, name -> options (``django_dualauth.social_providers``; docs/social-login.md).
        Empty (the default): no ``oauth/...`` or ``linked-accounts`` endpoint answers."""
        return dict(self._get("SOCIAL_PROVIDERS", {}))

    @property
    def SOCIAL_NONCE_LIFETIME(self) -> timedelta:
        """How long a nonce from ``oauth/<provider>/nonce`` may be used (once)."""
        return _duration(self._get("SOCIAL_NONCE_LIFETIME", timedelta(minutes=10)))

    @property
    def SOCIAL_ID_TOKEN_LEEWAY(self) -> timedelta:
        """Clock skew allowed on an id_token's ``exp``, ``iat`` and ``nbf``."""
        return _duration(self._get("SOCIAL_ID_TOKEN_LEEWAY", timedelta(seconds=60)))

    @property
    def SOCIAL_ID_TOKEN_MAX_AGE(self) -> timedelta:
        """An id_token issued (``iat``) longer ago than this is refused, whatever its ``exp``."""
        return _duration(self._get("SOCIAL_ID_TOKEN_MAX_AGE", timedelta(hours=1)))

    @property
    def SOCIAL_JWKS_LIFESPAN(self) -> timedelta:
        """How long a provider's key set is kept before it is fetched again."""
        return _duration(self._get("SOCIAL_JWKS_LIFESPAN", timedelta(hours=1)))

    @property
    def SOCIAL_RETURN_URLS(self) -> list[str]:
        """Where the web redirect flow may send the browser back: absolute ``http(s)`` URLs matched
        exactly (scheme, host, port and path; no prefix matching). The first is the default."""
        return list(self._get("SOCIAL_RETURN_URLS", []))

    @property
    def SOCIAL_APP_RETURN_URLS(self) -> list[str]:
        """Where the app redirect flow may send the system browser back (a custom scheme such as
        ``myapp://auth`` or a claimed https link), matched exactly. The first is the default."""
        return list(self._get("SOCIAL_APP_RETURN_URLS", []))

    @property
    def SOCIAL_STATE_LIFETIME(self) -> timedelta:
        """How long a redirect-flow sign-in may take from ``oauth/<provider>`` to its callback."""
        return _duration(self._get("SOCIAL_STATE_LIFETIME", timedelta(minutes=10)))

    @property
    def SOCIAL_APP_CODE_LIFETIME(self) -> timedelta:
        """How long the app flow's one-time code may be redeemed (once)."""
        return _duration(self._get("SOCIAL_APP_CODE_LIFETIME", timedelta(seconds=60)))

    @property
    def SOCIAL_TOKEN_KEYS(self) -> list[str]:
        """Keys that encrypt provider tokens kept at rest (Apple's refresh token): the first
        encrypts, every one decrypts (rotation). Each is a secret string of at least 32
        characters, stretched by HKDF. Empty (the default): keys derived from ``SECRET_KEY`` and
        ``SECRET_KEY_FALLBACKS``."""
        return list(self._get("SOCIAL_TOKEN_KEYS", []))

    @property
    def SOCIAL_JWKS_REFETCH_COOLDOWN(self) -> timedelta:
        """The least time between two fetches of a key set caused by an unknown ``kid``."""
        return _duration(self._get("SOCIAL_JWKS_REFETCH_COOLDOWN", timedelta(seconds=30)))

    # --- the private seam ----------------------------------------------------------------
    @property
    def PRIVATE_SPEEDUPS(self) -> bool:
        """Run the hot paths through the private seam (``django_dualauth/_seam/``: compiled ORM
        statements, the one-statement rotation, the fast JWS segment check). False runs the plain
        reference path of ``services/`` instead: the same behaviour, slower."""
        return bool(self._get("PRIVATE_SPEEDUPS", True))

    # --- Django settings we depend on (read here too, so this stays the only reader) -----
    @property
    def SECRET_KEYS(self) -> list[str]:
        """``SECRET_KEY`` first, then ``SECRET_KEY_FALLBACKS`` (verification only)."""
        return [settings.SECRET_KEY, *getattr(settings, "SECRET_KEY_FALLBACKS", [])]

    @property
    def RATELIMIT_FAIL_OPEN(self) -> bool:
        """django-ratelimit's setting: skip limits (instead of refusing) when the cache is down."""
        return bool(getattr(settings, "RATELIMIT_FAIL_OPEN", False))

    @property
    def RATELIMIT_USE_CACHE(self) -> str:
        """django-ratelimit's setting: the cache alias that holds the counters."""
        return str(getattr(settings, "RATELIMIT_USE_CACHE", "default"))

    @property
    def DEBUG(self) -> bool:
        return bool(settings.DEBUG)

    @property
    def CSRF_TRUSTED_ORIGINS(self) -> list[str]:
        return list(getattr(settings, "CSRF_TRUSTED_ORIGINS", []))

    @property
    def CSRF_COOKIE_NAME(self) -> str:
        return str(settings.CSRF_COOKIE_NAME)

    @property
    def CSRF_HEADER_NAME(self) -> str:
        """Django's ``CSRF_HEADER_NAME``: a ``request.META`` key such as ``HTTP_X_CSRFTOKEN``."""
        return str(settings.CSRF_HEADER_NAME)

    @property
    def CSRF_USE_SESSIONS(self) -> bool:
        return bool(settings.CSRF_USE_SESSIONS)

    @property
    def CSRF_COOKIE_LIFETIME(self) -> timedelta | None:
        """How long Django's CSRF cookie lives once set; None when it has no age (a browser-session
        cookie) or when ``CSRF_USE_SESSIONS`` keeps the token in the session instead."""
        age = settings.CSRF_COOKIE_AGE
        return None if settings.CSRF_USE_SESSIONS or age is None else timedelta(seconds=age)


dualauth_settings = DualAuthSettings()


# --- the per-process snapshot ----------------------------------------------------------------

@dataclass(frozen=True)
class CookiePolicy:
    """The token cookies' names (with their ``__Host-``/``__Secure-`` prefix) and attributes."""

    access_name: str
    refresh_name: str
    domain: str | None
    secure: bool
    samesite: SameSite


@dataclass(frozen=True)
class TokenIssuance:
    """What signing an access token needs from the settings."""

    key: SigningKey
    issuer: str
    audience: str
    lifetime: timedelta


@dataclass(frozen=True)
class JwkSet:
    """The published JWK set (``GET .well-known/jwks.json``): its body, serialised once, its
    ``ETag`` and its ``Cache-Control``."""

    body: bytes
    etag: str
    cache_control: str


@dataclass(frozen=True)
class TokenVerification:
    """What verifying an access token needs from the settings, and the two memos of tokens that
    verified under them (``services.access_tokens`` says what they hold and why they are safe):
    a new snapshot starts them empty, so a changed key, issuer or audience is never excused."""

    max_length: int
    keys: dict[str, SigningKey]  # by kid; the first key of a kid wins, as a scan in order would
    audience: str
    issuer: str
    leeway: float  # seconds
    verified_headers: dict[str, SigningKey] = field(default_factory=dict)
    verified_tokens: dict[str, AccessClaims] = field(default_factory=dict)


@dataclass(frozen=True)
class SocialProvider:
    """A configured sign-in provider and its key client (``gateways.ProviderKeys``)."""

    config: ProviderConfig
    keys: ProviderKeys
    #: Apple with its team key configured: the client secret JWTs (``apple_secret``).
    client_secret_jwt: AppleClientSecret | None = None


class Snapshot:
    """Every value the per-request path derives from settings alone, each resolved on its first
    read (most requests need a few of them) and kept for the life of the snapshot.

    Reading a ``DUALAUTH_*`` name the project leaves unset goes through ``LazySettings`` and an
    ``AttributeError``, and what is built from the settings (keys by ``kid``, cookie names, Django's
    CSRF check, the user model) never changes while the settings do not: rebuilding any of it per
    request cost more than the work it serves. :func:`snapshot` returns the current one.
    """

    @cached_property
    def private_speedups(self) -> bool:
        """Whether the private seam runs (``DUALAUTH_PRIVATE_SPEEDUPS``): read by every seam call."""
        return dualauth_settings.PRIVATE_SPEEDUPS

    # --- delivery -------------------------------------------------------------------------
    @cached_property
    def cookie_policy(self) -> CookiePolicy:
        """Seven settings: every cookie request reads the names, every token response sets two cookies."""
        s = dualauth_settings
        secure, domain = s.COOKIE_SECURE, s.COOKIE_DOMAIN
        prefix = ""
        if secure and s.COOKIE_HOST_PREFIX:
            # __Host- demands Path=/ and no Domain; with a Domain only __Secure- is possible.
            prefix = "__Secure-" if domain else "__Host-"
        return CookiePolicy(access_name=prefix + s.ACCESS_COOKIE_NAME, refresh_name=prefix + s.REFRESH_COOKIE_NAME,
                            domain=domain, secure=secure, samesite=s.COOKIE_SAMESITE)

    @cached_property
    def access_token_in_body(self) -> bool:
        return dualauth_settings.COOKIE_ACCESS_TOKEN_IN_BODY

    @cached_property
    def csrf_cookie_may_expire_first(self) -> bool:
        """Whether the CSRF cookie set at login can expire before the session's absolute lifetime
        ends (then a cookie refresh re-sends it: see ``delivery.base.CookieDelivery``)."""
        lifetime = dualauth_settings.CSRF_COOKIE_LIFETIME
        return lifetime is not None and lifetime < dualauth_settings.REFRESH_TOKEN_ABSOLUTE_LIFETIME

    @cached_property
    def planted_csrf_cookie(self) -> str | None:
        """The CSRF cookie's name that ``delivery.csrf_cookie`` plants, or ``None`` when nothing is
        to be planted: the token lives in the session (``CSRF_USE_SESSIONS``), or no request can
        ask for cookie delivery."""
        s = dualauth_settings
        if s.CSRF_USE_SESSIONS or s.DELIVERY_POLICY == Delivery.BEARER:
            return None
        return s.CSRF_COOKIE_NAME

    @cached_property
    def csrf_check(self) -> CsrfCheck:
        """Django's CSRF middleware, which parses ``CSRF_TRUSTED_ORIGINS`` once per instance."""
        return CsrfCheck()

    # --- access tokens --------------------------------------------------------------------
    @cached_property
    def signing_keys(self) -> tuple[SigningKey, ...]:
        """All access-token keys, signing key first (:mod:`django_dualauth.jwt_keys`)."""
        return prepare_keys(dualauth_settings.JWT_KEYS, dualauth_settings.SECRET_KEYS)

    @cached_property
    def token_issuance(self) -> TokenIssuance:
        key = next((k for k in self.signing_keys if k.signing_key is not None), None)
        if key is None:
            raise RuntimeError("DUALAUTH_JWT_KEYS has no key with private material")  # system check E004
        s = dualauth_settings
        return TokenIssuance(key=key, issuer=s.JWT_ISSUER, audience=s.JWT_AUDIENCE, lifetime=s.ACCESS_TOKEN_LIFETIME)

    @cached_property
    def token_verification(self) -> TokenVerification:
        keys: dict[str, SigningKey] = {}
        for key in self.signing_keys:
            keys.setdefault(key.kid, key)
        s = dualauth_settings
        return TokenVerification(max_length=s.ACCESS_TOKEN_MAX_LENGTH, keys=keys, audience=s.JWT_AUDIENCE,
                                 issuer=s.JWT_ISSUER, leeway=s.JWT_LEEWAY.total_seconds())

    @cached_property
    def jwk_set(self) -> JwkSet | None:
        """The public keys of every asymmetric key, or ``None`` when there is none (the endpoint
        is then off): built once, since the body is the same for every request."""
        keys = public_jwks(self.signing_keys)
        if not keys:
            return None
        body = json.dumps({"keys": keys}, separators=(",", ":"), sort_keys=True).encode()
        max_age = max(0, int(dualauth_settings.JWKS_MAX_AGE.total_seconds()))  # check E014 refuses < 0
        return JwkSet(body=body, etag='"' + hashlib.sha256(body).hexdigest()[:32] + '"',
                      cache_control=f"public, max-age={max_age}")

    # --- social sign-in -----------------------------------------------------------------
    @cached_property
    def social_providers(self) -> dict[str, SocialProvider]:
        """The configured sign-in providers by name, each with its one key client for the process
        (so the key set is fetched once, not per sign-in). System check E016 reports a
        configuration this refuses; at run time such a configuration serves no provider."""
        s = dualauth_settings
        try:
            configs = parse_providers(s.SOCIAL_PROVIDERS)
        except ValueError:
            return {}
        return {name: SocialProvider(config, ProviderKeys(
            jwks_uri=config.jwks_uri, discovery_url=config.discovery_url,
            issuer=config.issuers[0] if config.issuers else "", timeout=config.timeout,
            lifespan=s.SOCIAL_JWKS_LIFESPAN.total_seconds(), cooldown=s.SOCIAL_JWKS_REFETCH_COOLDOWN.total_seconds()),
            AppleClientSecret(team_id=config.team_id, key_id=config.key_id, private_key=config.private_key)
            if config.has_client_key else None)
            for name, config in configs.items()}

    @cached_property
    def social_token_cipher(self) -> Any:
        """The ``cryptography`` ``MultiFernet`` of ``DUALAUTH_SOCIAL_TOKEN_KEYS`` (or of keys derived
        from ``SECRET_KEY`` and its fallbacks): :func:`crypto.seal_token` / :func:`crypto.open_token`."""
        s = dualauth_settings
        return token_cipher(s.SOCIAL_TOKEN_KEYS or s.SECRET_KEYS)

    # --- revocation and the user ----------------------------------------------------------
    @cached_property
    def revocation_cache_alias(self) -> str:
        """The alias only: the cache object is fetched from ``caches`` each time, which keeps
        Django's one instance per thread (and per async context)."""
        return dualauth_settings.REVOCATION_CACHE

    @cached_property
    def revocation_push(self) -> bool:
        """Cache mode with push (``services.revocation_push``)."""
        return dualauth_settings.REVOCATION_CHECK == "cache" and dualauth_settings.REVOCATION_PUSH

    @cached_property
    def revocation_ttl(self) -> int:
        """Seconds a revocation marker lives: longer than any access token it refuses."""
        return int((dualauth_settings.ACCESS_TOKEN_LIFETIME + dualauth_settings.JWT_LEEWAY).total_seconds()) + 60

    @cached_property
    def user_model(self) -> type[User]:
        """``AUTH_USER_MODEL``, resolved (``get_user_model()`` looks it up in the app registry)."""
        from django.contrib.auth import get_user_model  # not at import: it needs the app registry

        return get_user_model()

    @cached_property
    def user_pk_to_python(self) -> Callable[[Any], Any]:
        """The user model's primary-key conversion, for the claims' ``sub``."""
        pk = self.user_model._meta.pk
        assert pk is not None  # every concrete model has one
        return pk.to_python


_snapshot: tuple[object, Snapshot] | None = None  # (settings holder, snapshot): one atomic read


def snapshot() -> Snapshot:
    """The current :class:`Snapshot`, valid while the settings do not change.

    It is dropped on ``setting_changed``, and used only while the settings holder
    (``_seam.settings_holder``) is the one it was made under: ``override_settings`` and
    pytest-django's ``settings`` fixture install a new holder for every change, a removal
    (``del settings.X``, which sends no signal) included, so a changed setting takes effect at once.
    Assigning to ``django.conf.settings`` at run time (which Django does not support) would not be seen.
    """
    global _snapshot
    memo = _snapshot
    holder = settings_holder()
    if memo is not None and memo[0] is holder:
        return memo[1]
    fresh = Snapshot()
    _snapshot = (holder, fresh)
    return fresh


def _drop_snapshot(**kwargs: Any) -> None:
    global _snapshot
    _snapshot = None
    _UNSET_NAMES.clear()


# Any setting: the values are few and cheap to rebuild, and some depend on Django's own
# settings (SECRET_KEY for derived keys, AUTH_USER_MODEL, CACHES) as well as on ours.
setting_changed.connect(_drop_snapshot, dispatch_uid="dualauth_drop_snapshot")
