"""Session termination and account state (security catalogue group H), under both deliveries
and both ``DUALAUTH_REVOCATION_CHECK`` modes ("database" and "cache"; on Redis also "cache"
with ``DUALAUTH_REVOCATION_PUSH``).

Covers SES-01 (logout revokes the session server-side whether it is identified by the Bearer
access token, the body ``refreshToken`` or the cookies; its access tokens are refused on the
next request; cookies are cleared; always 200 ``{"success": true}``; cookie logout is
CSRF-checked), SES-02 (logout-all revokes every session of the user and no other user's),
SES-04 (admin revocation through the services and the admin action takes effect on the next
request; non-staff cannot; listings show no token), SES-05 (deactivated user: sessions revoked,
next request refused at once, login refused with the invalid-credentials body), SES-06 (deleted
user: 401, never 404/500) and SES-07 (expiry enforced by server-side timestamps).

SES-03 (a password change or reset revokes the other families) is tested with those
endpoints: tests/test_account.py (change-password) and tests/test_email_flows.py (reset).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from freezegun import freeze_time

from django_dualauth.crypto import new_secret
from django_dualauth.delivery import access_cookie_name, refresh_cookie_name
from django_dualauth.models import AuthSession
from django_dualauth.models.sessions import RevocationReason
from django_dualauth.services import revoke_all_sessions, revoke_session, revoke_session_by_id

pytestmark = [pytest.mark.django_db, pytest.mark.both_backends]

WHOAMI = "/api/whoami"  # the protected project view of tests/urls.py

T0 = "2030-01-01 12:00:00"
OTHER_EMAIL = "bob@example.com"


# --- helpers ------------------------------------------------------------------------------

def assert_error(response: Any, status: int, code: str | tuple[str, ...]) -> None:
    assert response.status_code == status, response.content
    body = response.json()
    codes = (code,) if isinstance(code, str) else code
    assert body["code"] in codes, body


def assert_success(response: Any) -> None:
    assert response.status_code == 200, response.content
    assert response.json() == {"success": True}
    assert response["Cache-Control"] == "no-store"


def assert_cookies_cleared(response: Any) -> None:
    for name in (access_cookie_name(), refresh_cookie_name()):
        morsel = response.cookies[name]
        assert morsel.value == ""
        assert morsel["max-age"] == 0
        assert "1970" in morsel["expires"]
        assert morsel["path"] == "/" and morsel["secure"] and morsel["httponly"]
        assert morsel["samesite"] == "Lax"


def assert_no_token_cookies_touched(response: Any) -> None:
    assert access_cookie_name() not in response.cookies
    assert refresh_cookie_name() not in response.cookies


def assert_session_dead(ac: Any, access: str, refresh: str) -> None:
    """The session's access token and refresh token are both refused on the next request."""
    if ac.is_cookie:
        ac.client.cookies[access_cookie_name()] = access
    else:
        ac.access_token = access
    assert_error(ac.get(WHOAMI), 401, "SESSION_REVOKED")
    assert_error(ac.present_refresh(refresh), 401, "SESSION_REVOKED")


@pytest.fixture
def logged_in(auth_client: Any, user: Any) -> Any:
    response = auth_client.login()
    assert response.status_code == 200, response.content
    return auth_client


# --- SES-01: logout ---------------------------------------------------------------------------

@pytest.mark.parametrize("identified_by", ["access", "refresh", "both"])
def test_logout_revokes_the_session_server_side(logged_in, revocation_check, identified_by,
                                                revoked_events):
    """Bearer: Authorization header / body refreshToken. Cookie: access / refresh cookie."""
    ac = logged_in
    access, refresh = ac.access_token, ac.refresh_token
    assert ac.get(WHOAMI).status_code == 200
    if ac.is_cookie:
        if identified_by == "access":
            ac.client.cookies.pop(refresh_cookie_name())
        elif identified_by == "refresh":
            ac.client.cookies.pop(access_cookie_name())
        response = ac.post("/auth/logout")
    else:
        headers = {"HTTP_X_AUTH_STRATEGY": "bearer"}
        if identified_by in ("access", "both"):
            headers["HTTP_AUTHORIZATION"] = f"Bearer {access}"
        body = {"refreshToken": refresh} if identified_by in ("refresh", "both") else {}
        response = ac.client.post("/auth/logout", body, format="json", **headers)

    assert_success(response)
    if ac.is_cookie:
        assert_cookies_cleared(response)
    else:
        assert_no_token_cookies_touched(response)
    session = AuthSession.objects.get()
    assert session.revoked_at is not None and session.revoked_reason == RevocationReason.LOGOUT
    assert [e["reason"] for e in revoked_events] == [RevocationReason.LOGOUT]
    assert_session_dead(ac, access, refresh)


