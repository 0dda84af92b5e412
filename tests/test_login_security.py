"""Login enumeration, password storage, brute force and registration (ENUM-01, PWD-01, BF-01, BF-02,
BF-03, BF-04).

Every endpoint test runs under both deliveries (``auth_client``).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any, ClassVar

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import MD5PasswordHasher
from django.db import connection
from django.test.utils import CaptureQueriesContext
from freezegun import freeze_time

from django_dualauth.api.ratelimits import normalize_identifier
from django_dualauth.conf import DEFAULT_RATE_LIMITS
from django_dualauth.delivery import access_cookie_name, refresh_cookie_name
from django_dualauth.models import AccountState, AuthSession
from tests.conftest import EMAIL, PASSWORD

pytestmark = [pytest.mark.django_db, pytest.mark.both_backends]

WRONG = "not the right password"
FULLWIDTH_DOMAIN = "alice@\uff45\uff58\uff41\uff4d\uff50\uff4c\uff45.com"  # NFKC -> alice@example.com
ARGON2 = "django.contrib.auth.hashers.Argon2PasswordHasher"
MD5 = "django.contrib.auth.hashers.MD5PasswordHasher"


class CountingHasher(MD5PasswordHasher):
    """MD5 that counts how often a password is actually hashed (``verify`` hashes via ``encode``)."""

    algorithm = "counting"
    runs: ClassVar[int] = 0

    def encode(self, password: str, salt: str) -> str:
        CountingHasher.runs += 1
        return super().encode(password, salt)


@pytest.fixture
def counting_hasher(settings: Any) -> type[CountingHasher]:
    settings.PASSWORD_HASHERS = [f"{__name__}.CountingHasher"]
    CountingHasher.runs = 0
    return CountingHasher


@pytest.fixture
def frozen() -> Any:
    with freeze_time("2030-01-01 12:00:00") as frozen_time:
        yield frozen_time


def login_from(client: Any, ip: str, email: str = EMAIL, password: str = PASSWORD, **extra: Any) -> Any:
    return client.login(email=email, password=password, REMOTE_ADDR=ip, **extra)


def assert_rate_limited(response: Any, period: int) -> None:
    assert response.status_code == 429, response.content
    assert response.json() == {"error": "Too many requests, try again later", "code": "RATE_LIMITED"}
    assert 1 <= int(response["Retry-After"]) <= period
    assert access_cookie_name() not in response.cookies
    assert refresh_cookie_name() not in response.cookies


# --- ENUM-01 ------------------------------------------------------------------------------

def _failure_paths(user_factory: Any) -> dict[str, tuple[str, str]]:
    user_factory()
    user_factory(email="inactive@example.com", is_active=False)
    unusable = user_factory(email="unusable@example.com")
    unusable.set_unusable_password()
    unusable.save()
    totp = user_factory(email="totp@example.com")
    AccountState.objects.create(user=totp, two_factor_enabled=True)
    user_factory(email="Twin@example.com")
    get_user_model().objects.create_user(username="twin-2", email="twin@example.com", password=PASSWORD)
    return {
        "unknown email": ("nobody@example.com", PASSWORD),
        "wrong password": (EMAIL, WRONG),
        "inactive user, right password": ("inactive@example.com", PASSWORD),
        "unusable password": ("unusable@example.com", PASSWORD),
        "2fa user, wrong password": ("totp@example.com", WRONG),
        "ambiguous address": ("TWIN@example.com", PASSWORD),
    }


def test_every_login_failure_looks_the_same(auth_client, user_factory):
    answers = {}
    for path, (email, password) in _failure_paths(user_factory).items():
        response = auth_client.login(email=email, password=password)
        headers = {k: v for k, v in response.headers.items()}
        answers[path] = (response.status_code, response.content, headers, sorted(response.cookies))
    first = next(iter(answers.values()))
    assert first[0] == 401
    assert first[1] == b'{"error":"Invalid credentials","code":"INVALID_CREDENTIALS"}'
    assert first[2]["WWW-Authenticate"] == 'Bearer realm="api"'
    for path, answer in answers.items():
        assert answer == first, path
    assert AuthSession.objects.count() == 0


def test_the_hasher_runs_exactly_once_on_every_path(auth_client, counting_hasher, user_factory):
    paths = _failure_paths(user_factory)
    paths["success"] = (EMAIL, PASSWORD)
    for path, (email, password) in paths.items():
        counting_hasher.runs = 0
        response = auth_client.login(email=email, password=password)
        assert response.status_code == (200 if path == "success" else 401), (path, response.content)
        assert counting_hasher.runs == 1, path


def test_no_hashing_when_the_input_is_refused(auth_client, counting_hasher, user_factory, settings):
    user_factory()
    settings.DUALAUTH_PASSWORD_MAX_LENGTH = 64
    counting_hasher.runs = 0
    response = auth_client.login(password="x" * 65)
    assert response.status_code == 400, response.content
    assert response.json()["code"] == "VALIDATION_ERROR"
    assert counting_hasher.runs == 0


def test_password_is_not_trimmed(auth_client, user_factory):
    user_factory(password=PASSWORD)
    assert auth_client.login(password=f" {PASSWORD} ").status_code == 401
    assert auth_client.login(email=f"  {EMAIL.upper()} ").status_code == 200


# --- PWD-01 -------------------------------------------------------------------------------

def _argon2_params(encoded: str) -> dict[str, int]:
    algorithm, variety, version, params, _salt, _hash = encoded.split("$")
    assert (algorithm, variety) == ("argon2", "argon2id"), encoded
    return {k: int(v) for k, v in (p.split("=") for p in params.split(","))}


def test_registered_password_is_stored_as_argon2id(auth_client, settings):
    settings.PASSWORD_HASHERS = [ARGON2, MD5]
    response = auth_client.post("/auth/register", {"email": "new@example.com", "password": PASSWORD})
    assert response.status_code == 201, response.content
    stored = get_user_model().objects.get(email="new@example.com").password
    params = _argon2_params(stored)
    assert params["m"] >= 19 * 1024 and params["t"] >= 2 and params["p"] >= 1
    assert PASSWORD not in stored


def test_outdated_hash_is_upgraded_on_successful_login_only(auth_client, user_factory, settings):
    user = user_factory()  # MD5, the suite's hasher
    assert user.password.startswith("md5$")
    settings.PASSWORD_HASHERS = [ARGON2, MD5]
    assert auth_client.login(password=WRONG).status_code == 401
    user.refresh_from_db()
    assert user.password.startswith("md5$")
    assert auth_client.login().status_code == 200
    user.refresh_from_db()
    _argon2_params(user.password)
    assert auth_client.login().status_code == 200


@pytest.mark.parametrize("weak", ["password", "short", "12345678", "newcomer@example.com"])
def test_registration_runs_the_password_validators(auth_client, settings, weak):
    settings.AUTH_PASSWORD_VALIDATORS = [
        *settings.AUTH_PASSWORD_VALIDATORS,
        {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
        {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
    ]
    response = auth_client.post("/auth/register", {"email": "newcomer@example.com", "password": weak})
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["code"] == "VALIDATION_ERROR"
    assert body["fields"]["password"]
    assert not get_user_model().objects.filter(email="newcomer@example.com").exists()


# --- registration -------------------------------------------------------------------------

def test_registration_disabled_is_404(auth_client, settings):
    settings.DUALAUTH_REGISTRATION_ENABLED = False
    response = auth_client.post("/auth/register", {"email": "new@example.com", "password": PASSWORD})
    assert response.status_code == 404, response.content
    assert response.json()["code"] == "NOT_FOUND"
    assert not get_user_model().objects.exists()


def test_registration_creates_an_account_without_logging_in(auth_client):
    response = auth_client.post("/auth/register", {"email": "New.User@EXAMPLE.com", "password": PASSWORD})
    assert response.status_code == 201, response.content
    created = get_user_model().objects.get()
    assert response.json() == {"success": True, "userId": str(created.pk)}
    assert created.email == "New.User@example.com"
    assert created.check_password(PASSWORD)
    assert access_cookie_name() not in response.cookies and refresh_cookie_name() not in response.cookies
    assert AuthSession.objects.count() == 0
    assert auth_client.login(email="new.user@example.com").status_code == 200


@pytest.mark.parametrize("email", [EMAIL, EMAIL.upper(), "Alice@Example.com"])
def test_registration_refuses_a_taken_address(auth_client, user, email):
    response = auth_client.post("/auth/register", {"email": email, "password": PASSWORD})
    assert response.status_code == 409, response.content
    assert response.json() == {"error": "An account with this e-mail already exists", "code": "EMAIL_TAKEN"}
    assert get_user_model().objects.count() == 1


@pytest.mark.parametrize("body", [{}, {"email": "not-an-address", "password": PASSWORD},
                                  {"email": "new@example.com"}, {"email": "new@example.com", "password": 12345678}])
def test_registration_input_errors(auth_client, body):
    response = auth_client.post("/auth/register", body)
    assert response.status_code == 400, response.content
    assert response.json()["code"] == "VALIDATION_ERROR"
    assert not get_user_model().objects.exists()


# --- BF-01: per account -------------------------------------------------------------------

def test_default_per_email_limit_from_rotating_ips(frozen, auth_client, user_factory):
    user_factory()
    user_factory(email="bob@example.com")
    count, _ = DEFAULT_RATE_LIMITS["login_email"].split("/")
    assert int(count) <= 100
    for i in range(int(count)):
        assert login_from(auth_client, f"198.51.100.{i + 1}", password=WRONG).status_code == 401
    # Even the right password is refused while the account is locked.
    response = login_from(auth_client, "198.51.100.200")
    assert_rate_limited(response, 300)
    assert AuthSession.objects.count() == 0
    # Only this account is locked.
    assert login_from(auth_client, "198.51.100.200", email="bob@example.com").status_code == 200
    # The lock is temporary.
    frozen.tick(timedelta(seconds=301))
    assert login_from(auth_client, "198.51.100.200").status_code == 200


def test_unknown_addresses_are_limited_too(frozen, auth_client, settings):
    settings.DUALAUTH_RATE_LIMITS = {"login_email": "3/h", "login_ip": None}
    for _ in range(3):
        assert auth_client.login(email="ghost@example.com").status_code == 401
    assert_rate_limited(auth_client.login(email="ghost@example.com"), 3600)


def test_rate_limited_attempts_do_not_hash(frozen, auth_client, counting_hasher, user_factory, settings):
    settings.DUALAUTH_RATE_LIMITS = {"login_email": "2/h", "login_ip": None}
    user_factory()
    for _ in range(2):
        auth_client.login(password=WRONG)
    counting_hasher.runs = 0
    assert auth_client.login().status_code == 429
    assert counting_hasher.runs == 0


# --- BF-02: per IP, and success does not reset --------------------------------------------

def test_per_ip_limit_is_not_reset_by_a_success(frozen, auth_client, user, settings):
    settings.DUALAUTH_RATE_LIMITS = {"login_ip": "3/h", "login_email": None}
    ip = "203.0.113.9"
    assert login_from(auth_client, ip, email="a@example.com").status_code == 401
    assert login_from(auth_client, ip, email="b@example.com").status_code == 401
    assert login_from(auth_client, ip).status_code == 200  # the sprayer's own account
    assert login_from(auth_client, ip, email="c@example.com").status_code == 401
    assert_rate_limited(login_from(auth_client, ip), 3600)
    assert login_from(auth_client, "203.0.113.10").status_code == 200  # another client is unaffected


def test_successful_logins_do_not_count(frozen, auth_client, user, settings):
    settings.DUALAUTH_RATE_LIMITS = {"login_ip": "2/h", "login_email": "2/h"}
    for _ in range(4):
        assert login_from(auth_client, "203.0.113.9").status_code == 200


def test_default_per_ip_limit(frozen, auth_client, user):
    count = int(DEFAULT_RATE_LIMITS["login_ip"].split("/")[0])
    for i in range(count):
        assert login_from(auth_client, "203.0.113.9", email=f"u{i}@example.com").status_code == 401
    assert_rate_limited(login_from(auth_client, "203.0.113.9"), 600)


# --- BF-03: bypass vectors ----------------------------------------------------------------

def test_spoofed_forwarding_headers_are_ignored_without_trusted_proxy(frozen, auth_client, user, settings):
    settings.DUALAUTH_RATE_LIMITS = {"login_ip": "3/h", "login_email": None}
    for i in range(3):
        spoof = {"HTTP_X_FORWARDED_FOR": f"192.0.2.{i}", "HTTP_X_REAL_IP": f"192.0.2.{i}"}
        assert login_from(auth_client, "203.0.113.9", email=f"u{i}@example.com", **spoof).status_code == 401
    response = login_from(auth_client, "203.0.113.9", HTTP_X_FORWARDED_FOR="192.0.2.99")
    assert_rate_limited(response, 3600)


def test_trusted_proxy_depth_uses_the_hop_the_proxy_saw(frozen, auth_client, user, settings):
    settings.DUALAUTH_RATE_LIMITS = {"login_ip": "3/h", "login_email": None}
    settings.DUALAUTH_TRUSTED_PROXY_DEPTH = 1
    proxy = "10.0.0.1"
    for i in range(3):
        xff = f"192.0.2.{i}, 198.51.100.7"  # the left entry is the client's own (spoofable) claim
        assert login_from(auth_client, proxy, email=f"u{i}@example.com", HTTP_X_FORWARDED_FOR=xff).status_code == 401
    assert_rate_limited(login_from(auth_client, proxy, HTTP_X_FORWARDED_FOR="192.0.2.50, 198.51.100.7"), 3600)
    # Another real client behind the same proxy has its own counter.
    assert login_from(auth_client, proxy, HTTP_X_FORWARDED_FOR="198.51.100.8").status_code == 200


def test_email_variants_share_one_counter(frozen, auth_client, user, settings):
    settings.DUALAUTH_RATE_LIMITS = {"login_email": "3/h", "login_ip": None}
    for variant in ("ALICE@EXAMPLE.COM", "  Alice@Example.com ", FULLWIDTH_DOMAIN):
        assert auth_client.login(email=variant, password=WRONG).status_code == 401, variant
    assert_rate_limited(auth_client.login(), 3600)
    assert_rate_limited(auth_client.login(email="alice@example.\uff43\uff4f\uff4d"), 3600)


@pytest.mark.parametrize("variant", ["alice@example.com", "ALICE@example.com", " Alice@Example.COM\t",
                                     FULLWIDTH_DOMAIN,
                                     "\uff41lice@example.com"])
def test_normalize_identifier(variant):
    assert normalize_identifier(variant) == "alice@example.com"


# --- BF-04: the limiter's answer, refresh and register ------------------------------------

def _refresh_with(auth_client: Any, body: dict[str, str], **extra: Any) -> Any:
    """A refresh that presents only ``body`` (no cookies), whatever the client's delivery."""
    return auth_client.client.post("/auth/refresh", body, format="json", HTTP_COOKIE="", **extra)


