"""The suite's settings on the real servers: PostgreSQL for the database, Redis for the cache.

Override the addresses with DUALAUTH_TEST_DATABASE_URL / DUALAUTH_TEST_REDIS_URL.
"""

import os

import dj_database_url

from tests.settings import *  # noqa: F403

DATABASES = {"default": dj_database_url.parse(os.environ.get(
    "DUALAUTH_TEST_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/dualauth"))}
REDIS_URL = os.environ.get("DUALAUTH_TEST_REDIS_URL", "redis://127.0.0.1:6379/3")
CACHES = {"default": {
    "BACKEND": "django_redis.cache.RedisCache",
    "LOCATION": REDIS_URL,
    "KEY_PREFIX": os.environ.get("DUALAUTH_TEST_CACHE_PREFIX", "dualauth-tests"),
}}
