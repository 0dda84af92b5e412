"""Refresh-token lifecycle (security catalogue group B), under both deliveries.

Covers RT-01 (256-bit secret, stored and looked up only as a digest, no raw token in any DB
column, no secret in ``str``/``repr``), RT-02 (reuse of a spent token revokes the whole family,
its access tokens included, and sends ``refresh_token_reused``; the grace window never covers
an older ancestor), RT-04 (grace window: a retry of the immediate parent gets the same
successor, no new branch), RT-05 (absolute lifetime never extended by rotation, cookie
Max-Age and access ``exp`` follow it), RT-06 (idle lifetime), RT-07 (refresh token in the
wrong place: Authorization header, query string, GET, other delivery's channel, body and
cookie together) and RT-08 (the answer goes through the family's delivery, whatever the
request headers say; ``Cache-Control: no-store``).

RT-03 (N concurrent refreshes, exactly one wins) needs PostgreSQL row locks and lives in
``tests/real_servers/test_concurrent_refresh.py``; its sequential half (strict mode: a second use
of the same token is reuse) is here. Deviations from the catalogue's **[I]** suggestions,
as documented in docs/endpoints.md: a token through the other delivery's channel is 401
``INVALID_REFRESH_TOKEN`` (catalogue suggests 400), and a token in the query string is
ignored (401 ``NO_REFRESH_TOKEN``) rather than answered with 400.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import jwt
import pytest
from django.db import connection
from django.utils import timezone
from freezegun import freeze_time

from django_dualauth.admin import AuthSessionAdmin
from django_dualauth.conf import dualauth_settings
from django_dualauth.crypto import digest, new_secret
from django_dualauth.delivery import access_cookie_name, refresh_cookie_name
from django_dualauth.models import AuthSession, RotatedRefreshToken
from django_dualauth.models.sessions import RevocationReason
from django_dualauth.signals import refresh_token_reused, session_revoked, session_rotated

pytestmark = [pytest.mark.django_db, pytest.mark.both_backends]

REFRESH_PURPOSE = "refresh_token"
T0 = "2030-01-01 12:00:00"
WHOAMI = "/api/whoami"  # the protected project view of tests/urls.py


# --- helpers ------------------------------------------------------------------------------

def assert_error(response: Any, status: int, code: str) -> None:
    assert response.status_code == status, response.content
    body = response.json()
    assert body["code"] == code, body
    assert isinstance(body["error"], str) and body["error"]


def the_session() -> AuthSession:
    return AuthSession.objects.get()


@pytest.fixture
def received() -> Iterator[dict[str, list[dict[str, Any]]]]:
    """Every signal of the service layer, recorded by name."""
    log: dict[str, list[dict[str, Any]]] = {"reused": [], "revoked": [], "rotated": []}

    def recorder(name: str) -> Any:
        def receive(sender: Any, **kwargs: Any) -> None:
            kwargs.pop("signal", None)
            log[name].append(kwargs)
        return receive

    receivers = {"reused": recorder("reused"), "revoked": recorder("revoked"),
                 "rotated": recorder("rotated")}
    refresh_token_reused.connect(receivers["reused"])
    session_revoked.connect(receivers["revoked"])
    session_rotated.connect(receivers["rotated"])
    yield log
    refresh_token_reused.disconnect(receivers["reused"])
    session_revoked.disconnect(receivers["revoked"])
    session_rotated.disconnect(receivers["rotated"])


@pytest.fixture
def grace(settings: Any) -> timedelta:
    settings.DUALAUTH_REFRESH_REUSE_GRACE = timedelta(seconds=10)
    return timedelta(seconds=10)


@pytest.fixture
def short_lifetimes(settings: Any) -> None:
    settings.DUALAUTH_REFRESH_TOKEN_IDLE_LIFETIME = timedelta(hours=1)
    settings.DUALAUTH_REFRESH_TOKEN_ABSOLUTE_LIFETIME = timedelta(hours=3)
    settings.DUALAUTH_ACCESS_TOKEN_LIFETIME = timedelta(minutes=15)


def _all_cells() -> list[str]:
    """Every value of every column of every table, as text (a database dump)."""
    cells = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names(cursor):
            cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")  # noqa: S608
            cells.extend(str(value) for row in cursor.fetchall() for value in row
                         if value is not None)
    return cells


# --- RT-01: generation and storage ----------------------------------------------------------

def test_refresh_tokens_are_256_bit_secrets_stored_only_as_digests(auth_client, user):
    """RT-01: no raw refresh (or access) token in any column; look-up is by digest."""
    login = auth_client.login()
    assert login.status_code == 200, login.content
    raws = [auth_client.issued_refresh(login)]
    accesses = [auth_client.issued_access(login)]
    for _ in range(2):
        r = auth_client.refresh()
        assert r.status_code == 200, r.content
        raws.append(auth_client.issued_refresh(r))
        accesses.append(auth_client.issued_access(r))
    assert len(set(raws)) == 3
    for raw in raws:
        assert len(raw) >= 43  # 32 random bytes, URL-safe base64: 256 bits

    session = the_session()
    assert session.refresh_digest == digest(raws[-1], REFRESH_PURPOSE)
    spent = set(RotatedRefreshToken.objects.values_list("digest", flat=True))
    assert spent == {digest(raws[0], REFRESH_PURPOSE), digest(raws[1], REFRESH_PURPOSE)}

    dump = _all_cells()
    for secret in raws + accesses:
        assert not any(secret in cell for cell in dump)
    for obj in (session, *RotatedRefreshToken.objects.all()):
        for text in (str(obj), repr(obj)):
            assert all(raw not in text for raw in raws)
            assert session.refresh_digest not in text
    assert "refresh_digest" not in AuthSessionAdmin.fields
    assert "refresh_digest" not in AuthSessionAdmin.list_display


def test_a_leaked_digest_is_not_itself_a_refresh_token(auth_client, user):
    """RT-01: a database dump gives digests, and a digest presented as a token is refused."""
    auth_client.login()
    stolen = the_session().refresh_digest
    assert_error(auth_client.present_refresh(stolen), 401, "INVALID_REFRESH_TOKEN")
    session = the_session()
    assert session.generation == 0 and session.revoked_at is None


def test_two_logins_get_unrelated_tokens(auth_client, user):
    first = auth_client.login()
    second = auth_client.login()
    assert auth_client.issued_refresh(first) != auth_client.issued_refresh(second)


# --- rotation on every use --------------------------------------------------------------------

def test_every_refresh_rotates_the_token_within_one_family(auth_client, user, received):
    login = auth_client.login()
    session_id = the_session().pk
    seen = [auth_client.issued_refresh(login)]
    for expected_generation in (1, 2, 3):
        r = auth_client.refresh()
        assert r.status_code == 200, r.content
        assert r["Cache-Control"] == "no-store" and r["Pragma"] == "no-cache"  # RT-08
        seen.append(auth_client.issued_refresh(r))
        session = the_session()
        assert session.pk == session_id and session.generation == expected_generation
    assert len(set(seen)) == len(seen)
    assert RotatedRefreshToken.objects.filter(session_id=session_id).count() == 3
    assert [e["generation"] for e in received["rotated"]] == [1, 2, 3]
    assert received["reused"] == [] and received["revoked"] == []


def test_rotated_access_tokens_all_work_until_the_family_ends(auth_client, user):
    login = auth_client.login()
    first_access = auth_client.issued_access(login)
    r = auth_client.refresh()
    second_access = auth_client.issued_access(r)
    assert first_access != second_access
    assert auth_client.get_with_access(WHOAMI, first_access).status_code == 200
    assert auth_client.get_with_access(WHOAMI, second_access).status_code == 200


# --- RT-02 / RT-03 (sequential): reuse revokes the family -------------------------------------

def test_reuse_of_a_spent_token_revokes_the_whole_family(auth_client, user, user_factory, received,
                                                         revocation_check, client_factory):
    other_device = client_factory("bearer")
    other_device.login()
    login = auth_client.login()
    r0, a0 = auth_client.issued_refresh(login), auth_client.issued_access(login)
    rotated = auth_client.refresh()
    r1, a1 = auth_client.issued_refresh(rotated), auth_client.issued_access(rotated)
    family = AuthSession.objects.get(delivery=auth_client.delivery, revoked_at__isnull=True,
                                     generation=1)

    # The thief comes back after the grace window: not a retry.
    with freeze_time(timezone.now() + dualauth_settings.REFRESH_REUSE_GRACE + timedelta(seconds=1)):
        replay = auth_client.present_refresh(r0, HTTP_USER_AGENT="thief/1.0")
    assert_error(replay, 401, "SESSION_REVOKED")

    family.refresh_from_db()
    assert family.revoked_at is not None and family.revoked_reason == RevocationReason.REUSE
    assert len(received["reused"]) == 1
    event = received["reused"][0]
    assert event["session"].pk == family.pk and event["user"].pk == user.pk
    assert event["user_agent"] == "thief/1.0" and event["ip_address"] == "127.0.0.1"
    assert [e["reason"] for e in received["revoked"]] == [RevocationReason.REUSE]

    # The current token and every access token of the family are dead at once.
    assert_error(auth_client.present_refresh(r1), 401, "SESSION_REVOKED")
    for access in (a0, a1):
        assert_error(auth_client.get_with_access(WHOAMI, access), 401, "SESSION_REVOKED")
    # Other families of the same user are untouched.
    assert other_device.get("/api/whoami").status_code == 200
    assert other_device.refresh().status_code == 200


def test_second_use_of_the_same_token_is_reuse_in_strict_mode(auth_client, user, settings):
    """Strict mode (grace 0, opt-in): a duplicate refresh is reuse (RT-03, sequential)."""
    settings.DUALAUTH_REFRESH_REUSE_GRACE = timedelta(0)
    login = auth_client.login()
    r0 = auth_client.issued_refresh(login)
    assert auth_client.refresh().status_code == 200
    assert_error(auth_client.present_refresh(r0), 401, "SESSION_REVOKED")
    assert the_session().revoked_reason == RevocationReason.REUSE


def test_spent_token_replayed_through_the_other_channel_still_revokes(auth_client, user,
                                                                      client_factory, received):
    """A copy of a spent token is reuse wherever it is presented."""
    login = auth_client.login()
    r0 = auth_client.issued_refresh(login)
    assert auth_client.refresh().status_code == 200
    thief = client_factory("bearer" if auth_client.is_cookie else "cookie")
    assert_error(thief.present_refresh(r0), 401, "SESSION_REVOKED")
    assert the_session().revoked_reason == RevocationReason.REUSE
    assert len(received["reused"]) == 1
    assert_error(auth_client.refresh(), 401, "SESSION_REVOKED")


def test_grace_window_never_covers_the_grandparent(auth_client, user, grace, received):
    login = auth_client.login()
    r0 = auth_client.issued_refresh(login)
    assert auth_client.refresh().status_code == 200
    r2_response = auth_client.refresh()
    r2 = auth_client.issued_refresh(r2_response)
    assert_error(auth_client.present_refresh(r0), 401, "SESSION_REVOKED")
    assert len(received["reused"]) == 1
    assert_error(auth_client.present_refresh(r2), 401, "SESSION_REVOKED")


def test_immediate_parent_after_the_grace_window_is_reuse(auth_client, user, grace):
    with freeze_time(T0) as clock:
        login = auth_client.login()
        r0 = auth_client.issued_refresh(login)
        r1 = auth_client.issued_refresh(auth_client.refresh())
        clock.tick(grace + timedelta(seconds=1))
        assert_error(auth_client.present_refresh(r0), 401, "SESSION_REVOKED")
        assert_error(auth_client.present_refresh(r1), 401, "SESSION_REVOKED")
    assert the_session().revoked_reason == RevocationReason.REUSE


# --- RT-04: grace window --------------------------------------------------------------------

def test_retry_of_the_immediate_parent_within_grace_gets_the_same_successor(auth_client, user, grace,
                                                                            received):
    with freeze_time(T0) as clock:
        login = auth_client.login()
        r0 = auth_client.issued_refresh(login)
        first = auth_client.refresh()
        r1, a1 = auth_client.issued_refresh(first), auth_client.issued_access(first)
        clock.tick(timedelta(seconds=9))

        retry = auth_client.present_refresh(r0)
        assert retry.status_code == 200, retry.content
        assert auth_client.issued_refresh(retry) == r1
        a1_again = auth_client.issued_access(retry)
        assert a1_again != a1
        assert auth_client.get_with_access(WHOAMI, a1_again).status_code == 200
        session = the_session()
        assert session.generation == 1 and session.revoked_at is None
        assert RotatedRefreshToken.objects.count() == 1  # no new branch
        assert len(received["rotated"]) == 1 and received["reused"] == []

        # The successor still rotates exactly once, and then r0 is a grandparent.
        r2 = auth_client.issued_refresh(auth_client.present_refresh(r1))
        assert r2 not in (r0, r1)
        assert the_session().generation == 2
        assert_error(auth_client.present_refresh(r0), 401, "SESSION_REVOKED")


def test_grace_retry_answers_through_the_family_delivery(auth_client, user, grace):
    login = auth_client.login()
    r0 = auth_client.issued_refresh(login)
    assert auth_client.refresh().status_code == 200
    extra = {} if not auth_client.is_cookie else {"HTTP_X_AUTH_STRATEGY": "bearer"}
    retry = auth_client.present_refresh(r0, **extra)
    assert retry.status_code == 200, retry.content
    if auth_client.is_cookie:
        assert "refreshToken" not in retry.json() and "accessToken" not in retry.json()
        assert refresh_cookie_name() in retry.cookies
    else:
        assert retry.json()["refreshToken"]
        assert refresh_cookie_name() not in retry.cookies


# --- RT-05 / RT-06: lifetimes ---------------------------------------------------------------

def test_absolute_lifetime_is_never_extended_by_rotation(auth_client, user, short_lifetimes):
    with freeze_time(T0) as clock:
        assert auth_client.login().status_code == 200
        absolute = the_session().absolute_expires_at
        assert absolute - the_session().created_at == timedelta(hours=3)
        rotations = 0
        for _ in range(3):  # at 50, 100 and 150 minutes
            clock.tick(timedelta(minutes=50))
            r = auth_client.refresh()
            assert r.status_code == 200, r.content
            rotations += 1
            session = the_session()
            now = session.rotated_at
            expected_expiry = min(now + timedelta(hours=1), absolute)
            assert session.absolute_expires_at == absolute
            assert session.expires_at == expected_expiry
            access_exp = jwt.decode(auth_client.issued_access(r), options={"verify_signature": False})["exp"]
            assert access_exp <= int(absolute.timestamp())
            if auth_client.is_cookie:
                assert r.cookies[refresh_cookie_name()]["max-age"] == int(
                    (expected_expiry - now).total_seconds())
            else:
                assert r.json()["expiresIn"] <= int((absolute - now).total_seconds())
        assert rotations == 3
        assert the_session().expires_at == absolute  # capped: 150 min + 60 min > 180 min

        clock.tick(timedelta(minutes=31))  # 181 minutes after login, 31 after the last use
        assert_error(auth_client.refresh(), 401, "INVALID_REFRESH_TOKEN")
        assert the_session().generation == 3


def test_absolute_expiry_is_enforced_on_its_own(auth_client, user, short_lifetimes):
    """Even a row whose idle expiry was pushed past the absolute one (edited by hand, a bad
    migration) stops at the absolute expiry: both server-side timestamps are checked."""
    with freeze_time(T0) as clock:
        auth_client.login()
        session = the_session()
        AuthSession.objects.filter(pk=session.pk).update(
            expires_at=session.absolute_expires_at + timedelta(days=1))
        clock.tick(timedelta(hours=3))
        assert_error(auth_client.refresh(), 401, "INVALID_REFRESH_TOKEN")
        assert the_session().generation == 0


def test_access_token_does_not_outlive_the_absolute_lifetime(auth_client, user, short_lifetimes, settings):
    settings.DUALAUTH_REFRESH_TOKEN_IDLE_LIFETIME = timedelta(hours=4)
    with freeze_time(T0) as clock:
        auth_client.login()
        clock.tick(timedelta(minutes=170))
        r = auth_client.refresh()
        assert r.status_code == 200, r.content
        access = auth_client.issued_access(r)
        exp = jwt.decode(access, options={"verify_signature": False})["exp"]
        assert exp == int(the_session().absolute_expires_at.timestamp())
        clock.tick(timedelta(minutes=10, seconds=1))
        assert_error(auth_client.get_with_access(WHOAMI, access), 401, "INVALID_ACCESS_TOKEN")


def test_refresh_token_expires_after_the_idle_lifetime(auth_client, user, settings):
    """RT-06 and SES-07: the server decides; the client keeps presenting the stale cookie."""
    settings.DUALAUTH_REFRESH_TOKEN_IDLE_LIFETIME = timedelta(hours=1)
    with freeze_time(T0) as clock:
        auth_client.login()
        for _ in range(3):  # each use slides the idle window
            clock.tick(timedelta(minutes=59))
            assert auth_client.refresh().status_code == 200
        clock.tick(timedelta(hours=1))
        assert_error(auth_client.refresh(), 401, "INVALID_REFRESH_TOKEN")
    session = the_session()
    assert session.generation == 3 and session.revoked_at is None


def test_refresh_at_exactly_the_idle_expiry_is_refused(auth_client, user, settings):
    settings.DUALAUTH_REFRESH_TOKEN_IDLE_LIFETIME = timedelta(hours=1)
    with freeze_time(T0) as clock:
        auth_client.login()
        clock.tick(timedelta(hours=1))
        assert_error(auth_client.refresh(), 401, "INVALID_REFRESH_TOKEN")


# --- unknown and garbage tokens ---------------------------------------------------------------

def test_unknown_well_formed_token_is_refused(auth_client, user, received):
    auth_client.login()
    assert_error(auth_client.present_refresh(new_secret()), 401, "INVALID_REFRESH_TOKEN")
    session = the_session()
    assert session.generation == 0 and session.revoked_at is None
    assert received["reused"] == [] and received["revoked"] == []


@pytest.mark.parametrize("garbage", [
    "x",
    "a" * 31,
    "a" * 129,
    "a" * 5000,
    "ä" * 43,
    "abc def ghi jkl mno pqr stu vwx yz0 123 456",
    "../../../../etc/passwd" + "a" * 20,
    "' OR 1=1 --" + "a" * 40,
    "null",
    "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJlc2lnbmF0dXJl",
])
def test_garbage_refresh_tokens_are_401_never_500(auth_client, user, garbage):
    auth_client.login()
    assert_error(auth_client.present_refresh(garbage), 401, "INVALID_REFRESH_TOKEN")
    assert the_session().generation == 0


def test_refresh_without_any_token_is_401(auth_client, user):
    assert_error(auth_client.post("/auth/refresh", {}), 401, "NO_REFRESH_TOKEN")


@pytest.mark.parametrize("value", [123, ["a" * 43], {"token": "a" * 43}, True])
def test_non_string_body_token_is_a_validation_error(auth_client, user, value):
    auth_client.login()
    response = auth_client.post("/auth/refresh", {"refreshToken": value})
    assert_error(response, 400, "VALIDATION_ERROR")
    assert the_session().generation == 0


# --- RT-07 / RT-08: delivery binding and the wrong place --------------------------------------

def test_token_through_the_other_delivery_channel_is_refused(auth_client, user, client_factory):
    """A cookie family's token in a body, or a bearer family's token as a cookie: 401, no rotation."""
    login = auth_client.login()
    raw = auth_client.issued_refresh(login)
    other = client_factory("bearer" if auth_client.is_cookie else "cookie")
    assert_error(other.present_refresh(raw), 401, "INVALID_REFRESH_TOKEN")
    session = the_session()
    assert session.generation == 0 and session.revoked_at is None
    assert RotatedRefreshToken.objects.count() == 0
    # The rightful client is unaffected.
    assert auth_client.refresh().status_code == 200


def test_bearer_family_cookie_only_is_refused_even_with_bearer_header(client_factory, user, delivery):
    """RT-07(e) and its mirror: the channel decides, not the X-Auth-Strategy header."""
    owner = client_factory(delivery)
    raw = owner.issued_refresh(owner.login())
    attacker = client_factory("cookie")
    attacker.client.cookies[refresh_cookie_name()] = raw
    extra = {"HTTP_X_AUTH_STRATEGY": "bearer"}
    response = attacker.post("/auth/refresh", {}, **extra)
    if delivery == "cookie":
        # A cookie family refreshed by its cookie is fine; the answer stays in cookies.
        assert response.status_code == 200, response.content
        assert "refreshToken" not in response.json()
    else:
        assert_error(response, 401, "INVALID_REFRESH_TOKEN")
        assert the_session().generation == 0


def test_body_token_and_refresh_cookie_together_conflict(auth_client, user):
    """RT-07(f): both channels at once is refused, whichever one is the right one."""
    login = auth_client.login()
    raw = auth_client.issued_refresh(login)
    auth_client.client.cookies[refresh_cookie_name()] = raw
    response = auth_client.post("/auth/refresh", {"refreshToken": raw})
    assert_error(response, 400, "CREDENTIAL_CONFLICT")
    assert the_session().generation == 0


def test_cookie_family_answers_only_by_set_cookie_even_if_bearer_is_asked(auth_client, user):
    """RT-08: the family's delivery decides the answer. Mirror for bearer: no cookies ever."""
    auth_client.login()
    if auth_client.is_cookie:
        response = auth_client.refresh(HTTP_X_AUTH_STRATEGY="bearer")
        assert response.status_code == 200, response.content
        body = response.json()
        assert "refreshToken" not in body and "accessToken" not in body
        assert response.cookies[refresh_cookie_name()].value
        assert response.cookies[refresh_cookie_name()]["httponly"]
        assert response.cookies[access_cookie_name()].value
    else:
        # A native app that forgets X-Auth-Strategy still gets its tokens in the body.
        response = auth_client.client.post("/auth/refresh", {"refreshToken": auth_client.refresh_token},
                                            format="json")
        assert response.status_code == 200, response.content
        assert response.json()["refreshToken"] and response.json()["accessToken"]
        assert refresh_cookie_name() not in response.cookies
        assert access_cookie_name() not in response.cookies
    assert response["Cache-Control"] == "no-store" and response["Pragma"] == "no-cache"
    assert the_session().generation == 1


