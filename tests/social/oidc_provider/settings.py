"""Settings of the stand-alone OpenID Connect provider (django-oauth-toolkit) that the social
tests start in a subprocess. A project of its own: it imports nothing of ``django_dualauth`` or
``tests.settings`` and has its own SQLite file. Everything per run (issuer, port, database, RSA
key, secrets) comes from the JSON file named by ``OIDC_PROVIDER_CONFIG``, written by
:func:`tests.social.oidc_provider.start_oidc_provider`."""

import json
import os
from pathlib import Path

CONFIG = json.loads(Path(os.environ["OIDC_PROVIDER_CONFIG"]).read_text())

SECRET_KEY = CONFIG["secret_key"]
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
USE_TZ = True
TIME_ZONE = "UTC"
ROOT_URLCONF = "tests.social.oidc_provider.urls"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    # Before oauth2_provider: its templates replace the toolkit's base page (which links a
    # stylesheet this server does not serve).
    "tests.social.oidc_provider",
    "oauth2_provider",
]
MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
]
TEMPLATES = [{
    "BACKEND": "django.template.backends.django.DjangoTemplates",
    "APP_DIRS": True,
    "OPTIONS": {"context_processors": ["django.template.context_processors.request"]},
}]
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": CONFIG["database"],
                         "OPTIONS": {"init_command": "PRAGMA synchronous=OFF; PRAGMA journal_mode=WAL;"}}}
# Test users only, and every sign-in and client-secret check pays a hash: the fast one.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

LOGIN_URL = "/accounts/login/"
# The provider and the app under test may share a host name (cookies ignore the port): names of
# its own keep the two cookie sets apart.
SESSION_COOKIE_NAME = "idp_session"
CSRF_COOKIE_NAME = "idp_csrftoken"

OAUTH2_PROVIDER = {
    "OIDC_ENABLED": True,
    "OIDC_RSA_PRIVATE_KEY": Path(CONFIG["rsa_key_file"]).read_text(),
    "OIDC_ISS_ENDPOINT": CONFIG["issuer"],
    "PKCE_REQUIRED": True,
    # RFC 9700 behaviour: S256 only (no "plain"), and `iss` in the authorization response
    # (RFC 9207) unless the run asks for a provider that omits it, as many still do.
    "COMPLIANT_BCP_RFC9700_PKCE_METHOD": True,
    "COMPLIANT_BCP_RFC9700_AUTHZ_RESPONSE_ISS": CONFIG["authorization_response_iss"],
    "COMPLIANT_BCP_RFC9700_IMPLICIT_GRANT": True,
    "COMPLIANT_BCP_RFC9700_PASSWORD_GRANT": True,
    "AUTHORIZATION_CODE_EXPIRE_SECONDS": 60,
    "SCOPES": {"openid": "OpenID Connect", "email": "Your e-mail address", "profile": "Your name"},
    "DEFAULT_SCOPES": ["openid"],
    "OAUTH2_VALIDATOR_CLASS": "tests.social.oidc_provider.claims.Validator",
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": "INFO"},
}

# A throw-away database: its tables are made straight from the models (`migrate --run-syncdb`),
# about 2 s faster per start than replaying every migration of the four apps.
MIGRATION_MODULES = {app: None for app in ("auth", "contenttypes", "sessions", "oauth2_provider")}