def test_logout_by_an_already_rotated_refresh_token_still_ends_the_session(logged_in):
    ac = logged_in
    spent = ac.refresh_token
    assert ac.refresh().status_code == 200
    access, current = ac.access_token, ac.refresh_token
    if ac.is_cookie:
        ac.client.cookies.pop(access_cookie_name())
        ac.client.cookies[refresh_cookie_name()] = spent
        response = ac.post("/auth/logout")
    else:
        response = ac.client.post("/auth/logout", {"refreshToken": spent}, format="json",
                                  HTTP_X_AUTH_STRATEGY="bearer")
    assert_success(response)
    assert AuthSession.objects.get().revoked_reason == RevocationReason.LOGOUT
    assert_session_dead(ac, access, current)


def test_logout_with_an_expired_access_token_still_ends_the_session(logged_in):
    """An expired but authentic access token still names its session (docs/endpoints.md)."""
    ac = logged_in
    refresh = ac.refresh_token
    if ac.is_cookie:
        ac.client.cookies.pop(refresh_cookie_name())
    with freeze_time(AuthSession.objects.get().created_at + timedelta(hours=1)):
        assert_error(ac.get(WHOAMI), 401, "INVALID_ACCESS_TOKEN")  # expired
        assert_success(ac.post("/auth/logout"))
    assert AuthSession.objects.get().revoked_reason == RevocationReason.LOGOUT
    assert_error(ac.present_refresh(refresh), 401, "SESSION_REVOKED")


def test_bearer_access_token_wins_over_a_body_refresh_token(client_factory, user, user_factory):
    """The first credential present identifies the session; the others are not touched."""
    phone = client_factory("bearer")
    phone.login()
    user_factory(email=OTHER_EMAIL)
    other = client_factory("bearer")
    other.login(email=OTHER_EMAIL)
    response = phone.client.post("/auth/logout", {"refreshToken": other.refresh_token}, format="json",
                                 HTTP_X_AUTH_STRATEGY="bearer",
                                 HTTP_AUTHORIZATION=f"Bearer {phone.access_token}")
    assert_success(response)
    assert AuthSession.objects.get(user=user).revoked_at is not None
    assert AuthSession.objects.get(user__email=OTHER_EMAIL).revoked_at is None
    assert other.get(WHOAMI).status_code == 200


def test_logout_is_idempotent(logged_in, revoked_events):
    ac = logged_in
    access, refresh = ac.access_token, ac.refresh_token
    assert_success(ac.logout())
    # Replay the same credentials: still 200, nothing more happens.
    if ac.is_cookie:
        ac.client.cookies[access_cookie_name()] = access
        ac.client.cookies[refresh_cookie_name()] = refresh
    else:
        ac.access_token, ac.refresh_token = access, refresh
    second = ac.post("/auth/logout", {} if ac.is_cookie else {"refreshToken": refresh})
    assert_success(second)
    assert len(revoked_events) == 1


@pytest.mark.parametrize("case", ["nothing", "garbage_bearer", "other_scheme", "unknown_refresh",
                                  "garbage_refresh", "forged_jwt"])
def test_logout_always_answers_200_success(auth_client, user, case):
    """Logout never fails on a missing or bad credential, and never touches a live session."""
    owner = type(auth_client)("bearer")
    owner.login()
    extra: dict[str, Any] = {}
    body: dict[str, Any] = {}
    if case == "garbage_bearer":
        extra["HTTP_AUTHORIZATION"] = "Bearer not a token"
    elif case == "other_scheme":
        extra["HTTP_AUTHORIZATION"] = "Basic YWxpY2U6cHc="
    elif case == "forged_jwt":
        header, payload, _ = owner.access_token.split(".")
        extra["HTTP_AUTHORIZATION"] = f"Bearer {header}.{payload}.{'A' * 43}"
    elif auth_client.is_cookie and case in ("unknown_refresh", "garbage_refresh"):
        auth_client.client.cookies[refresh_cookie_name()] = (new_secret() if case == "unknown_refresh"
                                                             else "x y z")
    elif case == "unknown_refresh":
        body["refreshToken"] = new_secret()
    elif case == "garbage_refresh":
        body["refreshToken"] = 12345
    response = auth_client.post("/auth/logout", body, **extra)
    assert_success(response)
    assert AuthSession.objects.get().revoked_at is None
    assert owner.get(WHOAMI).status_code == 200


