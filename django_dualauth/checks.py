"""System checks (``dualauth.E0xx`` errors, ``dualauth.W0xx`` warnings)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import Any, TypeAlias
from urllib.parse import urlsplit

from django.apps import AppConfig, apps
from django.conf import settings
from django.core import checks
from jwt.algorithms import get_default_algorithms

from .apple_secret import load_apple_key
from .conf import DELIVERY_POLICIES, REDIS_CACHES, REVOCATION_CHECKS, SAMESITE_VALUES, dualauth_settings
from .social_providers import APPLE_KEY_OPTIONS, ProviderConfig, parse_providers, return_url_problem

_NON_SHARED_CACHES = {
    "django.core.cache.backends.locmem.LocMemCache",
    "django.core.cache.backends.dummy.DummyCache",
    "django.core.cache.backends.filebased.FileBasedCache",
    "django.core.cache.backends.db.DatabaseCache",
}
#: What Django passes a check function: the apps to check, or None for all of them.
_AppConfigs: TypeAlias = Sequence[AppConfig] | None

_HMAC = {"HS256": 32, "HS384": 48, "HS512": 64}
_ASYMMETRIC = {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}


@checks.register(checks.Tags.security, deploy=False)
def check_settings(app_configs: _AppConfigs = None, **kwargs: object) -> list[checks.CheckMessage]:
    """The ``DUALAUTH_*`` settings, one concern at a time (``_SETTINGS_CHECKS``), in that order."""
    return [message for check in _SETTINGS_CHECKS for message in check()]


def _check_choices() -> list[checks.CheckMessage]:
    s = dualauth_settings
    errors: list[checks.CheckMessage] = []
    if s.DELIVERY_POLICY not in DELIVERY_POLICIES:
        errors.append(checks.Error(
            f"DUALAUTH_DELIVERY_POLICY must be one of {DELIVERY_POLICIES}.", id="dualauth.E001"))
    if s.REVOCATION_CHECK not in REVOCATION_CHECKS:
        errors.append(checks.Error(
            f"DUALAUTH_REVOCATION_CHECK must be one of {REVOCATION_CHECKS}.", id="dualauth.E002"))
    if s.COOKIE_SAMESITE not in SAMESITE_VALUES:
        errors.append(checks.Error(
            f"DUALAUTH_COOKIE_SAMESITE must be one of {SAMESITE_VALUES}.", id="dualauth.E003"))
    elif s.COOKIE_SAMESITE == "None" and not s.COOKIE_SECURE:
        errors.append(checks.Error("SameSite=None cookies must be Secure.", id="dualauth.E003"))
    return errors


def _check_cookie_delivery() -> list[checks.CheckMessage]:
    s = dualauth_settings
    if s.DELIVERY_POLICY == "bearer":  # no token cookie is ever set
        return []
    errors: list[checks.CheckMessage] = []
    if not s.DEBUG and not s.COOKIE_SECURE:
        errors.append(checks.Error(
            "Token cookies are not Secure while DEBUG is False.",
            hint="Remove DUALAUTH_COOKIE_SECURE = False outside development.", id="dualauth.E005"))
    if "django.middleware.csrf.CsrfViewMiddleware" not in settings.MIDDLEWARE:
        errors.append(checks.Error(
            "Cookie delivery needs django.middleware.csrf.CsrfViewMiddleware in MIDDLEWARE "
            "(it sets the CSRF cookie web clients echo back).",
            hint='Add it, or set DUALAUTH_DELIVERY_POLICY = "bearer".', id="dualauth.E006"))
    return errors


def _check_revocation() -> list[checks.CheckMessage]:
    s = dualauth_settings
    errors: list[checks.CheckMessage] = []
    backend = s.revocation_cache_backend
    if s.REVOCATION_CHECK == "cache" and not s.DEBUG and (backend in _NON_SHARED_CACHES or not backend):
        errors.append(checks.Error(
            f"DUALAUTH_REVOCATION_CHECK = 'cache' with the non-shared cache {backend!r}: "
            "a revocation in one process would not reach the others.",
            hint="Use Redis (django-redis) for DUALAUTH_REVOCATION_CACHE.", id="dualauth.E007"))
    if not s.REVOCATION_PUSH:
        return errors
    if s.REVOCATION_CHECK != "cache":
        errors.append(checks.Warning(
            "DUALAUTH_REVOCATION_PUSH has no effect unless DUALAUTH_REVOCATION_CHECK = 'cache'.",
            id="dualauth.W006"))
    elif backend not in REDIS_CACHES:
        errors.append(checks.Error(
            f"DUALAUTH_REVOCATION_PUSH needs Redis pub/sub; the cache {s.REVOCATION_CACHE!r} "
            f"is {backend!r}.",
            hint="Use django_redis.cache.RedisCache or django.core.cache.backends.redis.RedisCache.",
            id="dualauth.E012"))
    return errors


def _check_two_factor_apps() -> list[checks.CheckMessage]:
    missing = [a for a in ("django_otp", "django_otp.plugins.otp_totp") if not apps.is_installed(a)]
    if not missing:
        return []
    return [checks.Error(
        f"django-dualauth's second factor needs {', '.join(missing)} in INSTALLED_APPS.",
        hint="Add django_otp and django_otp.plugins.otp_totp before django_dualauth.",
        id="dualauth.E008")]


def _check_mail_links() -> list[checks.CheckMessage]:
    s = dualauth_settings
    errors: list[checks.CheckMessage] = []
    if s.MAGIC_LINK_ENABLED and "{token}" not in s.MAGIC_LINK_URL:
        errors.append(checks.Error(
            "DUALAUTH_MAGIC_LINK_ENABLED needs DUALAUTH_MAGIC_LINK_URL with a {token} placeholder.",
            hint='e.g. "https://app.example.com/magic-link?token={token}" (your front end POSTs it).',
            id="dualauth.E009"))
    for name in ("VERIFY_EMAIL_URL", "PASSWORD_RESET_URL", "EMAIL_CHANGE_URL", "LINK_VERIFY_URL"):
        value = getattr(s, name)
        if value and "{token}" not in value:
            errors.append(checks.Error(f"DUALAUTH_{name} needs a {{token}} placeholder.", id="dualauth.E010"))
    if s.EMAIL_VERIFICATION not in ("none", "lazy", "strict"):
        errors.append(checks.Error('DUALAUTH_EMAIL_VERIFICATION must be "none", "lazy" or "strict".',
                                   id="dualauth.E011"))
    elif s.EMAIL_VERIFICATION != "none" and not s.VERIFY_EMAIL_URL:
        errors.append(checks.Error(
            "DUALAUTH_EMAIL_VERIFICATION requires DUALAUTH_VERIFY_EMAIL_URL: users could never verify.",
            id="dualauth.E011"))
    return errors


def _check_sms_gateway() -> list[checks.CheckMessage]:
    s = dualauth_settings
    if not s.SMS_ENABLED or s.DEBUG:  # the gateway is not loaded then
        return []
    gateway = s.SMS_GATEWAY.__name__
    if gateway not in ("ConsoleGateway", "OutboxGateway"):
        return []
    return [checks.Warning(
        f"DUALAUTH_SMS_GATEWAY is the development {gateway} while DEBUG is False: "
        "codes are not delivered to phones.",
        hint="Use django_dualauth.gateways.TwilioGateway or your own gateway.", id="dualauth.W005")]


def _check_refresh_grace() -> list[checks.CheckMessage]:
    if dualauth_settings.REFRESH_REUSE_GRACE.total_seconds() > 60:
        return [checks.Warning(
            "DUALAUTH_REFRESH_REUSE_GRACE over 60 seconds widens the replay window.",
            hint="Keep the default (10 seconds), 0 (strict) or a few tens of seconds at most.", id="dualauth.W003")]
    return []


def _check_keys() -> list[checks.CheckMessage]:
    keys = dualauth_settings.JWT_KEYS
    if not keys:
        return _check_derived_key()
    errors: list[checks.CheckMessage] = []
    if not any(k.get("secret") or k.get("private_key") for k in keys):
        errors.append(checks.Error("DUALAUTH_JWT_KEYS has no signing key.", id="dualauth.E004"))
    for entry in keys:
        errors.extend(_check_key_entry(entry))
    return errors


def _check_derived_key() -> list[checks.CheckMessage]:
    # Without DUALAUTH_JWT_KEYS access tokens are signed with a key derived from SECRET_KEY.
    s = dualauth_settings
    secret = s.SECRET_KEYS[0] or ""
    if not s.DEBUG and (len(secret) < 50 or secret.startswith("django-insecure-") or len(set(secret)) < 5):
        return [checks.Error(
            "Access tokens are signed with a key derived from a weak SECRET_KEY.",
            hint="Set a long random SECRET_KEY or configure DUALAUTH_JWT_KEYS.",
            id="dualauth.E004")]
    return []


def _check_key_entry(entry: dict[str, Any]) -> list[checks.CheckMessage]:
    errors: list[checks.CheckMessage] = []
    alg, kid = entry.get("algorithm"), entry.get("kid")
    if not isinstance(kid, str) or not kid:
        errors.append(checks.Error("Every DUALAUTH_JWT_KEYS entry needs a string 'kid'.",
                                   id="dualauth.E004"))
    if alg in _HMAC:
        if len(str(entry.get("secret", "")).encode()) < _HMAC[alg]:
            errors.append(checks.Error(
                f"JWT key {kid!r}: an {alg} secret needs at least {_HMAC[alg]} bytes.",
                id="dualauth.E004"))
        elif str(entry.get("secret")) in dualauth_settings.SECRET_KEYS:
            errors.append(checks.Error(
                f"JWT key {kid!r}: SECRET_KEY must not be reused as a JWT secret.",
                id="dualauth.E004"))
    elif alg not in _ASYMMETRIC:
        errors.append(checks.Error(f"JWT key {kid!r}: unsupported algorithm {alg!r}.",
                                   id="dualauth.E004"))
    else:
        errors.extend(_check_asymmetric_key(entry, alg, kid))
    return errors


def _check_asymmetric_key(entry: dict[str, Any], alg: str, kid: object) -> list[checks.CheckMessage]:
    # An entry without usable material would fail every request; RSA needs 2048 bits (RFC 7518 §3.3).
    pem = entry.get("private_key") or entry.get("public_key")
    if not pem:
        return [checks.Error(f"JWT key {kid!r}: {alg} needs a private_key or public_key.",
                             id="dualauth.E004")]
    try:
        key = get_default_algorithms()[alg].prepare_key(str(pem))
    except Exception:  # the key loaders' errors vary by key type
        return [checks.Error(f"JWT key {kid!r}: the {alg} key cannot be loaded.", id="dualauth.E004")]
    if alg[:2] in {"RS", "PS"} and key.key_size < 2048:
        return [checks.Error(f"JWT key {kid!r}: RSA keys need at least 2048 bits.", id="dualauth.E004")]
    return []


#: The concerns of :func:`check_settings`, in the order their messages are listed.
#: Past this a "fresh" sign-in is no longer fresh: a stolen session could still set a password.
_FRESH_SIGN_IN_LIMIT = timedelta(hours=1)


def _check_fresh_sign_in_window() -> list[checks.CheckMessage]:
    try:
        window = dualauth_settings.FRESH_SIGN_IN_WINDOW
    except (TypeError, ValueError):
        return [checks.Error("DUALAUTH_FRESH_SIGN_IN_WINDOW must be a timedelta (or seconds).",
                             id="dualauth.E013")]
    if window < timedelta(0):
        return [checks.Error("DUALAUTH_FRESH_SIGN_IN_WINDOW must not be negative.",
                             hint="Keep the default (5 minutes); 0 turns setting a first password off.",
                             id="dualauth.E013")]
    if window > _FRESH_SIGN_IN_LIMIT:
        return [checks.Warning(
            "DUALAUTH_FRESH_SIGN_IN_WINDOW over an hour: a session that old is no proof of a fresh sign-in.",
            hint="Keep the default (5 minutes) or a few minutes at most.", id="dualauth.W008")]
    return []


def _check_jwks() -> list[checks.CheckMessage]:
    errors: list[checks.CheckMessage] = []
    try:
        max_age = dualauth_settings.JWKS_MAX_AGE
    except (TypeError, ValueError):
        max_age = None
    if max_age is None or max_age < timedelta(0):
        errors.append(checks.Error("DUALAUTH_JWKS_MAX_AGE must be a timedelta (or seconds), not negative.",
                                   hint="Keep the default (5 minutes).", id="dualauth.E014"))
    keys = dualauth_settings.JWT_KEYS
    signer = next((k for k in keys if k.get("secret") or k.get("private_key")), None)
    if signer is not None and signer.get("algorithm") in _HMAC and any(k.get("algorithm") in _ASYMMETRIC for k in keys):
        errors.append(checks.Warning(
            f"DUALAUTH_JWT_KEYS publishes asymmetric keys (GET .well-known/jwks.json) but the HMAC key "
            f"{signer.get('kid')!r} signs: a resource server that verifies through the JWK set refuses every "
            "access token.",
            hint="Expected only while moving from HMAC to an asymmetric key (docs/jwks.md); otherwise put "
                 "an asymmetric key with its private_key first.", id="dualauth.W009"))
    return errors


_LOOPBACK_HOSTS = frozenset({"127.0.0.1", "::1", "localhost"})


def _check_social_providers() -> list[checks.CheckMessage]:
    """E016: a provider that cannot work (the message names it); E017: a duration of social
    sign-in that is not positive; E018: a return URL of the redirect flow that cannot be
    matched safely; W010: a provider endpoint over plain HTTP off loopback; W013: a redirect-flow
    ``redirect_uri`` whose path is not ``…/oauth/<name>/callback`` (the link flow's start URL is
    derived from it)."""
    s = dualauth_settings
    errors: list[checks.CheckMessage] = []
    try:
        providers = parse_providers(s.SOCIAL_PROVIDERS)
    except (TypeError, ValueError) as exc:
        return [checks.Error(f"DUALAUTH_SOCIAL_PROVIDERS: {exc}.", hint="See docs/social-login.md.",
                             id="dualauth.E016")]
    for name in ("SOCIAL_RETURN_URLS", "SOCIAL_APP_RETURN_URLS"):
        try:
            urls = getattr(s, name)
        except TypeError:
            urls = [None]
        for url in urls:
            problem = return_url_problem(url)
            if problem is not None:
                errors.append(checks.Error(f"DUALAUTH_{name}: {url!r} {problem}.",
                                           hint="List absolute URLs, each matched exactly.", id="dualauth.E018"))
    for name in ("SOCIAL_NONCE_LIFETIME", "SOCIAL_ID_TOKEN_MAX_AGE", "SOCIAL_JWKS_LIFESPAN", "SOCIAL_STATE_LIFETIME",
                 "SOCIAL_APP_CODE_LIFETIME", "LINK_TOKEN_LIFETIME"):
        try:
            ok = getattr(s, name) > timedelta(0)
        except (TypeError, ValueError):
            ok = False
        if not ok:
            errors.append(checks.Error(f"DUALAUTH_{name} must be a positive timedelta (or seconds).",
                                       id="dualauth.E017"))
    for name in ("SOCIAL_ID_TOKEN_LEEWAY", "SOCIAL_JWKS_REFETCH_COOLDOWN"):
        try:
            ok = getattr(s, name) >= timedelta(0)
        except (TypeError, ValueError):
            ok = False
        if not ok:
            errors.append(checks.Error(f"DUALAUTH_{name} must be a timedelta (or seconds), not negative.",
                                       id="dualauth.E017"))
    errors.extend(_check_apple(providers))
    for provider in providers.values():
        if provider.redirect_flow and not urlsplit(provider.redirect_uri).path.endswith(
                f"/oauth/{provider.name}/callback"):
            errors.append(checks.Warning(
                f"DUALAUTH_SOCIAL_PROVIDERS[{provider.name!r}]: redirect_uri {provider.redirect_uri!r} is not this "
                f"provider's callback (…/oauth/{provider.name}/callback).",
                hint="Point it at the package's callback as the browser reaches it: the link flow's "
                     "oauth/<name>?linkTicket= URL is derived from it.", id="dualauth.W013"))
        for url in (provider.jwks_uri, provider.discovery_url, provider.token_endpoint, provider.userinfo_endpoint,
                    provider.revoke_endpoint):
            parsed = urlsplit(url)
            if parsed.scheme == "http" and parsed.hostname not in _LOOPBACK_HOSTS:
                errors.append(checks.Warning(
                    f"DUALAUTH_SOCIAL_PROVIDERS[{provider.name!r}] fetches {url} over plain HTTP.",
                    hint="Use https: keys fetched in clear text can be replaced on the way.", id="dualauth.W010"))
    return errors


def _check_apple(providers: dict[str, ProviderConfig]) -> list[checks.CheckMessage]:
    """E019: Apple's team key incomplete or unusable, Apple's web flow without it, or
    ``DUALAUTH_SOCIAL_TOKEN_KEYS`` unusable; W012: Apple without the key, so the app's
    authorization code is not exchanged and no Apple token can be revoked at account deletion."""
    errors: list[checks.CheckMessage] = []
    token_keys: list[object]
    try:
        token_keys = list(dualauth_settings.SOCIAL_TOKEN_KEYS)
    except TypeError:
        token_keys = [None]
    if any(not isinstance(key, str) or len(key) < 32 for key in token_keys):
        errors.append(checks.Error("DUALAUTH_SOCIAL_TOKEN_KEYS must be a list of secret strings of at least 32 "
                                   "characters (the first encrypts, all decrypt).",
                                   hint="Generate one with secrets.token_urlsafe(32); load it from the environment.",
                                   id="dualauth.E019"))
    for provider in providers.values():
        if provider.kind != "apple":
            continue
        where = f"DUALAUTH_SOCIAL_PROVIDERS[{provider.name!r}]"
        given = [name for name in APPLE_KEY_OPTIONS if getattr(provider, name)]
        if given and len(given) < len(APPLE_KEY_OPTIONS):
            errors.append(checks.Error(f"{where} sets {given} but Apple's client secret needs all of "
                                       f"{list(APPLE_KEY_OPTIONS)}.", id="dualauth.E019"))
            continue
        if provider.has_client_key:
            try:
                load_apple_key(provider.private_key)
            except ValueError as exc:
                errors.append(checks.Error(f"{where}: private_key is unusable: {exc}.",
                                           hint="The .p8 file of a Sign in with Apple key (PEM, P-256).",
                                           id="dualauth.E019"))
            continue
        if provider.redirect_uri:
            errors.append(checks.Error(f"{where} sets redirect_uri, but Apple's web flow needs team_id, key_id and "
                                       "private_key (its client secret is a JWT they sign).", id="dualauth.E019"))
        errors.append(checks.Warning(
            f"{where} has no team_id, key_id and private_key: the app's authorizationCode is not exchanged, so "
            "deleting an account cannot revoke its Apple tokens (App Store guideline 5.1.1(v)).",
            hint="Add the Sign in with Apple key (docs/social-login.md#apple).", id="dualauth.W012"))
    return errors


_SETTINGS_CHECKS: tuple[Callable[[], list[checks.CheckMessage]], ...] = (
    _check_choices, _check_keys, _check_jwks, _check_cookie_delivery, _check_revocation, _check_two_factor_apps,
    _check_mail_links, _check_sms_gateway, _check_refresh_grace, _check_fresh_sign_in_window,
    _check_social_providers,
)


@checks.register(checks.Tags.security)
def check_password_hashers(app_configs: _AppConfigs = None, **kwargs: object) -> list[checks.CheckMessage]:
    hashers = getattr(settings, "PASSWORD_HASHERS", None) or [
        "django.contrib.auth.hashers.PBKDF2PasswordHasher"]
    if hashers[0] != "django.contrib.auth.hashers.Argon2PasswordHasher":
        return [checks.Warning(
            "Argon2PasswordHasher is not first in PASSWORD_HASHERS.",
            hint="Put django.contrib.auth.hashers.Argon2PasswordHasher first; existing hashes "
                 "are upgraded at the next login.", id="dualauth.W001")]
    return []


@checks.register(checks.Tags.security)
def check_backends(app_configs: _AppConfigs = None, **kwargs: object) -> list[checks.CheckMessage]:
    from django.contrib.auth import get_user_model

    backends = getattr(settings, "AUTHENTICATION_BACKENDS", [])
    if "django_dualauth.backends.EmailBackend" in backends:
        return []
    model = get_user_model()
    if model.USERNAME_FIELD == model.get_email_field_name():
        return []
    return [checks.Warning(
        "No authentication backend accepts e-mail addresses, so POST login cannot succeed.",
        hint="Add 'django_dualauth.backends.EmailBackend' to AUTHENTICATION_BACKENDS.",
        id="dualauth.W002")]


@checks.register(checks.Tags.caches)
def check_rate_limit_cache(app_configs: _AppConfigs = None, **kwargs: object) -> list[checks.CheckMessage]:
    if dualauth_settings.DEBUG:
        return []
    alias = dualauth_settings.RATELIMIT_USE_CACHE
    cache: dict[str, Any] = settings.CACHES.get(alias) or {}
    backend = cache.get("BACKEND", "")
    if backend in _NON_SHARED_CACHES:
        return [checks.Warning(
            f"Rate-limit counters live in {backend!r}, which app processes do not share "
            "(or which lacks atomic increment).",
            hint="Use Redis (django-redis) in production.", id="dualauth.W004")]
    return []


# Both take SQLite's write lock at BEGIN; DEFERRED (the default) takes it at the first write.
_SQLITE_LOCKING_MODES = {"IMMEDIATE", "EXCLUSIVE"}


@checks.register(checks.Tags.security)
def check_sqlite_transaction_mode(app_configs: _AppConfigs = None, **kwargs: object) -> list[checks.CheckMessage]:
    """A file-backed SQLite database whose transactions begin DEFERRED.

    A refresh (like most writes) reads before it writes. In a deferred transaction the read
    takes no write lock; when another connection holds it or has written since the read
    began, taking it fails at once with "database is locked" (waiting there could deadlock),
    whatever the timeout. Concurrent requests then get 503s instead of queueing.
    """
    warnings: list[checks.CheckMessage] = []
    databases: dict[str, dict[str, Any]] = settings.DATABASES  # a project's settings, not the stubs' sample
    for alias, database in databases.items():
        if database.get("ENGINE") != "django.db.backends.sqlite3" or _in_memory(database):
            continue
        mode = str((database.get("OPTIONS") or {}).get("transaction_mode") or "DEFERRED").upper()
        if mode not in _SQLITE_LOCKING_MODES:
            warnings.append(checks.Warning(
                f'SQLite database {alias!r} begins transactions {mode}: concurrent refreshes and '
                'logins fail with "database is locked" (503) instead of waiting their turn.',
                hint='Set DATABASES[...]["OPTIONS"] = {"transaction_mode": "IMMEDIATE", "timeout": 10}; '
                     "see docs/deployment.md.", id="dualauth.W007"))
    return warnings


def _in_memory(database: dict[str, Any]) -> bool:
    # One connection per in-memory database: nothing to contend with.
    name = str(database.get("NAME") or "")
    return name == ":memory:" or "mode=memory" in name or name.startswith("file::memory:")


@checks.register(checks.Tags.urls)
def check_staff_api_reachable(app_configs: _AppConfigs = None, **kwargs: object) -> list[checks.CheckMessage]:
    """The staff API, when included, must resolve to itself: mounted after ``admin.site.urls`` at
    ``admin/api/``, the admin's catch-all answers its paths instead (docs/admin.md)."""
    from django.urls import NoReverseMatch, Resolver404, resolve, reverse

    try:
        path = reverse("dualauth-staff:users")
    except NoReverseMatch:
        return []  # not included
    try:
        match = resolve(path)
    except Resolver404:  # pragma: no cover - reverse() found it
        return []
    if match.namespace == "dualauth-staff":
        return []
    return [checks.Warning(
        f"The staff API's {path} resolves to {match.view_name or match.func!r}, not to the staff API.",
        hint="Put path('admin/api/', include('django_dualauth.staff.urls')) before path('admin/', admin.site.urls).",
        id="dualauth.W011")]
