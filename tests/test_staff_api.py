"""The staff API (issue 20, ``django_dualauth.staff.urls`` at ``admin/api/``): the permission matrix
under both deliveries, each action's effects and records (LogEntry, signal, audit event), the
protections (fresh sign-in, self-lockout, superusers, inactive staff, is_staff, CSRF), bad input,
and the query counts of the lists."""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.admin.models import CHANGE, DELETION, LogEntry
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.core import checks
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import include, path, resolve
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice
from freezegun import freeze_time

from django_dualauth import testing
from django_dualauth.api import staff as staff_views
from django_dualauth.models import AccountState, AuthSession, RecoveryCode
from django_dualauth.services import issue_session
from django_dualauth.signals import account_deleted, staff_action
from django_dualauth.types import ClientInfo
from tests.conftest import ORIGIN, PASSWORD, capture

pytestmark = pytest.mark.django_db

API = "/admin/api/"
PHONE = ClientInfo(ip_address="203.0.113.7", user_agent="Mozilla/5.0 (iPhone)")

VIEW = ("view_user", "view_authsession")
CHANGE_PERMS = (*VIEW, "change_user", "delete_user", "change_authsession")
#: role -> (is_staff, is_superuser, permissions)
ROLES: dict[str, tuple[bool, bool, tuple[str, ...]]] = {
    "plain": (False, False, ()),
    "staff-no-perms": (True, False, ()),
    "staff-view": (True, False, VIEW),
    "staff-change": (True, False, CHANGE_PERMS),
    "superuser": (True, True, ()),
}


def make_member(user_factory: Any, role: str, email: str | None = None) -> Any:
    is_staff, is_superuser, perms = ROLES[role]
    member = user_factory(email=email or f"{role}@example.com", is_staff=is_staff, is_superuser=is_superuser)
    member.user_permissions.set(Permission.objects.filter(codename__in=perms))
    return get_user_model().objects.get(pk=member.pk)


class Staff(testing.AuthClient):
    """A signed-in staff client of one delivery, with DELETE."""

    def __init__(self, delivery: testing.Delivery, email: str) -> None:
        super().__init__(delivery, origin=ORIGIN, email=email, password=PASSWORD)

    def delete(self, path: str, data: Any = None, **extra: Any) -> Any:
        return self.client.delete(path, data if data is not None else {}, format="json",
                                  **{**self.headers(), **extra})

    def call(self, method: str, path: str, data: Any = None) -> Any:
        if method == "get":
            return self.get(path)
        return self.delete(path, data) if method == "delete" else self.post(path, data)


@pytest.fixture
def sign_in(delivery: testing.Delivery, user_factory: Any) -> Callable[..., Staff]:
    def make(role: str = "superuser", email: str | None = None) -> Staff:
        member = make_member(user_factory, role, email)
        client = Staff(delivery, member.email)
        assert client.login().status_code == 200
        client.member = member  # type: ignore[attr-defined]
        return client
    return make


@pytest.fixture
def target(user_factory: Any) -> Any:
    return user_factory(email="target@example.com")


def session_of(user: Any, delivery: str = "bearer") -> AuthSession:
    return AuthSession.objects.get(pk=issue_session(user, delivery=delivery, client=PHONE).session_id)


@pytest.fixture
def events() -> Iterator[list[dict[str, Any]]]:
    yield from capture(staff_action)


@pytest.fixture
def audit(caplog: Any) -> Callable[[str], list[logging.LogRecord]]:
    caplog.set_level(logging.INFO, logger="django_dualauth.audit")
    return lambda name: [r for r in caplog.records if getattr(r, "event", None) == name]


def entries(obj: Any) -> list[LogEntry]:
    return list(LogEntry.objects.filter(object_id=str(obj.pk)).order_by("pk"))


# --- the permission matrix ------------------------------------------------------------------------