def _spend_refresh_budget(auth_client: Any) -> None:
    assert _refresh_with(auth_client, {"refreshToken": "x" * 43}).status_code == 401  # malformed
    assert _refresh_with(auth_client, {"refreshToken": "A" * 43}).status_code == 401  # unknown
    assert _refresh_with(auth_client, {}).status_code in (400, 401)  # missing


@pytest.fixture
def cache_calls(monkeypatch: Any) -> list[str]:
    """The names of the rate-limit cache's methods called, in order."""
    from django.core.cache import caches
    cache = caches["default"]
    calls: list[str] = []
    for name in ("get", "get_many", "add", "incr", "set"):
        original = getattr(cache, name)
        monkeypatch.setattr(cache, name, lambda *a, _o=original, _n=name, **k: (calls.append(_n), _o(*a, **k))[1])
    return calls


def test_refresh_limit_counts_refused_attempts_per_ip_not_rotations(frozen, auth_client, user, settings):
    settings.DUALAUTH_RATE_LIMITS = {"refresh_ip": "3/h"}
    auth_client.login()
    for _ in range(6):  # rotations that succeed cost no budget (many users behind one NAT address)
        assert auth_client.refresh().status_code == 200
    _spend_refresh_budget(auth_client)
    # The budget of refused attempts is spent: every attempt that does not rotate is refused,
    # whether it fails before the database (malformed, missing) or after the look-up (unknown).
    for body in ({"refreshToken": "x" * 43}, {"refreshToken": "B" * 43}, {}):
        assert_rate_limited(_refresh_with(auth_client, body), 3600)
    # A live token still rotates: one client guessing behind a shared address does not log
    # out everybody else behind it.
    generation = AuthSession.objects.get().generation
    assert auth_client.refresh().status_code == 200
    assert AuthSession.objects.get().generation == generation + 1
    other = _refresh_with(auth_client, {"refreshToken": "C" * 43}, REMOTE_ADDR="198.51.100.1")
    assert other.status_code == 401  # another address has its own budget