def test_cookie_logout_without_csrf_revokes_nothing(client_factory, user):
    """Cookie-identified logout is CSRF-checked: a cross-site form cannot log the user out."""
    browser = client_factory("cookie")
    browser.login()
    response = browser.client.post("/auth/logout", {}, format="json",
                                   HTTP_ORIGIN="https://evil.example.net")
    assert_error(response, 403, "CSRF_INVALID")
    assert_no_token_cookies_touched(response)
    assert AuthSession.objects.get().revoked_at is None
    assert browser.get(WHOAMI).status_code == 200


# --- SES-02: logout-all ---------------------------------------------------------------------

def test_logout_all_revokes_every_session_of_the_user(logged_in, client_factory, user, user_factory,
                                                      revocation_check, revoked_events):
    ac = logged_in
    devices = [client_factory("bearer"), client_factory("cookie"), client_factory("bearer")]
    for device in devices:
        assert device.login().status_code == 200
    user_factory(email=OTHER_EMAIL)
    bystander = client_factory("bearer")
    bystander.login(email=OTHER_EMAIL)
    credentials = [(d, d.access_token, d.refresh_token) for d in (ac, *devices)]

    response = ac.logout_all()
    assert response.status_code == 200, response.content
    assert response.json() == {"success": True, "revokedSessions": 4}
    if ac.is_cookie:
        assert_cookies_cleared(response)
    else:
        assert_no_token_cookies_touched(response)
    mine = AuthSession.objects.filter(user=user)
    assert mine.count() == 4
    assert set(mine.values_list("revoked_reason", flat=True)) == {RevocationReason.LOGOUT_ALL}
    assert len(revoked_events) == 4
    for device, access, refresh in credentials:
        assert_session_dead(device, access, refresh)
    # Another user is unaffected.
    assert AuthSession.objects.get(user__email=OTHER_EMAIL).revoked_at is None
    assert bystander.get(WHOAMI).status_code == 200
    assert bystander.refresh().status_code == 200


def test_logout_all_needs_an_access_token(auth_client, user):
    assert_error(auth_client.logout_all(), 401, "NOT_AUTHENTICATED")


def test_logout_all_with_a_revoked_session_is_refused(logged_in, revocation_check):
    ac = logged_in
    access = ac.access_token
    ac.logout()
    if ac.is_cookie:
        ac.client.cookies[access_cookie_name()] = access
    else:
        ac.access_token = access
    assert_error(ac.logout_all(), 401, "SESSION_REVOKED")


# --- SES-04: admin revocation ----------------------------------------------------------------

def test_admin_revocation_of_one_session_takes_effect_on_the_next_request(
        logged_in, client_factory, user, user_factory, revocation_check, revoked_events):
    ac = logged_in
    target = AuthSession.objects.get()
    other_device = client_factory("bearer")
    other_device.login()
    staff = user_factory(email="admin@example.com", is_staff=True)
    assert ac.get(WHOAMI).status_code == 200

    assert revoke_session(target, reason=RevocationReason.ADMIN, revoked_by=staff) is True
    assert revoke_session(target, reason=RevocationReason.ADMIN, revoked_by=staff) is False
    assert revoked_events[0]["revoked_by"] == staff and len(revoked_events) == 1
    assert_session_dead(ac, ac.access_token, ac.refresh_token)
    assert other_device.get(WHOAMI).status_code == 200


def test_admin_revocation_of_all_sessions_of_a_user(logged_in, client_factory, user, revocation_check):
    ac = logged_in
    phone = client_factory("bearer")
    phone.login()
    assert revoke_all_sessions(user, reason=RevocationReason.ADMIN) == 2
    assert_session_dead(ac, ac.access_token, ac.refresh_token)
    assert_session_dead(phone, phone.access_token, phone.refresh_token)


def test_revoke_session_by_id_is_scoped_to_its_owner(logged_in, user, user_factory, revocation_check):
    ac = logged_in
    session = AuthSession.objects.get()
    stranger = user_factory(email=OTHER_EMAIL)
    assert revoke_session_by_id(str(session.pk), user_id=stranger.pk, reason="admin") is False
    assert revoke_session_by_id("not-a-uuid", user_id=user.pk, reason="admin") is False
    assert ac.get(WHOAMI).status_code == 200
    assert revoke_session_by_id(str(session.pk), user_id=user.pk, reason="admin") is True
    assert_session_dead(ac, ac.access_token, ac.refresh_token)