#: (method, path, body, the level that opens it: "view" or "change")
ENDPOINTS: list[tuple[str, str, dict[str, Any] | None, str]] = [
    ("get", "users", None, "view"),
    ("get", "users/{user}", None, "view"),
    ("delete", "users/{user}", {"reason": "ticket 1"}, "change"),
    ("post", "users/{user}/deactivate", {"reason": "ticket 1"}, "change"),
    ("post", "users/{user}/reactivate", {}, "change"),
    ("get", "users/{user}/sessions", None, "view"),
    ("get", "users/{user}/linked-accounts", None, "view"),
    ("post", "users/{user}/sessions/revoke", {"reason": "ticket 1"}, "change"),
    ("post", "users/{user}/2fa/require", {"required": True}, "change"),
    ("post", "users/{user}/2fa/reset", {"reason": "lost phone"}, "change"),
    ("get", "sessions", None, "view"),
    ("post", "sessions/revoke", {"ids": ["{session}"], "reason": "ticket 1"}, "change"),
    ("get", "sessions/{session}", None, "view"),
    ("delete", "sessions/{session}", {"reason": "ticket 1"}, "change"),
    ("get", "2fa-policy", None, "view"),
]

OPENS = {"plain": set(), "staff-no-perms": set(), "staff-view": {"view"}, "staff-change": {"view", "change"},
         "superuser": {"view", "change"}}


def _fill(value: Any, ids: dict[str, str]) -> Any:
    if isinstance(value, str):
        return value.format(**ids)
    if isinstance(value, list):
        return [_fill(v, ids) for v in value]
    if isinstance(value, dict):
        return {k: _fill(v, ids) for k, v in value.items()}
    return value


def test_every_route_of_the_include_is_in_the_matrix() -> None:
    from django_dualauth.staff import urls

    routes = set()
    for pattern in urls.urlpatterns:
        view = pattern.callback.view_class  # type: ignore[attr-defined]
        routes |= {(m, str(pattern.pattern).replace("<str:user_id>", "{user}").replace("<str:session_id>", "{session}"))
                   for m in ("get", "post", "delete") if hasattr(view, m)}
    assert routes == {(m, p) for m, p, _, _ in ENDPOINTS}


@pytest.mark.parametrize(("method", "where", "body", "level"), ENDPOINTS,
                         ids=[f"{m} {p}" for m, p, _, _ in ENDPOINTS])
@pytest.mark.parametrize("role", ["anonymous", *ROLES])
def test_permission_matrix(role: str, method: str, where: str, body: Any, level: str, sign_in: Any,
                           delivery: testing.Delivery, target: Any) -> None:
    ids = {"user": str(target.pk), "session": str(session_of(target).pk)}
    client = Staff(delivery, "nobody@example.com") if role == "anonymous" else sign_in(role)
    response = client.call(method, API + _fill(where, ids), _fill(body, ids))
    assert response["Content-Type"] == "application/json"
    if role == "anonymous":
        assert (response.status_code, response.json()["code"]) == (401, "NOT_AUTHENTICATED")
    elif level in OPENS[role]:
        assert response.status_code == 200, response.content
    else:
        assert (response.status_code, response.json()["code"]) == (403, "PERMISSION_DENIED"), response.content
        assert AuthSession.objects.filter(user=target, revoked_at__isnull=True).exists()  # nothing changed
        assert get_user_model().objects.filter(pk=target.pk, is_active=True).exists()


def test_the_refusal_names_the_missing_permissions(sign_in: Any, target: Any) -> None:
    viewer = sign_in("staff-view")
    body = viewer.post(f"{API}users/{target.pk}/deactivate", {"reason": "x"}).json()
    assert body == {"error": "Staff permission required", "code": "PERMISSION_DENIED",
                    "required": [f"{get_user_model()._meta.app_label}.change_user"]}


def test_permissions_without_is_staff_open_nothing(sign_in: Any, user_factory: Any) -> None:
    # A permission granted for another reason (a group of the project's) is not the staff API.
    member = make_member(user_factory, "plain", "helpdesk@example.com")
    member.user_permissions.set(Permission.objects.filter(codename__in=CHANGE_PERMS))
    client = Staff("bearer", member.email)
    client.login()
    response = client.get(f"{API}users")
    assert (response.status_code, response.json()) == (403, {"error": "Staff permission required",
                                                             "code": "PERMISSION_DENIED", "required": ["is_staff"]})


@pytest.mark.parametrize("delivery", ["bearer"])
def test_inactive_staff_are_refused_in_cache_mode(sign_in: Any, settings: Any) -> None:
    # Cache mode trusts the token's claims for is_active; the permission reads the user row. The
    # row is changed behind the signals' back (no revocation): only the permission stands.
    settings.DUALAUTH_REVOCATION_CHECK = "cache"
    client = sign_in("superuser")
    get_user_model().objects.filter(pk=client.member.pk).update(is_active=False)
    response = client.get(f"{API}users")
    assert (response.status_code, response.json()["code"], response.json()["required"]) == (
        403, "PERMISSION_DENIED", ["is_active"])