def test_refresh_over_budget_replay_is_refused_before_it_is_examined(frozen, auth_client, user, settings):
    """Over budget, a spent token is refused (429) before the spent-token look-up: the family is
    neither examined nor revoked from an address that has used up its refusals."""
    settings.DUALAUTH_RATE_LIMITS = {"refresh_ip": "3/h"}
    auth_client.login()
    spent = auth_client.refresh_token
    assert auth_client.refresh().status_code == 200
    _spend_refresh_budget(auth_client)
    data = {} if auth_client.is_cookie else {"refreshToken": spent}
    extra = {"HTTP_COOKIE": f"{refresh_cookie_name()}={spent}"} if auth_client.is_cookie else {}
    assert_rate_limited(auth_client.post("/auth/refresh", data, **extra), 3600)
    assert AuthSession.objects.get().revoked_at is None


def test_refresh_over_budget_costs_one_lookup(frozen, auth_client, user, settings):
    """An address over its budget presenting an unknown token costs the one look-up that found no
    rotation (on PostgreSQL the one-statement rotation, elsewhere the locked SELECT), then 429:
    the spent-token look-up and any write are skipped."""
    settings.DUALAUTH_RATE_LIMITS = {"refresh_ip": "3/h"}
    _spend_refresh_budget(auth_client)
    with CaptureQueriesContext(connection) as ctx:
        response = _refresh_with(auth_client, {"refreshToken": "D" * 43})
    assert_rate_limited(response, 3600)
    data = [q["sql"] for q in ctx.captured_queries
            if not q["sql"].upper().startswith(("BEGIN", "SAVEPOINT", "RELEASE", "ROLLBACK", "COMMIT"))]
    assert len(data) == 1 and "dualauth_authsession" in data[0], data