def test_cookie_family_with_access_token_in_body_never_puts_the_refresh_token_in_the_body(
        auth_client, user, settings):
    settings.DUALAUTH_COOKIE_ACCESS_TOKEN_IN_BODY = True
    auth_client.login()
    response = auth_client.refresh(HTTP_X_AUTH_STRATEGY="bearer") if auth_client.is_cookie \
        else auth_client.refresh()
    assert response.status_code == 200, response.content
    if auth_client.is_cookie:
        assert "refreshToken" not in response.json()
        assert response.cookies[refresh_cookie_name()].value


def test_refresh_token_as_authorization_bearer_is_refused(auth_client, user):
    """RT-07(a): a refresh token is not an access token."""
    raw = auth_client.issued_refresh(auth_client.login())
    response = auth_client.client.get("/api/whoami", HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert_error(response, 401, "INVALID_ACCESS_TOKEN")


@pytest.mark.parametrize("param", ["refresh", "refreshToken", "refresh_token"])
def test_refresh_token_in_the_query_string_is_not_processed(auth_client, user, param):
    """RT-07(b): a token in the URL is never read (no rotation, no success)."""
    raw = auth_client.issued_refresh(auth_client.login())
    if auth_client.is_cookie:
        auth_client.client.cookies.pop(refresh_cookie_name())
    response = auth_client.client.post(f"/auth/refresh?{param}={raw}", {}, format="json",
                                       **auth_client.headers())
    assert response.status_code in (400, 401), response.content
    assert response.json()["code"] in ("BAD_REQUEST", "NO_REFRESH_TOKEN")
    assert the_session().generation == 0


@pytest.mark.parametrize("method", ["get", "head", "put", "delete"])
def test_refresh_only_accepts_post(auth_client, user, method):
    """RT-07(c)."""
    auth_client.login()
    response = getattr(auth_client.client, method)("/auth/refresh", **auth_client.headers())
    assert response.status_code == 405
    assert the_session().generation == 0



@pytest.mark.parametrize("agent, recorded", [
    ("Mozilla/5.0 (iPhone) Safari/604.1", "Mozilla/5.0 (iPhone) Safari/604.1"),
    ("okhttp/4.12\x00\x1b[31m evil", "okhttp/4.12[31m evil"),  # control characters dropped
    ("x" * 600, "x" * 512),
])
def test_the_session_records_a_printable_bounded_user_agent(auth_client, user, agent, recorded):
    auth_client.login()
    assert auth_client.refresh(HTTP_USER_AGENT=agent).status_code == 200
    assert AuthSession.objects.get().user_agent == recorded