def test_cookie_requests_are_csrf_checked(user_factory: Any, target: Any) -> None:
    member = make_member(user_factory, "superuser")
    browser = Staff("cookie", member.email)
    browser.login()
    forged = browser.client.post(f"{API}users/{target.pk}/deactivate", {"reason": "x"}, format="json",
                                 HTTP_ORIGIN="https://evil.example")
    assert (forged.status_code, forged.json()["code"]) == (403, "CSRF_INVALID")
    assert get_user_model().objects.get(pk=target.pk).is_active


# --- users ----------------------------------------------------------------------------------------

@pytest.fixture
def population(user_factory: Any) -> list[Any]:
    people = [user_factory(email=f"user{i:02d}@example.com") for i in range(5)]
    AccountState.objects.create(user=people[1], two_factor_enabled=True, email_verified=True)
    AccountState.objects.create(user=people[2], email_verified=True)
    get_user_model().objects.filter(pk=people[3].pk).update(is_active=False)
    return people


def _emails(response: Any) -> list[str]:
    assert response.status_code == 200, response.content
    return [u["email"] for u in response.json()["users"]]


def test_the_user_list_pages_searches_filters_and_orders(sign_in: Any, population: list[Any]) -> None:
    admin = sign_in("superuser", "boss@example.com")
    page = admin.get(f"{API}users?limit=2&offset=0").json()
    assert page["total"] == 6 and page["limit"] == 2 and page["offset"] == 0 and len(page["users"]) == 2
    assert set(page["users"][0]) >= {"id", "email", "isActive", "twoFactorEnabled", "emailVerified"}
    assert _emails(admin.get(f"{API}users?search=USER0&ordering=-email&limit=3")) == [
        "user04@example.com", "user03@example.com", "user02@example.com"]
    assert _emails(admin.get(f"{API}users?filter=user01")) == ["user01@example.com"]  # node-auth's name
    assert _emails(admin.get(f"{API}users?twoFactorEnabled=true")) == ["user01@example.com"]
    assert "user01@example.com" not in _emails(admin.get(f"{API}users?twoFactorEnabled=false"))
    assert _emails(admin.get(f"{API}users?emailVerified=true")) == ["user01@example.com", "user02@example.com"]
    assert _emails(admin.get(f"{API}users?isActive=false")) == ["user03@example.com"]
    assert _emails(admin.get(f"{API}users?offset=4&limit=1")) == ["user04@example.com"]


def test_node_auth_clients_list_call_works(sign_in: Any, population: list[Any]) -> None:
    # awesome-node-auth-flutter's admin section: GET /admin/api/users?limit=20&offset=0, bearer.
    admin = sign_in("superuser")
    body = admin.get(f"{API}users?limit=20&offset=0").json()
    assert len(body["users"]) == body["total"] == 6


@pytest.mark.parametrize("query", ["limit=101", "limit=0", "limit=x", "offset=-1", "isActive=yes",
                                   "ordering=password", "search=" + "a" * 300])
def test_bad_list_queries_are_400(sign_in: Any, query: str) -> None:
    response = sign_in("superuser").get(f"{API}users?{query}")
    assert (response.status_code, response.json()["code"]) == (400, "VALIDATION_ERROR")


def _queries(client: Staff, url: str) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == 200
    return len(queries)


def test_the_lists_cost_the_same_queries_for_two_rows_and_for_twenty(sign_in: Any, user_factory: Any) -> None:
    admin = sign_in("staff-view")
    for i in range(2):
        session_of(user_factory(email=f"few{i}@example.com"))
    AuthSession.objects.filter(user__email="few0@example.com").update(revoked_at=timezone.now())
    _queries(admin, f"{API}sessions")  # ContentType's cache warmed (once per process in production)
    few = (_queries(admin, f"{API}users"), _queries(admin, f"{API}sessions"))
    for i in range(20):
        person = user_factory(email=f"many{i}@example.com")
        AccountState.objects.create(user=person, email_verified=True)
        AuthSession.objects.filter(pk=session_of(person).pk).update(revoked_at=timezone.now())
    assert (_queries(admin, f"{API}users"), _queries(admin, f"{API}sessions")) == few
    # The session check (1) and the staff's permissions (user and group permissions, 2), then the
    # page: users, a count and the page (2); sessions, a count, the page, who revoked them (3).
    assert few == (5, 6)


