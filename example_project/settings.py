"""Example project: SQLite and the local-memory cache by default; PostgreSQL and Redis from
``DATABASE_URL`` / ``REDIS_URL``, which is how it runs behind several gunicorn workers."""

import json
import os
from pathlib import Path

import dj_database_url
import django
from corsheaders.defaults import default_headers

BASE_DIR = Path(__file__).resolve().parent.parent
DEBUG = os.environ.get("DJANGO_DEBUG", "1") == "1"
SECRET_KEY = os.environ.get(
    "DJANGO_SECRET_KEY", "django-insecure-demo-only-key-change-me-0123456789abcdefghijklmnop")
ALLOWED_HOSTS = os.environ.get("DJANGO_ALLOWED_HOSTS", "127.0.0.1,localhost").split(",")
CSRF_TRUSTED_ORIGINS = [o for o in os.environ.get(
    "DJANGO_CSRF_TRUSTED_ORIGINS", "http://localhost:3000,http://127.0.0.1:3000").split(",") if o]

# The demo page (example_project/demo/, at "/"): DEMO_ORIGIN is where it is served, which the
# mails link to (`make demo` sets it from PORT). DEMO_API_ORIGIN, when set, makes this server
# serve the page for the API at that origin instead of its own: the cross-origin recipe
# (docs/recipe-cross-origin.md, `make demo-cross-origin`), where the API's server runs with
# DEMO_ORIGIN = the page's origin and so trusts it for CORS and CSRF.
DEMO_ORIGIN = os.environ.get("DEMO_ORIGIN", "http://127.0.0.1:8000").rstrip("/")
DEMO_API_ORIGIN = os.environ.get("DEMO_API_ORIGIN", "").rstrip("/")
if DEMO_ORIGIN not in CSRF_TRUSTED_ORIGINS:
    CSRF_TRUSTED_ORIGINS.append(DEMO_ORIGIN)  # the Origin check of cookie requests from the page
# django-cors-headers: the browser lets the page read the API's answers (and send cookies,
# X-CSRF-Token and JSON bodies to it) only if the API says so. Same origin needs none of it.
CORS_ALLOWED_ORIGINS = [DEMO_ORIGIN]
CORS_ALLOW_CREDENTIALS = True  # the cookies: fetch(..., {credentials: "include"})
CORS_ALLOW_HEADERS = (*default_headers, "x-csrf-token")  # JSON bodies and the CSRF header need a preflight
CORS_EXPOSE_HEADERS = ["Retry-After"]  # the client's DualAuthError.retryAfter on 429/503
CORS_URLS_REGEX = r"^/(auth|api)/"

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "corsheaders",
    "rest_framework",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_dualauth",
    "drf_spectacular",  # the schema at /auth/openapi/ (docs/openapi.md)
    "drf_spectacular_sidecar",  # its Swagger UI and Redoc files, served offline
    "example_project.demo",
]

