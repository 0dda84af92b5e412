"""Minimal, explicit test settings (not the example project's)."""

import os

import django

SECRET_KEY = "tests-" + "k" * 60
DEBUG = False
ALLOWED_HOSTS = ["testserver", "localhost", "127.0.0.1"]
USE_TZ = True
TIME_ZONE = "UTC"
ROOT_URLCONF = "tests.urls"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
STATIC_URL = "static/"

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "rest_framework",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_dualauth",
    "drf_spectacular",  # tests/test_openapi.py: the schema and its viewer
    "drf_spectacular_sidecar",
    "tests",
]
MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]
TEMPLATES = [{
    "BACKEND": "django.template.backends.django.DjangoTemplates",
    "APP_DIRS": True,
    "OPTIONS": {"context_processors": [
        "django.template.context_processors.request",
        "django.contrib.auth.context_processors.auth",
        "django.contrib.messages.context_processors.messages",
    ]},
}]

DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}}
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# Fast hashing for the suite. The tests of stored hashes put Argon2 first themselves
# (tests/test_login_security.py: test_registered_password_is_stored_as_argon2id and
# test_outdated_hash_is_upgraded_on_successful_login_only); test_checks.py covers the warning
# for this list, dualauth.W001, silenced below.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
AUTHENTICATION_BACKENDS = [
    "django_dualauth.backends.EmailBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]

# node-auth's browser client names.
CSRF_COOKIE_NAME = "csrf-token"
CSRF_HEADER_NAME = "HTTP_X_CSRF_TOKEN"
CSRF_TRUSTED_ORIGINS = ["https://app.example.com"]

DUALAUTH_REGISTRATION_ENABLED = True
DUALAUTH_COOKIE_SECURE = True
# `make test` runs the suite twice: through the private seam (the default) and, with
# DUALAUTH_TEST_REFERENCE_PATH=1, through the plain reference path of services/.
DUALAUTH_PRIVATE_SPEEDUPS = os.environ.get("DUALAUTH_TEST_REFERENCE_PATH") != "1"

SILENCED_SYSTEM_CHECKS = ["dualauth.W001", "dualauth.W004"]

TEST_RUNNER_DB = os.environ.get("DUALAUTH_TEST_DB", "sqlite")

# Mails and SMS are sent synchronously in tests (the default is a thread pool).
DUALAUTH_MESSAGE_DISPATCHER = "django_dualauth.messaging.dispatch_now"
DUALAUTH_MAGIC_LINK_URL = "https://app.example.com/auth/magic-link?token={token}"
DUALAUTH_SMS_GATEWAY = "django_dualauth.gateways.OutboxGateway"
DUALAUTH_VERIFY_EMAIL_URL = "https://app.example.com/verify-email?token={token}"
DUALAUTH_PASSWORD_RESET_URL = "https://app.example.com/reset-password?token={token}"
DUALAUTH_EMAIL_CHANGE_URL = "https://app.example.com/confirm-email?token={token}"
DUALAUTH_LINK_VERIFY_URL = "https://app.example.com/link-verify?token={token}"

# Django 6.1 configures mail with MAILERS (EMAIL_BACKEND is deprecated); the test runner
# swaps every mailer for the in-memory one either way.
if django.VERSION >= (6, 1):
    MAILERS = {"default": {"BACKEND": "django.core.mail.backends.locmem.EmailBackend"}}