def test_user_detail_and_unknown_ids(sign_in: Any, target: Any) -> None:
    admin = sign_in("superuser")
    assert admin.get(f"{API}users/{target.pk}").json()["user"]["email"] == "target@example.com"
    for bad in ("999999", "abc", "1.5", "%00", "9" * 40):
        response = admin.get(f"{API}users/{bad}")
        assert (response.status_code, response.json()["code"]) == (404, "NOT_FOUND"), bad


def test_deactivate_revokes_every_session_and_records_it(sign_in: Any, target: Any, events: Any,
                                                         audit: Any, revocation_check: str) -> None:
    admin = sign_in("superuser")
    victim = testing.AuthClient("bearer", email=target.email, password=PASSWORD)
    victim.login()
    session_of(target, "cookie")
    response = admin.post(f"{API}users/{target.pk}/deactivate", {"reason": "ticket #42: fraud"})
    assert response.status_code == 200 and response.json()["revoked"] == 2
    assert response.json()["user"]["isActive"] is False
    assert not AuthSession.objects.filter(user=target, revoked_at__isnull=True).exists()
    assert set(AuthSession.objects.filter(user=target).values_list("revoked_reason", flat=True)) == {"user_inactive"}
    assert victim.me().status_code == 401 and victim.refresh().status_code == 401
    [entry] = entries(target)
    assert (entry.user_id, entry.action_flag) == (admin.member.pk, CHANGE)
    assert entry.change_message == "Deactivated; 2 session(s) revoked. Reason: ticket #42: fraud"
    [event] = events
    assert (event["staff"], event["action"], event["target_ids"], event["reason"]) == (
        admin.member, "user.deactivated", [str(target.pk)], "ticket #42: fraud")
    [record] = audit("auth.staff.action")
    assert record.fields["action"] == "user.deactivated" and "fraud" not in record.getMessage()
    assert all(r.fields["by"] == str(admin.member.pk) for r in audit("auth.session.revoked")
               if r.fields["user"] == str(target.pk))


def test_reactivate(sign_in: Any, target: Any, events: Any) -> None:
    admin = sign_in("superuser")
    get_user_model().objects.filter(pk=target.pk).update(is_active=False)
    assert admin.post(f"{API}users/{target.pk}/reactivate", {"reason": "appeal"}).json()["user"]["isActive"]
    assert entries(target)[0].change_message == "Reactivated. Reason: appeal"
    assert events[0]["action"] == "user.reactivated"


def test_delete_goes_through_account_deletion(sign_in: Any, target: Any, events: Any, audit: Any) -> None:
    admin = sign_in("superuser")
    session = session_of(target)
    with capture_one(account_deleted) as deleted:
        response = admin.delete(f"{API}users/{target.pk}", {"reason": "GDPR request 7"})
    assert response.status_code == 200, response.content
    assert not get_user_model().objects.filter(pk=target.pk).exists()
    assert not AuthSession.objects.filter(pk=session.pk).exists()
    assert deleted == [{"user_id": target.pk, "email": "target@example.com", "deleted_by": admin.member}]
    [entry] = entries(target)
    assert entry.action_flag == DELETION and entry.change_message == "Deleted. Reason: GDPR request 7"
    assert events[0]["action"] == "user.deleted"
    assert audit("auth.account.deleted")[0].fields["by"] == str(admin.member.pk)


class capture_one:  # noqa: N801  # a context manager read as a phrase
    def __init__(self, signal: Any) -> None:
        self.signal, self.events = signal, []

    def __enter__(self) -> list[dict[str, Any]]:
        self.signal.connect(self._receive)
        return self.events

    def _receive(self, sender: Any, signal: Any = None, **kwargs: Any) -> None:
        self.events.append(kwargs)

    def __exit__(self, *exc: object) -> None:
        self.signal.disconnect(self._receive)


def test_node_auth_clients_delete_without_a_reason_is_told_what_to_send(sign_in: Any, target: Any) -> None:
    response = sign_in("superuser").delete(f"{API}users/{target.pk}", None)
    assert (response.status_code, response.json()["code"]) == (400, "VALIDATION_ERROR")
    assert "reason" in response.json()["fields"]
    assert get_user_model().objects.filter(pk=target.pk).exists()


