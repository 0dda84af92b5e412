"""Schema-driven fuzzing (issue 18): schemathesis generates requests from the package's own OpenAPI
schema and checks every answer against it, under both deliveries.

* Every operation of the schema (every optional feature on), through Django's real WSGI handler
  (middleware, CSRF and all), signed in as a real user by a real login: a browser (the session
  cookies in a cookie jar, the CSRF cookie and header, a trusted ``Origin``) and a native app
  (``X-Auth-Strategy: bearer``, ``Authorization: Bearer``). When a fuzzed call ends the session
  (logout, logout-all, a revocation, a reused refresh token), the next case signs in again.
* Stateful: schemathesis's state machine follows the schema's OpenAPI links (login → me /
  sessions / refresh / logout, refresh → refresh, sessions → sessions/{handle}, and a 2FA login's
  challenge → 2fa/verify → me ...) with the tokens each answer hands over.
* Every check of schemathesis runs (no 5xx; status, content type, headers and body as documented;
  schema-violating input refused), except ``positive_data_acceptance``, replaced by
  :func:`schema_valid_input_passes_its_stated_rules` (docs/openapi.md says why).

Deterministic: a fixed seed (:data:`SEED`), bounded examples, no example database. How to rerun it
and reproduce a finding: docs/testing.md ("Fuzzing the schema"). Catalogue ids: none of its own
(it is a net under every endpoint's own tests).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import hypothesis
import hypothesis.strategies as st
import pytest
import schemathesis
from django.contrib.auth import get_user_model
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from django.test import override_settings
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice
from schemathesis.specs.openapi.checks import positive_data_acceptance
from werkzeug.test import Client

from django_dualauth.conf import DEFAULT_RATE_LIMITS
from django_dualauth.models import AuthSession
from django_dualauth.services.claims import update_account_state
from tests.conftest import EMAIL, ORIGIN, PASSWORD
from tests.test_openapi import ALL_ON, generate

#: The seed of every fuzz run (``schemathesis run --seed 18``; docs/testing.md).
SEED = 18
#: Examples per operation and delivery, and scenarios per state machine: bounded so that the
#: module adds well under three minutes to `make test` (docs/testing.md has the timings).
MAX_EXAMPLES = 25
STATEFUL_EXAMPLES = 15
BASE_URL = "https://localhost"
CSRF_COOKIE = "csrf-token"
TWO_FACTOR_EMAIL = "totp-user@example.com"
#: The staff member of the staff API's fuzzing: a superuser, so that every operation's permission
#: is held and the cases reach the views' own work (their refusals have tests of their own).
STAFF_EMAIL = "staff@example.com"
#: Users the staff cases act on: a fuzzed ``user_id`` is most often a small integer.
STAFF_TARGETS = ("target-1@example.com", "target-2@example.com", "target-3@example.com")

#: Every feature on (every operation in the schema), and no rate limit: with the limits on, all
#: but the first few examples of an operation would answer 429 (documented on every rate-limited
#: operation) and never reach the view. The limits have tests of their own.
FUZZ_SETTINGS: dict[str, Any] = {
    **ALL_ON,
    "DUALAUTH_RATE_LIMITS": dict.fromkeys(DEFAULT_RATE_LIMITS),
    "OTP_TOTP_THROTTLE_FACTOR": 0,
    "DUALAUTH_SMS_THROTTLE_FACTOR": 0,
    "DUALAUTH_SMS_RESEND_COOLDOWN": 0,
}

with override_settings(**FUZZ_SETTINGS):
    RAW_SCHEMA = generate()

# Health checks off: the fixtures are function-scoped on purpose (each operation's test gets a fresh
# database), and a slow or heavily filtered generation is schemathesis's concern, not a finding.
HYPOTHESIS = hypothesis.settings(max_examples=MAX_EXAMPLES, deadline=None, database=None,
                                 suppress_health_check=list(hypothesis.HealthCheck))
#: The staff operations again as a staff member: fewer examples, as each one does more work.
STAFF_HYPOTHESIS = hypothesis.settings(HYPOTHESIS, max_examples=15)
STATEFUL = hypothesis.settings(max_examples=STATEFUL_EXAMPLES, deadline=None, database=None, derandomize=True,
                               stateful_step_count=10, suppress_health_check=list(hypothesis.HealthCheck))


def _load() -> Any:
    schema = schemathesis.openapi.from_dict(RAW_SCHEMA)
    schema.app = WSGIHandler()
    schema.config.seed = SEED
    return schema


bearer_schema = _load()
cookie_schema = _load()


# --- the one check replaced -----------------------------------------------------------------------

#: DRF's messages for what the schema states (type, blank, length, format, choices, null): a
#: schema-valid value refused with one of them means the schema is looser than the serializer.
_STATED_RULES = ("Not a valid string.", "This field may not be blank.", "This field may not be null.",
                 "Ensure this field has no more than", "Ensure this field has at least",
                 "Enter a valid email address.", "is not a valid choice.", "Must be a string.",
                 "Expected a dictionary")


@schemathesis.check
def schema_valid_input_passes_its_stated_rules(ctx: Any, response: Any, case: Any) -> bool | None:
    """What ``positive_data_acceptance`` asks, to the extent a schema can promise it: a request
    generated as schema-valid is never refused as malformed (``BAD_REQUEST``) nor for a rule the
    schema states. Refusals for what no OpenAPI 3.0 schema states (a token that is not live, the
    project's password validators, a phone number libphonenumber rejects, "exactly one of" and
    mode-dependent fields) are answers the operation documents, and the other checks hold them to it."""
    if case.meta is None or not case.meta.generation.mode.is_positive or response.status_code != 400:
        return None
    body = response.json()
    assert body.get("code") != "BAD_REQUEST", f"a schema-valid request was refused as malformed: {body}"
    if body.get("code") == "VALIDATION_ERROR":
        stated = {field: messages for field, messages in body.get("fields", {}).items()
                  if any(rule in message for message in messages for rule in _STATED_RULES)}
        assert not stated, f"a schema-valid request was refused for a rule the schema states: {stated}"
    return True


# --- the signed-in clients ------------------------------------------------------------------------

def _user(email: str = EMAIL, *, staff: bool = False) -> Any:
    users = get_user_model()
    user = users.objects.filter(email=email).first() or users.objects.create_user(email, email, PASSWORD)
    if not (user.is_active and user.check_password(PASSWORD)) or (staff and not user.is_superuser):
        user.is_active = True
        user.is_staff = user.is_superuser = staff
        user.set_password(PASSWORD)
        user.save()
    return user


class Actor:
    """One client of one delivery, kept signed in: it logs in again whenever its session has
    ended. ``client`` is its cookie jar (a browser's; a native app's stays empty)."""

    def __init__(self, delivery: str, email: str = EMAIL) -> None:
        self.delivery = delivery
        self.email = email
        self.client = Client(WSGIHandler())
        self.access: str | None = None
        self.session_id: Any = None

    def _alive(self) -> bool:
        return self.session_id is not None and AuthSession.objects.active().filter(pk=self.session_id).exists()

    def sign_in(self) -> None:
        user = _user(self.email, staff=self.email == STAFF_EMAIL)
        self.client = Client(WSGIHandler())
        headers = {"X-Auth-Strategy": "bearer"} if self.delivery == "bearer" else self.csrf_headers()
        answer = self.client.post("/auth/login", base_url=BASE_URL, json={"email": self.email, "password": PASSWORD},
                                  headers=headers)
        assert answer.status_code == 200, answer.get_data()
        if self.delivery == "bearer":
            self.access = answer.json["accessToken"]
        self.session_id = AuthSession.objects.for_user(user).order_by("-created_at").values_list(
            "pk", flat=True).first()

    def csrf_headers(self) -> dict[str, str]:
        """A browser's unsafe request: the CSRF cookie's value as the header, a trusted Origin."""
        cookie = self.client.get_cookie(CSRF_COOKIE, domain="localhost")
        if cookie is None:
            self.client.get("/auth/csrf", base_url=BASE_URL)
            cookie = self.client.get_cookie(CSRF_COOKIE, domain="localhost")
        assert cookie is not None
        return {"Origin": ORIGIN, "X-CSRF-Token": cookie.value}

    def headers(self) -> dict[str, str]:
        if not self._alive():
            self.sign_in()
        if self.delivery == "bearer":
            return {"X-Auth-Strategy": "bearer", "Authorization": f"Bearer {self.access}"}
        return self.csrf_headers()


ACTORS = {"bearer": Actor("bearer"), "cookie": Actor("cookie")}
STAFF_ACTORS = {"bearer": Actor("bearer", STAFF_EMAIL), "cookie": Actor("cookie", STAFF_EMAIL)}


class _Auth:
    """schemathesis's auth hook: marks every case as carrying the actor's credentials, so that it
    generates none of its own (but in the cases that send wrong ones on purpose). The credentials
    themselves are read when the case is sent (:func:`_call`): the session may have ended since
    the case was generated."""

    def get(self, case: Any, context: Any) -> str:
        return "the actor's"

    def set(self, case: Any, data: str, context: Any) -> None:
        pass


bearer_schema.auth(refresh_interval=None)(_Auth)
cookie_schema.auth(refresh_interval=None)(_Auth)

STAFF_OPERATIONS = "^staff_"
staff_bearer_schema = _load().include(operation_id_regex=STAFF_OPERATIONS)
staff_cookie_schema = _load().include(operation_id_regex=STAFF_OPERATIONS)


def _existing_ids(context: Any, path_parameters: dict[str, Any] | None) -> Any:
    """A staff case's ``user_id`` / ``session_id``: as generated, or one that exists (a random one
    almost never does, and the case would stop at the 404). Read when the case is generated,
    inside the test's database."""
    choices = [st.just(path_parameters)]
    for name, model in (("user_id", get_user_model()), ("session_id", AuthSession)):
        if path_parameters and name in path_parameters:
            ids = sorted(str(pk) for pk in model.objects.values_list("pk", flat=True))
            if ids:
                choices.append(st.sampled_from(ids).map(lambda pk, name=name: {**path_parameters, name: pk}))
    return st.one_of(*choices)


