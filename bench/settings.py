"""One settings module serving every contender, each under its own URL prefix (bench/urls.py).

``BENCH_DB=sqlite`` (default; a file in the temp directory, locmem cache) or ``BENCH_DB=postgres``
(database ``dualauth_bench`` on 127.0.0.1:5432, Redis db 5 on 127.0.0.1:6379 as the shared cache).
"""

import os
import tempfile
from datetime import timedelta

BENCH_DB = os.environ.get("BENCH_DB", "sqlite")

SECRET_KEY = "bench-" + "s" * 60
DEBUG = False
ALLOWED_HOSTS = ["testserver", "127.0.0.1", "localhost"]
USE_TZ = True
TIME_ZONE = "UTC"
USE_I18N = False
ROOT_URLCONF = "bench.urls"
WSGI_APPLICATION = "bench.wsgi.application"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "rest_framework",
    "rest_framework_simplejwt.token_blacklist",
    "knox",
    "dj_rest_auth",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_dualauth",
    "bench.apps.BenchConfig",
]

# The usual API stack. BenchRevocationModeMiddleware runs for every contender (same cost for all);
# it only selects the dualauth revocation mode for the /dualauth-cache/ prefix.
MIDDLEWARE = [
    "bench.middleware.BenchRevocationModeMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
]
TEMPLATES = []

if BENCH_DB == "postgres":
    # Production settings any Django deployment may use, the same for every contender (see
    # docs/deployment.md, "PostgreSQL settings"): persistent connections, and psycopg 3 server-side
    # binding with its automatic prepared statements (a statement run prepare_threshold times on a
    # connection is prepared, so PostgreSQL stops planning it). Django disables prepared statements
    # unless prepare_threshold is given; neither works behind a transaction-pooling PgBouncer
    # older than 1.21. BENCH_PG_PLAIN=1 measures Django's defaults instead (client-side binding,
    # no prepared statements); BENCH_PG_HEALTH_CHECKS=1 adds CONN_HEALTH_CHECKS (one SELECT 1 per
    # request that uses the database).
    _PG_PLAIN = os.environ.get("BENCH_PG_PLAIN") == "1"
    DATABASES = {"default": {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": os.environ.get("BENCH_PG_NAME", "dualauth_bench"),
        "USER": "postgres",
        "HOST": "127.0.0.1",
        "PORT": "5432",
        "CONN_MAX_AGE": None,
        "CONN_HEALTH_CHECKS": os.environ.get("BENCH_PG_HEALTH_CHECKS") == "1",
        "OPTIONS": {} if _PG_PLAIN else {"server_side_binding": True, "prepare_threshold": 5},
    }}
    CACHES = {"default": {
        "BACKEND": "django_redis.cache.RedisCache",
        "LOCATION": os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/5"),  # flushed
    }}
else:
    # On tmpfs when there is one, in WAL mode: part 1 measures CPU cost, not this disk's fsync.
    _dir = "/dev/shm" if os.path.isdir("/dev/shm") else tempfile.gettempdir()  # noqa: S108
    DATABASES = {"default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ.get("BENCH_SQLITE_PATH", os.path.join(_dir, "dualauth_bench.sqlite3")),
        "CONN_MAX_AGE": None,
        "OPTIONS": {"init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"},
    }}
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# The real Argon2 hasher for every contender (login is reported as overhead above one verify).
PASSWORD_HASHERS = ["django.contrib.auth.hashers.Argon2PasswordHasher"]
AUTHENTICATION_BACKENDS = [
    "django_dualauth.backends.EmailBackend",
    "django.contrib.auth.backends.ModelBackend",
]

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.AllowAny"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "UNAUTHENTICATED_USER": None,
}

# djangorestframework-simplejwt: rotation with blacklisting (the safe configuration).
SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": timedelta(hours=1),
    "REFRESH_TOKEN_LIFETIME": timedelta(days=7),
    "ROTATE_REFRESH_TOKENS": True,
    "BLACKLIST_AFTER_ROTATION": True,
    "UPDATE_LAST_LOGIN": False,
    "SIGNING_KEY": SECRET_KEY,
}

# dj-rest-auth in JWT cookie mode (on top of simplejwt's settings above).
REST_AUTH = {
    "USE_JWT": True,
    "SESSION_LOGIN": False,
    "TOKEN_MODEL": None,
    "JWT_AUTH_COOKIE": "jwt-auth",
    "JWT_AUTH_REFRESH_COOKIE": "jwt-refresh",
    "JWT_AUTH_HTTPONLY": True,
    "JWT_AUTH_COOKIE_USE_CSRF": True,
}

REST_KNOX = {"TOKEN_TTL": timedelta(hours=10), "AUTO_REFRESH": False}

# node-auth's browser client names (as in the test settings).
CSRF_COOKIE_NAME = "csrf-token"
CSRF_HEADER_NAME = "HTTP_X_CSRF_TOKEN"

# django-dualauth. Plain http on 127.0.0.1, so cookies are not Secure (and have no __Host- prefix).
DUALAUTH_COOKIE_SECURE = False
DUALAUTH_ACCESS_TOKEN_LIFETIME = timedelta(hours=1)
DUALAUTH_REVOCATION_CHECK = "database"
# The limits stay on (their cache work is part of the cost) but high enough never to trigger.
DUALAUTH_RATE_LIMITS = {"login_ip": "1000000/m", "login_email": "1000000/m",
                        "refresh_ip": "1000000/m", "register_ip": "1000000/m"}
RATELIMIT_USE_CACHE = "default"

SILENCED_SYSTEM_CHECKS = ["dualauth.E005", "dualauth.E007", "dualauth.W001", "dualauth.W002",
                          "dualauth.W004", "django_ratelimit.E003", "django_ratelimit.W001"]

LOGGING = {"version": 1, "disable_existing_loggers": False,
           "loggers": {"django": {"level": "ERROR"}, "django_dualauth": {"level": "ERROR"}}}