def test_require_and_reset_two_factor(sign_in: Any, target: Any, events: Any) -> None:
    admin = sign_in("superuser")
    assert admin.post(f"{API}users/{target.pk}/2fa/require", {"required": True}).json()["user"]["twoFactorRequired"]
    assert AccountState.objects.get(user=target).two_factor_required
    TOTPDevice.objects.create(user=target, name="phone", confirmed=True)
    RecoveryCode.objects.create(user=target, digest="d" * 64, created_at=timezone.now())
    AccountState.objects.filter(user=target).update(two_factor_enabled=True)
    session = session_of(target)
    response = admin.post(f"{API}users/{target.pk}/2fa/reset", {"reason": "lost phone, ID checked"})
    assert response.status_code == 200 and response.json()["user"]["twoFactorEnabled"] is False
    assert not TOTPDevice.objects.filter(user=target).exists() and not RecoveryCode.objects.filter(user=target).exists()
    assert AuthSession.objects.get(pk=session.pk).revoked_reason == "factor_changed"
    assert [e.change_message for e in entries(target)] == [
        "Two-factor authentication required.",
        "Two-factor authentication reset; every session revoked. Reason: lost phone, ID checked"]
    assert [e["action"] for e in events] == ["user.2fa_required", "user.2fa_reset"]


def test_the_global_policy_is_shown_read_only(sign_in: Any, settings: Any) -> None:
    admin = sign_in("superuser")
    settings.DUALAUTH_REQUIRE_2FA = True  # after the sign-in (the superuser has no device)
    body = admin.get(f"{API}2fa-policy").json()
    assert body["required"] is True and body["source"] == "settings" and body["setting"] == "DUALAUTH_REQUIRE_2FA"
    assert admin.post(f"{API}2fa-policy", {}).status_code == 405  # changed in settings only


# --- sessions -------------------------------------------------------------------------------------

def test_session_list_filters(sign_in: Any, target: Any, user_factory: Any) -> None:
    admin = sign_in("superuser")
    cookie, bearer = session_of(target, "cookie"), session_of(target, "bearer")
    other = session_of(user_factory(email="other@example.com"))
    AuthSession.objects.filter(pk=other.pk).update(revoked_at=timezone.now(), revoked_reason="logout")

    def ids(query: str) -> set[str]:
        response = admin.get(f"{API}sessions?{query}")
        assert response.status_code == 200, response.content
        return {s["id"] for s in response.json()["sessions"]}

    assert ids(f"user={target.pk}") == {str(cookie.pk), str(bearer.pk)}
    assert ids(f"user={target.pk}&delivery=cookie") == {str(cookie.pk)}
    assert ids("state=revoked") == {str(other.pk)}
    assert ids("user=424242") == set() and ids("user=abc") == set()
    assert str(other.pk) not in ids(f"state=active&createdAfter={(timezone.now() - timedelta(hours=1)).isoformat()}"
                                    .replace("+", "%2B"))
    assert ids(f"createdBefore={(timezone.now() - timedelta(hours=1)).isoformat()}".replace("+", "%2B")) == set()
    assert admin.get(f"{API}sessions?state=nope").status_code == 400
    assert admin.get(f"{API}users/{target.pk}/sessions?state=active").json()["total"] == 2


def test_revoke_one_session_records_who(sign_in: Any, target: Any, events: Any) -> None:
    admin = sign_in("superuser")
    session = session_of(target)
    response = admin.delete(f"{API}sessions/{session.pk}", {"reason": "stolen laptop"})
    assert response.json() == {"success": True, "revoked": 1}
    assert AuthSession.objects.get(pk=session.pk).revoked_reason == "admin"
    [entry] = entries(session)
    assert entry.change_message == "Revoked (staff API). Reason: stolen laptop" and entry.user_id == admin.member.pk
    shown = admin.get(f"{API}sessions/{session.pk}").json()["session"]
    assert (shown["state"], shown["revokedBy"]) == ("revoked", str(admin.member.pk))
    assert admin.delete(f"{API}sessions/{session.pk}", {"reason": "again"}).json()["revoked"] == 0
    assert admin.delete(f"{API}sessions/{uuid.uuid4()}", {"reason": "x"}).status_code == 404
    assert events[0]["action"] == "sessions.revoked" and events[0]["target_ids"] == [str(session.pk)]


