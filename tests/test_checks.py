"""System checks: every ``dualauth.E00x`` / ``dualauth.W00x`` fires on the bad setting and is
silent on the good one. Covers the configuration side of CK-01/CK-03 (Secure, SameSite=None),
CSRF-01 (CsrfViewMiddleware present), JWT key strength (JWT-xx: weak HMAC secrets), RT-04
(grace window) and BF-01 (shared rate-limit cache) plus SES-04 (cache revocation reaches every
process)."""

from __future__ import annotations

from datetime import timedelta
from unittest import mock

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec as ec_keys
from cryptography.hazmat.primitives.asymmetric import rsa as rsa_keys
from django.conf import settings as django_settings
from django.contrib.auth import get_user_model
from django.core import checks

from django_dualauth.checks import (
    check_backends,
    check_password_hashers,
    check_rate_limit_cache,
    check_settings,
    check_sqlite_transaction_mode,
)
from django_dualauth.conf import dualauth_settings, snapshot

LOCMEM = "django.core.cache.backends.locmem.LocMemCache"
REDIS = "django_redis.cache.RedisCache"
CSRF_MW = "django.middleware.csrf.CsrfViewMiddleware"
ARGON2 = "django.contrib.auth.hashers.Argon2PasswordHasher"
STRONG_HMAC = "s" * 16 + "0123456789abcdefghijklmnopqrstuvwxyz"  # 52 bytes, varied
RANDOM_64 = "Vq3J8xZr1LmN0pT6yWc9bKd2HfG5sA7uEoRiXe4QnBtYjUhMkPlDgSwCvFzIaO-_"


def ids(messages: list[checks.CheckMessage]) -> list[str]:
    return [m.id for m in messages]


def test_test_settings_are_clean():
    """The baseline every "silent" case below starts from."""
    assert check_settings() == []
    assert check_backends() == []


@pytest.mark.parametrize("value", ["per-request", "cookie", "bearer"])
def test_e001_silent_on_valid_delivery_policy(settings, value):
    settings.DUALAUTH_DELIVERY_POLICY = value
    assert "dualauth.E001" not in ids(check_settings())


@pytest.mark.parametrize("value", ["both", "Bearer", ""])
def test_e001_unknown_delivery_policy(settings, value):
    settings.DUALAUTH_DELIVERY_POLICY = value
    assert "dualauth.E001" in ids(check_settings())


@pytest.mark.parametrize("value", ["database", "cache"])
def test_e002_silent_on_valid_revocation_check(settings, value):
    settings.DUALAUTH_REVOCATION_CHECK = value
    settings.DEBUG = True  # keeps E007 (locmem) out of the picture
    assert ids(check_settings()) == []


def test_e002_unknown_revocation_check(settings):
    settings.DUALAUTH_REVOCATION_CHECK = "redis"
    assert "dualauth.E002" in ids(check_settings())


@pytest.mark.parametrize("value", ["lax", "strict", "none", "Off"])
def test_e003_unknown_samesite(settings, value):
    settings.DUALAUTH_COOKIE_SAMESITE = value
    assert "dualauth.E003" in ids(check_settings())


def test_e003_samesite_none_must_be_secure(settings):
    settings.DUALAUTH_COOKIE_SAMESITE = "None"
    settings.DUALAUTH_COOKIE_SECURE = False
    assert "dualauth.E003" in ids(check_settings())


@pytest.mark.parametrize("value", ["Lax", "Strict", "None"])
def test_e003_silent_on_valid_secure_samesite(settings, value):
    settings.DUALAUTH_COOKIE_SAMESITE = value
    settings.DUALAUTH_COOKIE_SECURE = True
    assert ids(check_settings()) == []


@pytest.mark.parametrize("secret", [
    "short-but-random-9f8e7d",
    "django-insecure-" + "x1y2z3w4v5u6t7s8r9q0p1o2n3m4l5k6j7i8h9g0f1e2d3c4",
    "ab" * 40,  # long but only two distinct characters
])
def test_e004_weak_secret_key_without_jwt_keys(settings, secret):
    settings.SECRET_KEY = secret
    assert "dualauth.E004" in ids(check_settings())