for _schema in (staff_bearer_schema, staff_cookie_schema):
    _schema.auth(refresh_interval=None)(_Auth)
    _schema.hook("flatmap_path_parameters")(_existing_ids)

_CHECKS: dict[str, Any] = {"excluded_checks": [positive_data_acceptance],
                           "additional_checks": [schema_valid_input_passes_its_stated_rules]}


@pytest.fixture
def fuzz_app(db: None, settings: Any) -> Iterator[None]:
    for name, value in FUZZ_SETTINGS.items():
        setattr(settings, name, value)
    # As Django's test client does: the test's transaction must survive each request.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def staff_targets(fuzz_app: None) -> None:
    """The users a staff case may name: the staff member, the usual actor and a few more, each with
    a session, so that deletes, deactivations, 2FA resets and revocations find something to do."""
    for email in (EMAIL, *STAFF_TARGETS):
        Actor("bearer", email).sign_in()


def _call(case: Any, delivery: str, actors: dict[str, Actor] = ACTORS) -> None:
    actor = actors[delivery]
    if case.operation.schema.is_security_param_negated(case):
        # Wrong credentials on purpose: only those the case generated (and a browser's CSRF pair).
        stranger = Actor(delivery)
        headers = stranger.csrf_headers() if delivery == "cookie" else {}
        case.call_and_validate(base_url=BASE_URL, session=stranger.client, headers=headers, **_CHECKS)
        return
    headers = actor.headers()  # first: signing in again gives the actor a new cookie jar
    case.call_and_validate(base_url=BASE_URL, session=actor.client, headers=headers, **_CHECKS)