def test_revoke_a_selection_and_all_of_a_user(sign_in: Any, target: Any) -> None:
    admin = sign_in("superuser")
    first, second, third = (session_of(target) for _ in range(3))
    response = admin.post(f"{API}sessions/revoke", {"ids": [str(first.pk), str(uuid.uuid4())], "reason": "r"})
    assert response.json() == {"success": True, "revoked": 1, "ids": [str(first.pk)]}
    response = admin.post(f"{API}users/{target.pk}/sessions/revoke", {"reason": "compromised"})
    assert response.json() == {"success": True, "revoked": 2}
    assert {e.object_id for e in LogEntry.objects.filter(change_message__startswith="Revoked")} == {
        str(s.pk) for s in (first, second, third)}


@pytest.mark.parametrize(("where", "body"), [
    ("sessions/revoke", {"ids": [str(uuid.UUID(int=i)) for i in range(101)], "reason": "r"}),  # oversized
    ("sessions/revoke", {"ids": [], "reason": "r"}),
    ("sessions/revoke", {"ids": "abc", "reason": "r"}),
    ("sessions/revoke", {"ids": [1, 2], "reason": "r"}),
    ("sessions/revoke", {"ids": ["not-a-uuid"], "reason": "r"}),
    ("sessions/revoke", {"ids": [str(uuid.uuid4())]}),  # no reason
    ("users/{user}/deactivate", {"reason": 5}),
    ("users/{user}/deactivate", {"reason": ""}),
    ("users/{user}/deactivate", {"reason": "x" * 501}),
    ("users/{user}/2fa/require", {"required": "yes"}),
    ("users/{user}/2fa/require", {"required": 1}),
    ("users/{user}/2fa/require", {}),
])
def test_bad_bodies_are_400_and_change_nothing(sign_in: Any, target: Any, where: str, body: Any) -> None:
    admin = sign_in("superuser")
    session = session_of(target)
    response = admin.post(API + where.format(user=target.pk), body)
    assert (response.status_code, response.json()["code"]) == (400, "VALIDATION_ERROR"), response.content
    assert AuthSession.objects.get(pk=session.pk).revoked_at is None
    assert get_user_model().objects.get(pk=target.pk).is_active
    assert not LogEntry.objects.exists()


@pytest.mark.parametrize("raw", [b"{", b"[]", b'"text"', b"\xff"])
def test_malformed_json_is_400(sign_in: Any, target: Any, raw: bytes) -> None:
    admin = sign_in("superuser")
    response = admin.client.post(f"{API}users/{target.pk}/deactivate", raw, content_type="application/json",
                                 **admin.headers())
    assert response.status_code == 400 and response.json()["code"] in ("BAD_REQUEST", "VALIDATION_ERROR")
    assert get_user_model().objects.get(pk=target.pk).is_active


# --- the protections (each test fails when its protection is removed) -----------------------------

DESTRUCTIVE = [("post", "users/{user}/deactivate"), ("delete", "users/{user}"), ("post", "users/{user}/2fa/reset"),
               ("post", "users/{user}/sessions/revoke"), ("delete", "sessions/{session}"),
               ("post", "sessions/revoke")]


def _body(where: str, session: AuthSession) -> dict[str, Any]:
    return {"ids": [str(session.pk)], "reason": "r"} if where == "sessions/revoke" else {"reason": "r"}


@pytest.mark.parametrize(("method", "where"), DESTRUCTIVE)
def test_destructive_actions_need_a_fresh_sign_in(sign_in: Any, target: Any, method: str, where: str) -> None:
    with freeze_time(timezone.now()) as clock:
        admin = sign_in("superuser")
        session = session_of(target)
        clock.tick(timedelta(minutes=6))  # past DUALAUTH_FRESH_SIGN_IN_WINDOW; the access token lives 15
        response = admin.call(method, API + where.format(user=target.pk, session=session.pk), _body(where, session))
    assert (response.status_code, response.json()["code"]) == (403, "REAUTHENTICATION_REQUIRED"), response.content
    assert AuthSession.objects.get(pk=session.pk).revoked_at is None
    assert get_user_model().objects.get(pk=target.pk).is_active


@pytest.mark.parametrize(("method", "where"), DESTRUCTIVE[:4])
def test_staff_cannot_lock_themselves_out(sign_in: Any, method: str, where: str) -> None:
    admin = sign_in("superuser")
    me = admin.member
    response = admin.call(method, API + where.format(user=me.pk), {"reason": "oops"})
    assert (response.status_code, response.json()["code"]) == (409, "SELF_LOCKOUT")
    assert get_user_model().objects.get(pk=me.pk).is_active and admin.me().status_code == 200