def test_a_refresh_that_rotates_makes_no_cache_call(auth_client, user, cache_calls):
    """The refresh budget is read only for attempts that do not rotate: a rotation makes no
    round trip to the rate-limit cache."""
    auth_client.login()
    cache_calls.clear()
    assert auth_client.refresh().status_code == 200
    assert cache_calls == []
    assert _refresh_with(auth_client, {"refreshToken": "E" * 43}).status_code == 401
    assert cache_calls.count("get_many") == 1 and cache_calls.count("incr") + cache_calls.count("add") >= 1, cache_calls


def test_limit_checks_read_every_counter_with_one_cache_call_and_count_nothing(auth_client, user, cache_calls):
    """Login checks login_ip and login_email together: one get_many (one Redis MGET), no add()
    and no get(): django-ratelimit's check would add() then get() each counter."""
    assert auth_client.login().status_code == 200
    assert cache_calls.count("get_many") == 1 and "add" not in cache_calls and "incr" not in cache_calls, cache_calls
    cache_calls.clear()
    assert auth_client.login(password=WRONG).status_code == 401
    assert cache_calls.count("get_many") == 1 and cache_calls.count("incr") + cache_calls.count("add") >= 2, cache_calls


def test_register_is_limited_per_ip_and_every_attempt_counts(frozen, auth_client, user, settings):
    settings.DUALAUTH_RATE_LIMITS = {"register_ip": "2/h"}
    assert auth_client.post("/auth/register", {"email": "one@example.com", "password": PASSWORD}).status_code == 201
    assert auth_client.post("/auth/register", {"email": EMAIL, "password": PASSWORD}).status_code == 409
    response = auth_client.post("/auth/register", {"email": "two@example.com", "password": PASSWORD})
    assert_rate_limited(response, 3600)
    assert not get_user_model().objects.filter(email="two@example.com").exists()


def test_a_disabled_limit_never_limits(frozen, auth_client, user, settings):
    settings.DUALAUTH_RATE_LIMITS = {"login_email": None, "login_ip": None}
    for _ in range(40):
        assert auth_client.login(password=WRONG).status_code == 401
    assert auth_client.login().status_code == 200