MIDDLEWARE = [
    "corsheaders.middleware.CorsMiddleware",  # first: before any middleware that may answer
    "django.middleware.security.SecurityMiddleware",
    # Static files (the demo page's CSS and scripts, the client, Swagger UI) under gunicorn with
    # DEBUG off as well as under runserver, straight from the apps' static/ folders.
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "example_project.urls"
WSGI_APPLICATION = "example_project.wsgi.application"
TEMPLATES = [{
    "BACKEND": "django.template.backends.django.DjangoTemplates",
    "DIRS": [],
    "APP_DIRS": True,
    "OPTIONS": {"context_processors": [
        "django.template.context_processors.request",
        "django.contrib.auth.context_processors.auth",
        "django.contrib.messages.context_processors.messages",
    ]},
}]

DATABASES = {"default": dj_database_url.config(
    default=f"sqlite:///{BASE_DIR / 'example_project' / 'db.sqlite3'}", conn_max_age=60)}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Concurrent requests on the embedded default: a write transaction takes SQLite's write lock
    # when it begins (IMMEDIATE), not at its first write, so two refreshes queue on the busy
    # timeout instead of one failing with "database is locked"; WAL lets readers run beside
    # the writer. See docs/deployment.md.
    DATABASES["default"].setdefault("OPTIONS", {}).update({
        "transaction_mode": "IMMEDIATE",
        "timeout": 10,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    })
elif DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # Prepared statements (psycopg 3): the per-request session join is planned once per
    # connection. Not with PgBouncer in transaction mode before 1.21 (docs/deployment.md).
    DATABASES["default"].setdefault("OPTIONS", {}).update({"server_side_binding": True, "prepare_threshold": 5})

if os.environ.get("REDIS_URL"):
    CACHES = {"default": {"BACKEND": "django_redis.cache.RedisCache",
                          "LOCATION": os.environ["REDIS_URL"]}}
    DUALAUTH_REVOCATION_CHECK = os.environ.get("DUALAUTH_REVOCATION_CHECK", "database")
    if "DUALAUTH_REVOCATION_PUSH" in os.environ:  # unset: on in cache mode on Redis (the default)
        DUALAUTH_REVOCATION_PUSH = os.environ["DUALAUTH_REVOCATION_PUSH"] == "1"
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
AUTHENTICATION_BACKENDS = [
    "django_dualauth.backends.EmailBackend",
    "django.contrib.auth.backends.ModelBackend",
]

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["django_dualauth.authentication.DualAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
}

# node-auth's browser client reads the `csrf-token` cookie and sends `X-CSRF-Token`.
CSRF_COOKIE_NAME = "csrf-token"
CSRF_HEADER_NAME = "HTTP_X_CSRF_TOKEN"

DUALAUTH_REGISTRATION_ENABLED = True

# Passwordless, for trying it out: mails and texts are printed on the console.
_MAIL_BACKEND = os.environ.get("DJANGO_EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
if django.VERSION >= (6, 1):
    MAILERS = {"default": {"BACKEND": _MAIL_BACKEND}}  # EMAIL_BACKEND is deprecated in 6.1
else:
    EMAIL_BACKEND = _MAIL_BACKEND
DUALAUTH_MAGIC_LINK_ENABLED = True
DUALAUTH_MAGIC_LINK_URL = os.environ.get("DUALAUTH_MAGIC_LINK_URL", f"{DEMO_ORIGIN}/magic-link?token={{token}}")
DUALAUTH_SMS_ENABLED = True
# Account mails link to the demo's pages, which POST the token back.
DUALAUTH_VERIFY_EMAIL_URL = f"{DEMO_ORIGIN}/verify-email?token={{token}}"
DUALAUTH_PASSWORD_RESET_URL = f"{DEMO_ORIGIN}/reset-password?token={{token}}"
DUALAUTH_EMAIL_CHANGE_URL = f"{DEMO_ORIGIN}/confirm-email?token={{token}}"
DUALAUTH_LINK_VERIFY_URL = f"{DEMO_ORIGIN}/link-verify?token={{token}}"
DUALAUTH_EMAIL_VERIFICATION = os.environ.get("DUALAUTH_EMAIL_VERIFICATION", "none")
DUALAUTH_SMS_GATEWAY = os.environ.get("DUALAUTH_SMS_GATEWAY", "django_dualauth.gateways.ConsoleGateway")
DUALAUTH_JWT_ISSUER = "https://example-project.local"
DUALAUTH_JWT_AUDIENCE = "example-project-api"
# Access-token keys as a JSON list of DUALAUTH_JWT_KEYS entries (docs/jwks.md), e.g. an RS256
# "private_key" PEM: its public half is then published at /auth/.well-known/jwks.json. Unset:
# HS256 derived from SECRET_KEY, and no JWK set.
if os.environ.get("DUALAUTH_JWT_KEYS"):
    DUALAUTH_JWT_KEYS = json.loads(os.environ["DUALAUTH_JWT_KEYS"])

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
STATIC_URL = "static/"
WHITENOISE_USE_FINDERS = True  # serve from the apps' folders: no collectstatic step for the demo
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Keep Django's own loggers (disable_existing_loggers: False), or server errors leave no trace.
# django.request logs every 5xx answer, with the traceback of an unhandled exception;
# django_dualauth.audit (under django_dualauth) the security events and database outages
# (auth.database.unavailable); django_dualauth operational warnings (Redis down, failed mails).
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "{asctime} {levelname} {name} {message}", "style": "{"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "loggers": {
        "django.request": {"handlers": ["console"], "level": "ERROR", "propagate": False},
        "django.security": {"handlers": ["console"], "level": "WARNING", "propagate": False},
        "django_dualauth": {"handlers": ["console"], "level": "INFO", "propagate": False},
    },
}