@pytest.mark.parametrize("method", ["delete", "post"])
def test_staff_cannot_revoke_their_current_session(sign_in: Any, method: str) -> None:
    admin = sign_in("superuser")
    current = AuthSession.objects.get(user=admin.member)
    where = f"sessions/{current.pk}" if method == "delete" else "sessions/revoke"
    response = admin.call(method, API + where, {"ids": [str(current.pk)], "reason": "oops"})
    assert (response.status_code, response.json()["code"]) == (409, "SELF_LOCKOUT")
    assert admin.me().status_code == 200


@pytest.mark.parametrize(("method", "where"), DESTRUCTIVE)
def test_only_a_superuser_acts_on_a_superuser(sign_in: Any, user_factory: Any, method: str, where: str) -> None:
    root = make_member(user_factory, "superuser", "root@example.com")
    session = session_of(root)
    helper = sign_in("staff-change")
    response = helper.call(method, API + where.format(user=root.pk, session=session.pk), _body(where, session))
    assert (response.status_code, response.json()) == (403, {"error": "Staff permission required",
                                                             "code": "PERMISSION_DENIED", "required": ["is_superuser"]})
    assert AuthSession.objects.get(pk=session.pk).revoked_at is None


# --- mounting ---------------------------------------------------------------------------------------

def test_admin_api_is_mounted_before_the_admins_catch_all(settings: Any) -> None:
    from django.contrib import admin

    assert resolve(f"{API}users").func.view_class is staff_views.UserListView  # type: ignore[attr-defined]
    # In the other order, the admin's final catch-all view answers admin/api/... itself.
    settings.ROOT_URLCONF = type("urls", (), {"urlpatterns": [
        path("admin/", admin.site.urls), path("admin/api/", include("django_dualauth.staff.urls"))]})
    assert resolve(f"{API}users").func.__name__ == "catch_all_view"
    # ... which the system check dualauth.W011 names.
    [warning] = [m for m in checks.run_checks(tags=[checks.Tags.urls]) if m.id == "dualauth.W011"]
    assert "before path('admin/'" in (warning.hint or "")


def test_the_check_is_quiet_when_mounted_first_or_not_at_all(settings: Any) -> None:
    assert not [m for m in checks.run_checks(tags=[checks.Tags.urls]) if m.id == "dualauth.W011"]
    settings.ROOT_URLCONF = "tests.package_urls"
    assert not [m for m in checks.run_checks(tags=[checks.Tags.urls]) if m.id == "dualauth.W011"]


# --- the schema: every answer as documented -------------------------------------------------------

def _json_schema(node: Any) -> Any:
    """OpenAPI 3.0's ``nullable`` as JSON Schema's null type (jsonschema knows no ``nullable``)."""
    if isinstance(node, list):
        return [_json_schema(n) for n in node]
    if not isinstance(node, dict):
        return node
    out = {k: _json_schema(v) for k, v in node.items() if k != "nullable"}
    if node.get("nullable"):
        out = {"anyOf": [out, {"type": "null"}]}
    return out


@pytest.fixture(scope="module")
def staff_schema() -> dict[str, Any]:
    from drf_spectacular.generators import SchemaGenerator
    from drf_spectacular.settings import patched_settings

    from django_dualauth.openapi.views import SCHEMA_SETTINGS

    with patched_settings(SCHEMA_SETTINGS):
        return SchemaGenerator().get_schema(request=None, public=True)  # type: ignore[no-any-return]


def _conforms(schema: dict[str, Any], method: str, where: str, response: Any) -> None:
    import jsonschema

    template = re.sub(r"/[0-9a-f-]{36}(?=/|$)", "/{session_id}", API + where.partition("?")[0])
    template = re.sub(r"^(/admin/api/users)/\d+", r"\1/{user_id}", template)
    operation = schema["paths"][template][method]
    documented = operation["responses"].get(str(response.status_code))
    assert documented is not None, (method, template, response.status_code, response.content)
    body_schema = documented["content"]["application/json"]["schema"]
    document = {"$ref": body_schema["$ref"], "components": _json_schema(schema["components"])}
    jsonschema.validate(response.json(), document)
    if response.status_code >= 400:
        codes = [e["value"]["code"] for e in documented["content"]["application/json"]["examples"].values()]
        assert response.json()["code"] in codes, (template, response.json(), codes)