@pytest.mark.parametrize("is_staff", [True, False])
def test_admin_action_revokes_and_non_staff_cannot(logged_in, user_factory, revocation_check, is_staff):
    ac = logged_in
    session = AuthSession.objects.get()
    operator = user_factory(email="ops@example.com", is_staff=is_staff, is_superuser=is_staff)
    admin = Client()
    admin.force_login(operator)
    listing = admin.get("/admin/dualauth/authsession/")
    detail = admin.get(f"/admin/dualauth/authsession/{session.pk}/change/")
    response = admin.post("/admin/dualauth/authsession/",
                          {"action": "revoke_selected", "_selected_action": [str(session.pk)]})
    session.refresh_from_db()
    if is_staff:
        assert listing.status_code == 200 and detail.status_code == 200
        for page in (listing, detail):
            html = page.content.decode()
            assert session.refresh_digest not in html and ac.refresh_token not in html
        assert response.status_code == 302
        assert session.revoked_reason == RevocationReason.ADMIN
        assert_session_dead(ac, ac.access_token, ac.refresh_token)
    else:
        assert listing.status_code == 302 and response.status_code == 302  # to the admin login
        assert session.revoked_at is None
        assert ac.get(WHOAMI).status_code == 200


# --- SES-05 / SES-06: account state ---------------------------------------------------------

def test_deactivating_a_user_refuses_the_next_request_at_once(logged_in, client_factory, user, password,
                                                              revocation_check):
    ac = logged_in
    phone = client_factory("bearer")
    phone.login()
    access, refresh = ac.access_token, ac.refresh_token
    assert ac.get(WHOAMI).status_code == 200

    user.is_active = False
    user.save()

    assert set(AuthSession.objects.values_list("revoked_reason", flat=True)) == {
        RevocationReason.USER_INACTIVE}
    assert_session_dead(ac, access, refresh)
    assert_error(phone.get("/api/whoami"), 401, ("SESSION_REVOKED", "INVALID_ACCESS_TOKEN"))
    assert_error(phone.refresh(), 401, ("SESSION_REVOKED", "INVALID_REFRESH_TOKEN"))
    # The password no longer works, with exactly the body of a wrong password.
    inactive = type(ac)(ac.delivery).login()
    wrong = type(ac)(ac.delivery).login(password="wrong " + password)
    assert inactive.status_code == wrong.status_code == 401
    assert inactive.json() == wrong.json()


def test_user_deactivated_without_signals_is_refused(logged_in, user, settings):
    """``QuerySet.update`` sends no post_save: the database check still refuses the access
    token, and a refresh attempt revokes every session (so cache mode refuses them too)."""
    ac = logged_in
    access, refresh = ac.access_token, ac.refresh_token
    type(user).objects.filter(pk=user.pk).update(is_active=False)
    assert AuthSession.objects.get().revoked_at is None
    assert_error(ac.get(WHOAMI), 401, "INVALID_ACCESS_TOKEN")
    assert_error(ac.present_refresh(refresh), 401, "INVALID_REFRESH_TOKEN")
    assert AuthSession.objects.get().revoked_reason == RevocationReason.USER_INACTIVE
    settings.DUALAUTH_REVOCATION_CHECK = "cache"
    if ac.is_cookie:
        ac.client.cookies[access_cookie_name()] = access
    else:
        ac.access_token = access
    assert_error(ac.get(WHOAMI), 401, "SESSION_REVOKED")


def test_deleted_user_gets_401_never_404_or_500(logged_in, user, revocation_check):
    ac = logged_in
    access, refresh = ac.access_token, ac.refresh_token
    assert ac.refresh().status_code == 200
    spent, refresh = refresh, ac.refresh_token
    access = ac.access_token
    user.delete()
    assert AuthSession.objects.count() == 0
    for response in (ac.get(WHOAMI), ac.me()):
        assert_error(response, 401, ("INVALID_ACCESS_TOKEN", "SESSION_REVOKED"))
        assert "delete" not in response.content.decode().lower()
    for raw in (refresh, spent):
        response = ac.present_refresh(raw)
        assert_error(response, 401, "INVALID_REFRESH_TOKEN")
    if ac.is_cookie:
        ac.client.cookies[access_cookie_name()] = access
    else:
        ac.access_token = access
    assert_success(ac.logout())


# --- SES-07: server-side timeouts ----------------------------------------------------------

def test_expired_access_token_is_refused_whatever_the_client_keeps(logged_in):
    """The access token's ``exp`` (15 minutes by default) decides, not the cookie's lifetime."""
    ac = logged_in
    created = AuthSession.objects.get().created_at
    with freeze_time(created + timedelta(minutes=14, seconds=59)):
        assert ac.get(WHOAMI).status_code == 200
    with freeze_time(created + timedelta(minutes=15, seconds=1)):
        assert_error(ac.get(WHOAMI), 401, "INVALID_ACCESS_TOKEN")