def test_e004_weak_secret_key_tolerated_in_debug(settings):
    settings.SECRET_KEY = "short"
    settings.DEBUG = True
    assert "dualauth.E004" not in ids(check_settings())


@pytest.mark.parametrize("keys", [
    [{"kid": "pub", "algorithm": "RS256", "public_key": "-----BEGIN PUBLIC KEY-----"}],  # nothing signs
    [{"algorithm": "HS256", "secret": STRONG_HMAC}],  # no kid
    [{"kid": "", "algorithm": "HS256", "secret": STRONG_HMAC}],  # empty kid
    [{"kid": 1, "algorithm": "HS256", "secret": STRONG_HMAC}],  # kid not a string
    [{"kid": "k1", "algorithm": "HS256", "secret": "x" * 31}],  # HS256 needs 32 bytes
    [{"kid": "k1", "algorithm": "HS384", "secret": "x" * 47}],
    [{"kid": "k1", "algorithm": "HS512", "secret": "x" * 63}],
    [{"kid": "k1", "algorithm": "none", "secret": STRONG_HMAC}],  # unsupported algorithm
    [{"kid": "k1", "algorithm": "HS256", "secret": STRONG_HMAC},
     {"kid": "k2", "algorithm": "HS256", "secret": "short"}],  # any weak verifying key
])
def test_e004_bad_jwt_keys(settings, keys):
    settings.DUALAUTH_JWT_KEYS = keys
    assert "dualauth.E004" in ids(check_settings())