def test_every_answer_is_the_documented_one(sign_in: Any, target: Any, staff_schema: dict[str, Any],
                                            user_factory: Any) -> None:
    admin = sign_in("superuser")
    viewer = sign_in("staff-view", "viewer@example.com")
    anonymous = Staff(admin.delivery, "nobody@example.com")
    session = session_of(target)
    AuthSession.objects.filter(pk=session_of(target).pk).update(revoked_at=timezone.now(), revoked_reason="logout")
    ids = {"user": str(target.pk), "session": str(session.pk)}
    for method, where, body, level in ENDPOINTS:
        path_ = _fill(where, ids)
        _conforms(staff_schema, method, path_, anonymous.call(method, API + path_, _fill(body, ids)))
        if level == "change":
            _conforms(staff_schema, method, path_, viewer.call(method, API + path_, _fill(body, ids)))
    for method, where, body, _ in ENDPOINTS:  # the successes, the deletion last
        if (method, where) == ("delete", "users/{user}"):
            continue
        path_ = _fill(where, ids)
        response = admin.call(method, API + path_, _fill(body, ids))
        assert response.status_code == 200, (where, response.content)
        _conforms(staff_schema, method, path_, response)
    _conforms(staff_schema, "get", "users/424242", admin.get(f"{API}users/424242"))
    _conforms(staff_schema, "get", "users?limit=500", admin.get(f"{API}users?limit=500"))
    _conforms(staff_schema, "post", "sessions/revoke", admin.post(f"{API}sessions/revoke", {"ids": []}))
    me = admin.member.pk
    _conforms(staff_schema, "post", f"users/{me}/deactivate",
              admin.post(f"{API}users/{me}/deactivate", {"reason": "x"}))
    _conforms(staff_schema, "delete", f"users/{target.pk}", admin.delete(f"{API}users/{target.pk}", {"reason": "x"}))


CHANGES = [(m, p, b) for m, p, b, level in ENDPOINTS if level == "change"]


@pytest.mark.parametrize(("method", "where", "body"), CHANGES, ids=[f"{m} {p}" for m, p, _ in CHANGES])
def test_every_change_is_a_log_entry_a_signal_and_an_audit_event(sign_in: Any, target: Any, events: Any,
                                                                  audit: Any, method: str, where: str,
                                                                  body: Any) -> None:
    admin = sign_in("superuser")
    ids = {"user": str(target.pk), "session": str(session_of(target).pk)}
    response = admin.call(method, API + _fill(where, ids), _fill(body, ids))
    assert response.status_code == 200, response.content
    [event] = events
    assert event["staff"] == admin.member and event["reason"] == (_fill(body, ids) or {}).get("reason", "")
    logged = LogEntry.objects.filter(user=admin.member, object_id__in=event["target_ids"])
    assert logged.count() == len(event["target_ids"]) >= 1
    assert all(e.change_message.endswith(f"Reason: {event['reason']}") for e in logged if event["reason"])
    [record] = audit("auth.staff.action")
    assert (record.fields["action"], record.fields["staff"], record.fields["ids"]) == (
        event["action"], str(admin.member.pk), ",".join(event["target_ids"]))


def test_head_is_get(sign_in: Any) -> None:
    admin = sign_in("staff-view")
    assert admin.client.head(f"{API}users", **admin.headers()).status_code == 200


def test_a_users_linked_accounts_are_listed_in_the_body_of_their_own_call(sign_in: Any, target: Any) -> None:
    from django.utils import timezone

    from django_dualauth.models import LinkedAccount

    LinkedAccount.objects.create(user=target, provider="google", provider_account_id="1234", email=target.email,
                                 linked_at=timezone.now())
    viewer = sign_in("staff-view")
    LinkedAccount.objects.create(user=viewer.member, provider="google", provider_account_id="99", email="s@x.io",
                                 linked_at=timezone.now())
    body = viewer.get(f"{API}users/{target.pk}/linked-accounts").json()
    assert [(a["provider"], a["providerAccountId"], a["email"]) for a in body["linkedAccounts"]] == [
        ("google", "1234", target.email)]
    assert set(body["linkedAccounts"][0]) == {"provider", "providerAccountId", "email", "linkedAt"}
    assert viewer.get(f"{API}users/0/linked-accounts").status_code == 404