@pytest.mark.parametrize("delivery", ["bearer", "cookie"])
def test_the_fuzzing_clients_are_signed_in_and_sign_in_again(delivery: str, fuzz_app: None) -> None:
    """The net has no hole: the cases reach the authenticated endpoints as a signed-in client,
    also after a case ended the session."""
    actor = Actor(delivery)

    def send(method: str, path: str) -> Any:
        headers = actor.headers()  # as _call does: before the jar is read
        return actor.client.open(path, method=method, base_url=BASE_URL, headers=headers)

    me = send("GET", "/auth/me")
    assert me.status_code == 200 and me.json["email"] == EMAIL, me.get_data()
    assert send("POST", "/auth/logout-all").status_code == 200
    again = send("GET", "/auth/me")
    assert again.status_code == 200, again.get_data()


@bearer_schema.parametrize()
@hypothesis.settings(HYPOTHESIS)
def test_bearer(case: Any, fuzz_app: None) -> None:
    _call(case, "bearer")


@cookie_schema.parametrize()
@hypothesis.settings(HYPOTHESIS)
def test_cookie(case: Any, fuzz_app: None) -> None:
    _call(case, "cookie")


# --- the staff API, as a staff member ----------------------------------------------------------------
# test_bearer and test_cookie reach the staff operations as a user who is not staff (401/403); these
# reach them as a superuser, with users to act on, so the views' own work is fuzzed too.