def _pem_keys() -> list[dict[str, str]]:
    ec = ec_keys.generate_private_key(ec_keys.SECP256R1())
    rsa = rsa_keys.generate_private_key(public_exponent=65537, key_size=2048)
    private = ec.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                               serialization.NoEncryption()).decode()
    public = rsa.public_key().public_bytes(serialization.Encoding.PEM,
                                           serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    return [{"kid": "k1", "algorithm": "ES256", "private_key": private},
            {"kid": "k0", "algorithm": "RS256", "public_key": public}]  # an old key, verify only


@pytest.mark.parametrize("keys", [
    [{"kid": "k1", "algorithm": "HS256", "secret": RANDOM_64[:32]}],
    [{"kid": "k1", "algorithm": "HS384", "secret": RANDOM_64[:48]}],
    [{"kid": "k1", "algorithm": "HS512", "secret": RANDOM_64}],
    "pem",
])
def test_e004_silent_on_good_jwt_keys(settings, keys):
    settings.DUALAUTH_JWT_KEYS = _pem_keys() if keys == "pem" else keys
    settings.SECRET_KEY = "short"  # irrelevant once explicit keys are configured
    assert ids(check_settings()) == []


def test_e005_insecure_cookies_in_production(settings):
    settings.DUALAUTH_COOKIE_SECURE = False
    assert "dualauth.E005" in ids(check_settings())


@pytest.mark.parametrize("override", [{"DEBUG": True}, {"DUALAUTH_DELIVERY_POLICY": "bearer"},
                                      {"DUALAUTH_COOKIE_SECURE": True}])
def test_e005_silent(settings, override):
    settings.DUALAUTH_COOKIE_SECURE = False
    for name, value in override.items():
        setattr(settings, name, value)
    assert "dualauth.E005" not in ids(check_settings())


def test_e005_default_secure_follows_debug(settings):
    del settings.DUALAUTH_COOKIE_SECURE  # default: Secure unless DEBUG
    assert "dualauth.E005" not in ids(check_settings())


@pytest.mark.parametrize("policy", ["per-request", "cookie"])
def test_e006_cookie_delivery_without_csrf_middleware(settings, policy):
    settings.DUALAUTH_DELIVERY_POLICY = policy
    settings.MIDDLEWARE = [m for m in settings.MIDDLEWARE if m != CSRF_MW]
    assert "dualauth.E006" in ids(check_settings())


def test_e006_silent_for_bearer_only_or_with_middleware(settings):
    assert "dualauth.E006" not in ids(check_settings())
    settings.MIDDLEWARE = [m for m in settings.MIDDLEWARE if m != CSRF_MW]
    settings.DUALAUTH_DELIVERY_POLICY = "bearer"
    assert "dualauth.E006" not in ids(check_settings())


@pytest.mark.parametrize("backend", [
    LOCMEM,
    "django.core.cache.backends.dummy.DummyCache",
    "django.core.cache.backends.filebased.FileBasedCache",
    "django.core.cache.backends.db.DatabaseCache",
])
def test_e007_cache_revocation_on_non_shared_cache(settings, backend):
    settings.DUALAUTH_REVOCATION_CHECK = "cache"
    settings.DUALAUTH_REVOCATION_CACHE = "revocations"
    settings.CACHES = {"default": {"BACKEND": LOCMEM}, "revocations": {"BACKEND": backend}}
    assert "dualauth.E007" in ids(check_settings())


def test_e007_cache_alias_missing(settings):
    settings.DUALAUTH_REVOCATION_CHECK = "cache"
    settings.DUALAUTH_REVOCATION_CACHE = "nope"
    assert "dualauth.E007" in ids(check_settings())


def test_e007_silent_on_shared_cache_database_mode_or_debug(settings):
    settings.DUALAUTH_REVOCATION_CHECK = "cache"
    settings.DUALAUTH_REVOCATION_CACHE = "revocations"
    settings.CACHES = {"default": {"BACKEND": LOCMEM},
                       "revocations": {"BACKEND": REDIS, "LOCATION": "redis://127.0.0.1:1/0"}}
    assert ids(check_settings()) == []
    settings.DUALAUTH_REVOCATION_CACHE = "default"
    settings.DEBUG = True
    assert "dualauth.E007" not in ids(check_settings())
    settings.DEBUG = False
    settings.DUALAUTH_REVOCATION_CHECK = "database"
    assert "dualauth.E007" not in ids(check_settings())


@pytest.mark.parametrize("grace", [timedelta(seconds=61), timedelta(minutes=5), 120])
def test_w003_long_reuse_grace(settings, grace):
    settings.DUALAUTH_REFRESH_REUSE_GRACE = grace
    messages = check_settings()
    assert "dualauth.W003" in ids(messages)
    assert all(m.level == checks.WARNING for m in messages if m.id == "dualauth.W003")


@pytest.mark.parametrize("grace", [timedelta(0), timedelta(seconds=5), timedelta(seconds=60), 10])
def test_w003_silent_on_short_grace(settings, grace):
    settings.DUALAUTH_REFRESH_REUSE_GRACE = grace
    assert ids(check_settings()) == []


def test_w001_argon2_not_first(settings):
    assert ids(check_password_hashers()) == ["dualauth.W001"]  # tests use MD5 first
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.PBKDF2PasswordHasher", ARGON2]
    assert ids(check_password_hashers()) == ["dualauth.W001"]


def test_w001_silent_with_argon2_first(settings):
    settings.PASSWORD_HASHERS = [ARGON2, "django.contrib.auth.hashers.PBKDF2PasswordHasher"]
    assert check_password_hashers() == []


def test_w002_no_email_backend(settings):
    settings.AUTHENTICATION_BACKENDS = ["django.contrib.auth.backends.ModelBackend"]
    assert ids(check_backends()) == ["dualauth.W002"]


def test_w002_silent_with_email_backend(settings):
    settings.AUTHENTICATION_BACKENDS = ["django_dualauth.backends.EmailBackend"]
    assert check_backends() == []


def test_w002_silent_when_the_username_is_the_email(settings, monkeypatch):
    settings.AUTHENTICATION_BACKENDS = ["django.contrib.auth.backends.ModelBackend"]
    monkeypatch.setattr(get_user_model(), "USERNAME_FIELD", "email")
    assert check_backends() == []


@pytest.mark.parametrize("backend", [LOCMEM, "django.core.cache.backends.dummy.DummyCache"])
def test_w004_rate_limits_in_non_shared_cache(settings, backend):
    settings.CACHES = {"default": {"BACKEND": backend}}
    assert ids(check_rate_limit_cache()) == ["dualauth.W004"]


def test_w004_follows_ratelimit_use_cache(settings):
    settings.CACHES = {"default": {"BACKEND": REDIS, "LOCATION": "redis://127.0.0.1:1/0"},
                       "local": {"BACKEND": LOCMEM}}
    assert check_rate_limit_cache() == []
    settings.RATELIMIT_USE_CACHE = "local"
    assert ids(check_rate_limit_cache()) == ["dualauth.W004"]


def test_w004_silent_in_debug(settings):
    settings.DEBUG = True
    assert check_rate_limit_cache() == []


@pytest.mark.parametrize(("overrides", "expected"), [
    ({"DUALAUTH_DELIVERY_POLICY": "both"}, "dualauth.E001"),
    ({"DUALAUTH_REVOCATION_CHECK": "redis"}, "dualauth.E002"),
    ({"DUALAUTH_COOKIE_SAMESITE": "lax"}, "dualauth.E003"),
    ({"SECRET_KEY": "django-insecure-short"}, "dualauth.E004"),
    ({"DUALAUTH_COOKIE_SECURE": False}, "dualauth.E005"),
    ({"MIDDLEWARE": []}, "dualauth.E006"),
    ({"DUALAUTH_REVOCATION_CHECK": "cache", "DUALAUTH_REVOCATION_CACHE": "revocations",
      "CACHES": {"default": {"BACKEND": REDIS, "LOCATION": "redis://127.0.0.1:1/0"},
                 "revocations": {"BACKEND": LOCMEM}}}, "dualauth.E007"),
    ({"PASSWORD_HASHERS": ["django.contrib.auth.hashers.MD5PasswordHasher"]}, "dualauth.W001"),
    ({"AUTHENTICATION_BACKENDS": ["django.contrib.auth.backends.ModelBackend"]}, "dualauth.W002"),
    ({"DUALAUTH_REFRESH_REUSE_GRACE": timedelta(minutes=2)}, "dualauth.W003"),
    ({"CACHES": {"default": {"BACKEND": LOCMEM}}}, "dualauth.W004"),
])
def test_checks_are_registered_with_django(settings, overrides, expected):
    """``run_checks`` (what ``manage.py check`` runs) reports each id: they are registered."""
    settings.PASSWORD_HASHERS = [ARGON2]
    settings.CACHES = {"default": {"BACKEND": REDIS, "LOCATION": "redis://127.0.0.1:1/0"}}
    tags = [checks.Tags.security, checks.Tags.caches]  # the tags they are registered under
    baseline = {m.id for m in checks.run_checks(tags=tags) if m.id and m.id.startswith("dualauth.")}
    assert baseline == set()
    for name, value in overrides.items():
        setattr(settings, name, value)
    found = {m.id for m in checks.run_checks(tags=tags) if m.id and m.id.startswith("dualauth.")}
    assert found == {expected}


@pytest.mark.parametrize("backend", [REDIS, "django.core.cache.backends.redis.RedisCache"])
def test_e012_w006_silent_on_push_with_cache_mode_on_redis(settings, backend):
    settings.DUALAUTH_REVOCATION_CHECK = "cache"
    settings.DUALAUTH_REVOCATION_PUSH = True
    settings.CACHES = {"default": {"BACKEND": backend, "LOCATION": "redis://127.0.0.1:1/0"}}
    assert ids(check_settings()) == []


@pytest.mark.parametrize("backend", [LOCMEM, "django.core.cache.backends.memcached.PyMemcacheCache"])
def test_e012_push_needs_redis(settings, backend):
    settings.DUALAUTH_REVOCATION_CHECK = "cache"
    settings.DUALAUTH_REVOCATION_PUSH = True
    settings.DEBUG = True  # E007 (non-shared cache) stays out of the picture
    settings.CACHES = {"default": {"BACKEND": backend}}
    assert ids(check_settings()) == ["dualauth.E012"]


# --- DUALAUTH_REVOCATION_PUSH unset: on exactly where it can work (cache mode on Redis) ---------

@pytest.mark.parametrize(("mode", "backend", "expected"), [
    ("cache", REDIS, True),
    ("cache", "django.core.cache.backends.redis.RedisCache", True),
    ("cache", LOCMEM, False),
    ("cache", "django.core.cache.backends.memcached.PyMemcacheCache", False),
    ("database", REDIS, False),
])
def test_push_defaults_to_on_in_cache_mode_on_redis(settings, mode, backend, expected):
    assert not hasattr(settings, "DUALAUTH_REVOCATION_PUSH")
    settings.DUALAUTH_REVOCATION_CHECK = mode
    settings.CACHES = {"default": {"BACKEND": backend, "LOCATION": "redis://127.0.0.1:1/0"}}
    assert dualauth_settings.REVOCATION_PUSH is expected
    assert snapshot().revocation_push is expected  # the switch the request path reads


def test_push_set_to_false_turns_the_default_off(settings):
    settings.DUALAUTH_REVOCATION_CHECK = "cache"
    settings.DUALAUTH_REVOCATION_PUSH = False
    settings.CACHES = {"default": {"BACKEND": REDIS, "LOCATION": "redis://127.0.0.1:1/0"}}
    assert dualauth_settings.REVOCATION_PUSH is False
    assert not snapshot().revocation_push


@pytest.mark.parametrize(("mode", "backend"), [("cache", REDIS), ("cache", LOCMEM), ("database", REDIS)])
def test_the_default_push_raises_no_check(settings, mode, backend):
    """Neither E012 (push without Redis) nor W006 (push without cache mode) for the default."""
    settings.DUALAUTH_REVOCATION_CHECK = mode
    settings.DEBUG = True  # E007 (a non-shared cache in cache mode) stays out of the picture
    settings.CACHES = {"default": {"BACKEND": backend, "LOCATION": "redis://127.0.0.1:1/0"}}
    assert ids(check_settings()) == []


def test_w006_push_without_cache_mode(settings):
    settings.DUALAUTH_REVOCATION_PUSH = True
    settings.CACHES = {"default": {"BACKEND": REDIS, "LOCATION": "redis://127.0.0.1:1/0"}}
    assert ids(check_settings()) == ["dualauth.W006"]


SQLITE = "django.db.backends.sqlite3"


def with_database(database):
    # In place: overriding DATABASES would rebuild the connections (Django warns against it).
    return mock.patch.dict(django_settings.DATABASES, {"other": database})


@pytest.mark.parametrize("options", [None, {}, {"timeout": 10}, {"transaction_mode": "DEFERRED"},
                                     {"transaction_mode": None}])
def test_w007_file_sqlite_with_deferred_transactions(tmp_path, options):
    database = {"ENGINE": SQLITE, "NAME": str(tmp_path / "db.sqlite3")}
    if options is not None:
        database["OPTIONS"] = options
    with with_database(database):
        assert ids(check_sqlite_transaction_mode()) == ["dualauth.W007"]


@pytest.mark.parametrize("mode", ["IMMEDIATE", "immediate", "EXCLUSIVE"])
def test_w007_silent_when_transactions_take_the_write_lock_at_begin(tmp_path, mode):
    database = {"ENGINE": SQLITE, "NAME": str(tmp_path / "db.sqlite3"), "OPTIONS": {"transaction_mode": mode}}
    with with_database(database):
        assert check_sqlite_transaction_mode() == []


@pytest.mark.parametrize("database", [
    {"ENGINE": SQLITE, "NAME": ":memory:"},  # the test settings: one connection, no contention
    {"ENGINE": SQLITE, "NAME": "file:shared?mode=memory&cache=shared"},
    {"ENGINE": "django.db.backends.postgresql", "NAME": "app"},
])
def test_w007_silent_for_in_memory_sqlite_and_other_databases(database):
    with with_database(database):
        assert check_sqlite_transaction_mode() == []