@pytest.mark.parametrize("delivery", ["bearer", "cookie"])
def test_the_staff_fuzzing_clients_reach_the_views(delivery: str, staff_targets: None) -> None:
    """Without this, a staff case refused for want of staff would pass unnoticed."""
    actor = STAFF_ACTORS[delivery]
    headers = actor.headers()
    listed = actor.client.open("/admin/api/users", method="GET", base_url=BASE_URL, headers=headers)
    assert listed.status_code == 200, listed.get_data()
    assert {STAFF_EMAIL, EMAIL, *STAFF_TARGETS} <= {u["email"] for u in listed.json["users"]}


@staff_bearer_schema.parametrize()
@hypothesis.settings(STAFF_HYPOTHESIS)
def test_staff_bearer(case: Any, staff_targets: None) -> None:
    _call(case, "bearer", STAFF_ACTORS)


@staff_cookie_schema.parametrize()
@hypothesis.settings(STAFF_HYPOTHESIS)
def test_staff_cookie(case: Any, staff_targets: None) -> None:
    _call(case, "cookie", STAFF_ACTORS)


# --- stateful: the links ----------------------------------------------------------------------------

def _totp_code(user: Any) -> str:
    device = TOTPDevice.objects.get(user=user)
    TOTPDevice.objects.filter(pk=device.pk).update(last_t=-1)  # each scenario's code is a new one
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits)
    totp.time = time.time()
    return f"{totp.token():0{device.digits}d}"


def _machine(schema: Any, delivery: str, *, two_factor: bool) -> type[Any]:
    """The state machine of ``schema`` as one client of ``delivery``: it signs in with the real
    credentials (a 2FA user's when ``two_factor``, with a live TOTP code for ``2fa/verify``) and then
    carries what each answer hands over: the cookies in its jar, or the bearer access token."""
    email = TWO_FACTOR_EMAIL if two_factor else EMAIL

    class Machine(schema.as_state_machine()):  # type: ignore[misc]
        def setup(self) -> None:
            self.user = _user(email)
            if two_factor and not TOTPDevice.objects.filter(user=self.user).exists():
                TOTPDevice.objects.create(user=self.user, name="fuzz", confirmed=True)
                update_account_state(self.user, two_factor_enabled=True)
            self.client = Client(WSGIHandler())
            self.access: str | None = None

        def before_call(self, case: Any) -> None:
            if case.operation.path == "/auth/login":
                case.body = {"email": email, "password": PASSWORD}
            elif case.operation.path == "/auth/2fa/verify" and isinstance(case.body, dict) and two_factor:
                case.body = {"tempToken": case.body.get("tempToken", ""), "totpCode": _totp_code(self.user)}

        def get_call_kwargs(self, case: Any) -> dict[str, Any]:
            if delivery == "bearer":
                headers = {"X-Auth-Strategy": "bearer"}
                if self.access and not case.operation.schema.is_security_param_negated(case):
                    headers["Authorization"] = f"Bearer {self.access}"
            else:
                headers = {"Origin": ORIGIN, "X-CSRF-Token": self._csrf()}
            return {"base_url": BASE_URL, "session": self.client, "headers": headers}

        def _csrf(self) -> str:
            cookie = self.client.get_cookie(CSRF_COOKIE, domain="localhost")
            if cookie is None:
                self.client.get("/auth/csrf", base_url=BASE_URL)
                cookie = self.client.get_cookie(CSRF_COOKIE, domain="localhost")
            return cookie.value if cookie is not None else ""

        def after_call(self, response: Any, case: Any) -> None:
            if delivery == "bearer" and response.status_code == 200:
                body = response.json()
                if isinstance(body, dict) and "accessToken" in body:
                    self.access = body["accessToken"]

        def validate_response(self, response: Any, case: Any, additional_checks: Any = None, **kwargs: Any) -> None:
            case.validate_response(response, transport_kwargs=kwargs, **_CHECKS)

    Machine.__name__ = f"Machine_{delivery}_{'2fa' if two_factor else 'password'}"
    return Machine


@pytest.mark.parametrize("two_factor", [False, True], ids=["password", "2fa"])
@pytest.mark.parametrize("delivery", ["bearer", "cookie"])
def test_stateful(delivery: str, two_factor: bool, fuzz_app: None) -> None:
    schema = bearer_schema if delivery == "bearer" else cookie_schema
    _machine(schema, delivery, two_factor=two_factor).run(settings=STATEFUL)
