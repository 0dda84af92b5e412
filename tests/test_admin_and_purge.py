"""Session admin and the ``dualauth_purge`` command.

SES-04 (admin revocation through the service layer: ``session_revoked`` fires with
``revoked_by``, the session's refresh and access tokens stop working, non-staff and view-only
staff cannot revoke, listings never show a token digest: RT-01 storage hygiene), plus the
purge of expired and long-revoked sessions (RT-02 reuse detection survives a purge).
"""

from __future__ import annotations

from datetime import timedelta
from io import StringIO
from typing import Any

import pytest
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.contrib.auth.models import Permission
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import path
from django.utils import timezone
from freezegun import freeze_time

from django_dualauth.admin import AuthSessionAdmin, RevokeSessionsUserAdminMixin
from django_dualauth.conf import dualauth_settings
from django_dualauth.exceptions import SessionRevoked
from django_dualauth.models import AuthSession, RotatedRefreshToken
from django_dualauth.services import issue_session, revoke_session, rotate_refresh_token
from django_dualauth.signals import session_revoked
from django_dualauth.types import ClientInfo

pytestmark = pytest.mark.django_db

CHANGELIST = "/admin/dualauth/authsession/"
IPHONE = ClientInfo(ip_address="203.0.113.7", user_agent="Mozilla/5.0 (iPhone; CPU iPhone OS 17_0) Safari")
LAPTOP = ClientInfo(ip_address="198.51.100.23", user_agent="Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0")


# A project's user admin with the mixin, on its own site, so the global registry stays untouched.
mixin_site = admin.AdminSite(name="mixin_admin")


class ProjectUserAdmin(RevokeSessionsUserAdminMixin, UserAdmin):
    pass


mixin_site.register(get_user_model(), ProjectUserAdmin)
mixin_site.register(AuthSession, AuthSessionAdmin)
urlpatterns = [path("admin/", admin.site.urls), path("mixin-admin/", mixin_site.urls)]


@pytest.fixture
def revoked_events() -> Any:
    events: list[dict[str, Any]] = []

    def receiver(sender: Any, **kwargs: Any) -> None:
        session = kwargs["session"]
        kwargs["session_pk"] = session.pk  # the admin delete clears the instance's pk afterwards
        # Sent after the change is durable, and before any admin delete of the row.
        kwargs["row_revoked_at_send"] = (AuthSession.objects.filter(pk=session.pk)
                                         .values_list("revoked_at", flat=True).first())
        events.append(kwargs)

    session_revoked.connect(receiver, weak=False, dispatch_uid="test_admin_revoked")
    yield events
    session_revoked.disconnect(dispatch_uid="test_admin_revoked")


def issue(user: Any, client: ClientInfo = IPHONE, delivery: str = "bearer") -> tuple[AuthSession, str]:
    tokens = issue_session(user, delivery=delivery, client=client)
    return AuthSession.objects.get(pk=tokens.session_id), tokens.refresh_token


def results(response: Any) -> set[Any]:
    assert response.status_code == 200, response.content[:500]
    return {s.pk for s in response.context["cl"].result_list}


@pytest.fixture
def alice(user_factory: Any) -> Any:
    return user_factory(email="alice@example.com")


@pytest.fixture
def bob(user_factory: Any) -> Any:
    return user_factory(email="bob@example.com")


def staff(user_factory: Any, email: str, *perms: str) -> Any:
    member = user_factory(email=email, is_staff=True)
    member.user_permissions.set(Permission.objects.filter(codename__in=perms))
    return get_user_model().objects.get(pk=member.pk)  # drop the permission cache


# --- the session list -------------------------------------------------------------------

def test_changelist_lists_sessions_with_device_ip_times_and_state(admin_client, alice, bob):
    active, _ = issue(alice, IPHONE)
    revoked, _ = issue(bob, LAPTOP)
    revoke_session(revoked, reason="logout")
    response = admin_client.get(CHANGELIST)
    assert results(response) == {active.pk, revoked.pk}
    html = response.content.decode()
    for text in ("alice@example.com", "bob@example.com", "203.0.113.7", "198.51.100.23",
                 "Mozilla/5.0 (iPhone", "revoked (logout)", "active"):
        assert text in html, text
    headers = [h["text"] for h in response.context["result_headers"]]
    for column in ("device", "state", "created at", "last used at", "expires at"):
        assert any(column in str(h).lower() for h in headers), (column, headers)


def test_search_by_user_email(admin_client, alice, bob):
    a1, _ = issue(alice, IPHONE)
    a2, _ = issue(alice, LAPTOP)
    issue(bob, IPHONE)
    assert results(admin_client.get(CHANGELIST, {"q": "alice@example.com"})) == {a1.pk, a2.pk}
    assert results(admin_client.get(CHANGELIST, {"q": "nobody@example.com"})) == set()


def test_search_by_ip_and_user_agent(admin_client, alice, bob):
    phone, _ = issue(alice, IPHONE)
    laptop, _ = issue(bob, LAPTOP)
    assert results(admin_client.get(CHANGELIST, {"q": "198.51.100.23"})) == {laptop.pk}
    assert results(admin_client.get(CHANGELIST, {"q": "203.0.113"})) == {phone.pk}
    assert results(admin_client.get(CHANGELIST, {"q": "Firefox"})) == {laptop.pk}


def test_search_by_session_id(admin_client, alice):
    target, _ = issue(alice)
    issue(alice)
    assert results(admin_client.get(CHANGELIST, {"q": str(target.pk)})) == {target.pk}


def test_search_by_digest_finds_nothing(admin_client, alice):
    """The admin is no oracle for token digests (nor for raw tokens)."""
    session, raw = issue(alice)
    assert results(admin_client.get(CHANGELIST, {"q": session.refresh_digest})) == set()
    assert results(admin_client.get(CHANGELIST, {"q": raw})) == set()


def test_filter_by_state(admin_client, alice):
    now = timezone.now()
    active, _ = issue(alice, IPHONE)
    revoked, _ = issue(alice, LAPTOP)
    revoke_session(revoked, reason="admin")
    idle, _ = issue(alice, IPHONE)
    AuthSession.objects.filter(pk=idle.pk).update(expires_at=now - timedelta(minutes=1))
    capped, _ = issue(alice, IPHONE)  # past its absolute lifetime
    AuthSession.objects.filter(pk=capped.pk).update(absolute_expires_at=now - timedelta(minutes=1))
    assert results(admin_client.get(CHANGELIST, {"state": "active"})) == {active.pk}
    assert results(admin_client.get(CHANGELIST, {"state": "revoked"})) == {revoked.pk}
    assert results(admin_client.get(CHANGELIST, {"state": "expired"})) == {idle.pk, capped.pk}
    assert results(admin_client.get(CHANGELIST)) == {active.pk, revoked.pk, idle.pk, capped.pk}
    assert "expired" in admin_client.get(CHANGELIST, {"state": "expired"}).content.decode()


def test_filter_by_delivery_and_reason(admin_client, alice):
    web, _ = issue(alice, delivery="cookie")
    app, _ = issue(alice, delivery="bearer")
    revoke_session(app, reason="reuse_detected")
    assert results(admin_client.get(CHANGELIST, {"delivery__exact": "cookie"})) == {web.pk}
    assert results(admin_client.get(CHANGELIST, {"revoked_reason__exact": "reuse_detected"})) == {app.pk}


# --- revoking -----------------------------------------------------------------------------

def test_revoke_action_goes_through_the_service(admin_client, admin_user, alice, bob, revoked_events):
    a1, raw1 = issue(alice)
    a2, _ = issue(alice)
    untouched, _ = issue(bob)
    response = admin_client.post(CHANGELIST, {"action": "revoke_selected",
                                              "_selected_action": [str(a1.pk), str(a2.pk)]}, follow=True)
    assert response.status_code == 200
    assert "2 session(s) revoked." in response.content.decode()
    assert {e["session"].pk for e in revoked_events} == {a1.pk, a2.pk}
    for event in revoked_events:
        assert event["reason"] == "admin"
        assert event["revoked_by"] == admin_user
        assert event["user"] == alice
        assert event["row_revoked_at_send"] is not None
    assert set(AuthSession.objects.filter(revoked_at__isnull=False).values_list("pk", flat=True)) == {a1.pk, a2.pk}
    assert AuthSession.objects.get(pk=untouched.pk).revoked_at is None
    with pytest.raises(SessionRevoked):
        rotate_refresh_token(raw1, presented_via="bearer", client=IPHONE)


def test_revoke_action_is_idempotent(admin_client, alice, revoked_events):
    session, _ = issue(alice)
    revoke_session(session, reason="logout")
    revoked_events.clear()
    admin_client.post(CHANGELIST, {"action": "revoke_selected", "_selected_action": [str(session.pk)]})
    assert revoked_events == []
    session.refresh_from_db()
    assert session.revoked_reason == "logout"  # the first reason is kept


def test_admin_revocation_stops_the_clients_tokens(auth_client, admin_client, user):
    """SES-04 over HTTP for both deliveries: refresh and access are refused after the action."""
    assert auth_client.login().status_code == 200
    session = AuthSession.objects.get(user=user)
    admin_client.post(CHANGELIST, {"action": "revoke_selected", "_selected_action": [str(session.pk)]})
    assert auth_client.me().status_code == 401
    assert auth_client.refresh().status_code == 401


def test_view_only_staff_cannot_revoke(client, user_factory, alice, revoked_events):
    session, _ = issue(alice)
    viewer = staff(user_factory, "viewer@example.com", "view_authsession")
    client.force_login(viewer)
    response = client.get(CHANGELIST)
    assert response.status_code == 200
    form = response.context["action_form"]
    assert form is None or "revoke_selected" not in [name for name, _ in form.fields["action"].choices]
    client.post(CHANGELIST, {"action": "revoke_selected", "_selected_action": [str(session.pk)]})
    assert revoked_events == []
    assert AuthSession.objects.get(pk=session.pk).revoked_at is None


def test_non_staff_is_sent_to_the_login_page(client, alice):
    session, _ = issue(alice)
    client.force_login(alice)
    assert client.get(CHANGELIST).status_code == 302
    response = client.post(CHANGELIST, {"action": "revoke_selected", "_selected_action": [str(session.pk)]})
    assert response.status_code == 302 and "/login/" in response["Location"]
    assert AuthSession.objects.get(pk=session.pk).revoked_at is None


def test_delete_revokes_first(admin_client, admin_user, alice, revoked_events):
    session, _ = issue(alice)
    url = f"{CHANGELIST}{session.pk}/delete/"
    assert admin_client.get(url).status_code == 200
    response = admin_client.post(url, {"post": "yes"})
    assert response.status_code == 302
    assert not AuthSession.objects.filter(pk=session.pk).exists()
    [event] = revoked_events
    assert event["session_pk"] == session.pk
    assert event["reason"] == "admin" and event["revoked_by"] == admin_user
    assert event["row_revoked_at_send"] is not None  # revoked while the row still existed


def test_bulk_delete_revokes_each(admin_client, admin_user, alice, bob, revoked_events):
    s1, _ = issue(alice)
    s2, _ = issue(bob)
    already, _ = issue(bob)
    revoke_session(already, reason="logout")
    revoked_events.clear()
    response = admin_client.post(CHANGELIST, {"action": "delete_selected", "post": "yes",
                                              "_selected_action": [str(s1.pk), str(s2.pk), str(already.pk)]})
    assert response.status_code == 302
    assert not AuthSession.objects.exists()
    assert {e["session_pk"] for e in revoked_events} == {s1.pk, s2.pk}
    assert all(e["revoked_by"] == admin_user and e["reason"] == "admin" for e in revoked_events)


def test_deleted_session_is_refused_in_cache_mode(auth_client, admin_client, user, settings):
    """The zero-query mode learns of an admin delete too (revocation marker)."""
    settings.DUALAUTH_REVOCATION_CHECK = "cache"
    assert auth_client.login().status_code == 200
    assert auth_client.me().status_code == 200
    session = AuthSession.objects.get(user=user)
    admin_client.post(f"{CHANGELIST}{session.pk}/delete/", {"post": "yes"})
    assert auth_client.me().status_code == 401


def test_no_add_permission(admin_client):
    assert admin_client.get(f"{CHANGELIST}add/").status_code == 403
    response = admin_client.get(CHANGELIST)
    assert response.context["has_add_permission"] is False
    assert f"{CHANGELIST}add/" not in response.content.decode()


def test_change_page_is_read_only(admin_client, alice):
    session, _ = issue(alice)
    url = f"{CHANGELIST}{session.pk}/change/"
    before = AuthSession.objects.filter(pk=session.pk).values().get()
    admin_client.post(url, {"revoked_at_0": "2000-01-01", "revoked_at_1": "00:00:00", "delivery": "cookie",
                            "ip_address": "192.0.2.1", "refresh_digest": "0" * 64, "generation": 99})
    assert AuthSession.objects.filter(pk=session.pk).values().get() == before


# --- no digest anywhere ---------------------------------------------------------------------

def test_no_digest_on_any_admin_page(admin_client, alice):
    session, raw = issue(alice)
    rotated = rotate_refresh_token(raw, presented_via="bearer", client=IPHONE)
    session.refresh_from_db()
    spent = RotatedRefreshToken.objects.get(session=session)
    secrets = {session.refresh_digest, spent.digest, raw, rotated.refresh_token, rotated.access_token}
    pages = [
        CHANGELIST,
        f"{CHANGELIST}?q=alice",
        f"{CHANGELIST}{session.pk}/change/",
        f"{CHANGELIST}{session.pk}/history/",
        f"{CHANGELIST}{session.pk}/delete/",
        f"/admin/auth/user/{alice.pk}/change/",
        "/admin/",
    ]
    for url in pages:
        response = admin_client.get(url)
        assert response.status_code == 200, url
        html = response.content.decode()
        for secret in secrets:
            assert secret not in html, url
    assert "refresh_digest" not in admin_client.get(f"{CHANGELIST}{session.pk}/change/").content.decode()


@pytest.mark.urls(__name__)
def test_no_digest_on_the_mixin_user_pages(admin_client, alice):
    session, raw = issue(alice, IPHONE)
    rotate_refresh_token(raw, presented_via="bearer", client=LAPTOP)
    session.refresh_from_db()
    secrets = {session.refresh_digest, RotatedRefreshToken.objects.get().digest, raw}
    for url in (f"/mixin-admin/auth/user/{alice.pk}/change/", "/mixin-admin/auth/user/",
                f"/mixin-admin/dualauth/authsession/{session.pk}/change/"):
        response = admin_client.get(url)
        assert response.status_code == 200, url
        for secret in secrets:
            assert secret not in response.content.decode(), url


# --- the user admin mixin -------------------------------------------------------------------

@pytest.mark.urls(__name__)
def test_user_admin_mixin_revoke_all_sessions(admin_client, admin_user, alice, bob, revoked_events):
    a1, raw1 = issue(alice, IPHONE)
    a2, _ = issue(alice, LAPTOP)
    b1, _ = issue(bob)
    response = admin_client.post("/mixin-admin/auth/user/", {
        "action": "revoke_all_user_sessions", "_selected_action": [str(alice.pk)]}, follow=True)
    assert response.status_code == 200
    assert "2 session(s) revoked." in response.content.decode()
    assert {e["session"].pk for e in revoked_events} == {a1.pk, a2.pk}
    assert all(e["revoked_by"] == admin_user and e["reason"] == "admin" and e["user"] == alice
               and e["row_revoked_at_send"] is not None for e in revoked_events)
    assert AuthSession.objects.get(pk=b1.pk).revoked_at is None
    with pytest.raises(SessionRevoked):
        rotate_refresh_token(raw1, presented_via="bearer", client=IPHONE)


@pytest.mark.urls(__name__)
def test_user_admin_mixin_shows_sessions_inline(admin_client, alice):
    issue(alice, IPHONE)
    html = admin_client.get(f"/mixin-admin/auth/user/{alice.pk}/change/").content.decode()
    assert "203.0.113.7" in html and "Mozilla/5.0 (iPhone" in html
    add = admin_client.get("/mixin-admin/auth/user/add/")
    assert add.status_code == 200  # no inline on the add page


@pytest.mark.urls(__name__)
def test_user_admin_mixin_action_needs_change_permission(client, user_factory, alice, revoked_events):
    issue(alice)
    viewer = staff(user_factory, "viewer@example.com", "view_user", "view_authsession")
    client.force_login(viewer)
    response = client.get("/mixin-admin/auth/user/")
    assert response.status_code == 200
    assert "revoke_all_user_sessions" not in response.content.decode()
    client.post("/mixin-admin/auth/user/", {"action": "revoke_all_user_sessions",
                                            "_selected_action": [str(alice.pk)]})
    assert revoked_events == []
    assert AuthSession.objects.filter(revoked_at__isnull=True).count() == 1


# --- dualauth_purge -------------------------------------------------------------------------

def purge(*args: str) -> str:
    out = StringIO()
    call_command("dualauth_purge", *args, stdout=out)
    return out.getvalue()


@pytest.fixture
def population(alice: Any) -> dict[str, list[Any]]:
    """Live, idle-expired, absolute-expired, recently revoked and long-revoked sessions, each
    with a spent refresh token (a RotatedRefreshToken row)."""
    now = timezone.now()
    groups: dict[str, list[Any]] = {"live": [], "expired": [], "capped": [], "recent": [], "old": []}
    for name, count in (("live", 2), ("expired", 2), ("capped", 1), ("recent", 2), ("old", 2)):
        for _ in range(count):
            session, raw = issue(alice)
            rotate_refresh_token(raw, presented_via="bearer", client=IPHONE)
            groups[name].append(session.pk)
    AuthSession.objects.filter(pk__in=groups["expired"]).update(expires_at=now - timedelta(seconds=1),
                                                                last_used_at=now - timedelta(days=7))
    AuthSession.objects.filter(pk__in=groups["capped"]).update(absolute_expires_at=now - timedelta(seconds=1))
    AuthSession.objects.filter(pk__in=groups["recent"]).update(revoked_at=now - timedelta(days=6),
                                                               revoked_reason="logout")
    AuthSession.objects.filter(pk__in=groups["old"]).update(revoked_at=now - timedelta(days=8),
                                                            revoked_reason="logout")
    assert RotatedRefreshToken.objects.count() == 9
    return groups


def remaining() -> set[Any]:
    return set(AuthSession.objects.values_list("pk", flat=True))


def test_purge_deletes_expired_and_old_revoked_with_their_spent_tokens(population):
    output = purge()
    kept = set(population["live"]) | set(population["recent"])
    assert remaining() == kept
    assert set(RotatedRefreshToken.objects.values_list("session_id", flat=True)) == kept
    assert RotatedRefreshToken.objects.count() == 4
    assert "5 session(s) deleted" in output


def test_purge_revoked_days(population):
    purge("--revoked-days", "30")
    assert remaining() == set(population["live"]) | set(population["recent"]) | set(population["old"])
    purge("--revoked-days", "0")
    assert remaining() == set(population["live"])


def test_purge_dry_run_deletes_nothing(population):
    before = remaining()
    output = purge("--dry-run")
    assert "5 session(s) would be deleted" in output
    assert remaining() == before
    assert RotatedRefreshToken.objects.count() == 9


def _session_pages(queries: list[dict[str, Any]]) -> list[str]:
    return [q["sql"] for q in queries if q["sql"].startswith('SELECT "dualauth_authsession"."id"')]


def test_purge_works_in_batches(population, monkeypatch):
    """Keyset pages by primary key, each at most --batch-size sessions: no OFFSET, no page
    that reads the whole table, a pause between batches."""
    from django_dualauth.management.commands import dualauth_purge

    pauses: list[float] = []
    monkeypatch.setattr(dualauth_purge.time, "sleep", pauses.append)
    with CaptureQueriesContext(connection) as ctx:
        output = purge("--batch-size", "2", "--sleep", "0.01")
    pages = _session_pages(ctx.captured_queries)
    assert len(pages) == 5  # 9 sessions: 2 + 2 + 2 + 2 + 1
    assert all("LIMIT 2" in sql and "OFFSET" not in sql for sql in pages), pages
    assert all('"dualauth_authsession"."id" >' in sql for sql in pages[1:]), pages  # after the last key
    deletes = [q["sql"] for q in ctx.captured_queries if q["sql"].startswith('DELETE FROM "dualauth_authsession"')]
    assert 1 <= len(deletes) <= 5
    assert all(len(sql.split(" IN (", 1)[1].split(")", 1)[0].split(",")) <= 2 for sql in deletes), deletes
    assert "5 session(s) deleted" in output and "5 spent refresh token(s) deleted" in output
    assert pauses == [0.01] * 4  # between batches, not after the last
    assert remaining() == set(population["live"]) | set(population["recent"])


def test_purge_reads_a_bounded_number_of_rows_per_statement(population, alice):
    """However many sessions a batch deletes, it loads none of them as models and sends no
    per-row signal: one page, spent-token deletes, one session DELETE."""
    for _ in range(20):
        session, raw = issue(alice)
        AuthSession.objects.filter(pk=session.pk).update(absolute_expires_at=timezone.now() - timedelta(seconds=1))
    deleted: list[Any] = []

    def receiver(sender: Any, **kwargs: Any) -> None:
        deleted.append(kwargs["instance"].pk)

    from django.db.models.signals import post_delete
    post_delete.connect(receiver, sender=AuthSession)
    try:
        with CaptureQueriesContext(connection) as ctx:
            output = purge()
    finally:
        post_delete.disconnect(receiver, sender=AuthSession)
    assert "25 session(s) deleted" in output
    assert deleted == []  # no model instance was loaded to be deleted
    session_statements = [q["sql"] for q in ctx.captured_queries if "dualauth_authsession" in q["sql"]]
    assert len(session_statements) == 2, session_statements  # one page, one DELETE
    assert remaining() == set(population["live"]) | set(population["recent"])


def test_purge_keeps_a_session_that_stopped_being_purgeable(population, monkeypatch):
    """The DELETE re-checks the expiries: a row is deleted only if it is purgeable then."""
    from django_dualauth.management.commands import dualauth_purge

    real = dualauth_purge.Command._delete_spent
    saved = population["expired"][0]

    def extend_then_delete(self: Any, ids: list[Any]) -> int:
        AuthSession.objects.filter(pk=saved).update(expires_at=timezone.now() + timedelta(days=1))
        return real(self, [pk for pk in ids if pk != saved])

    monkeypatch.setattr(dualauth_purge.Command, "_delete_spent", extend_then_delete)
    output = purge()
    assert "4 session(s) deleted" in output
    assert saved in remaining()


def test_purge_progress_per_batch_with_verbosity_2(population, monkeypatch):
    from django_dualauth.management.commands import dualauth_purge

    pauses: list[float] = []
    monkeypatch.setattr(dualauth_purge.time, "sleep", pauses.append)
    output = purge("--batch-size", "4", "-v", "2")
    assert pauses == [dualauth_purge.DEFAULT_PAUSE] * 2 and dualauth_purge.DEFAULT_PAUSE > 0  # by default
    lines = [line.strip() for line in output.splitlines()]
    batches = [line for line in lines if line.startswith("sessions: batch")]
    assert batches[0].startswith("sessions: batch 1: examined 4, deleted ")
    assert [line.split(":")[1].strip() for line in batches] == ["batch 1", "batch 2", "batch 3"]
    deleted = sum(int(line.split("deleted ")[1].split(" ")[0]) for line in batches)
    assert deleted == 5
    assert "9 session(s) examined in 3 batch(es); done in " in output
    assert output.rstrip().endswith(" s")


def test_purge_prints_totals_and_duration_but_no_batches_by_default(population):
    output = purge()
    assert "sessions: batch" not in output
    assert "5 session(s) deleted" in output and "5 spent refresh token(s) deleted" in output
    assert "9 session(s) examined in 1 batch(es); done in " in output


def test_purge_is_silent_with_verbosity_0(population):
    assert purge("-v", "0") == ""
    assert remaining() == set(population["live"]) | set(population["recent"])


def test_purge_help_describes_every_option():
    from django_dualauth.management.commands.dualauth_purge import Command

    text = " ".join(Command().create_parser("manage.py", "dualauth_purge").format_help().split())
    for option, words in (("--revoked-days DAYS", "keep revoked sessions this many days"),
                          ("--batch-size N", "sessions examined per batch"),
                          ("--sleep SECONDS", "pause between batches"),
                          ("--dry-run", "print how many rows of each kind would be deleted")):
        assert f"{option} {words}" in text, option
    assert "-v 2 also prints every batch" in text


@pytest.mark.parametrize("args", [("--batch-size", "0"), ("--revoked-days", "-1"), ("--sleep", "-1")])
def test_purge_refuses_nonsense_options(population, args):
    with pytest.raises(CommandError):
        purge(*args)
    assert len(remaining()) == 9


def test_purge_with_nothing_to_do(alice):
    live, _ = issue(alice)
    assert "0 session(s) deleted" in purge()
    assert remaining() == {live.pk}


def test_reuse_detection_survives_a_purge(population, alice):
    """The spent tokens of live sessions are kept: a replay after a purge is still reuse (RT-02)."""
    session, raw = issue(alice)
    rotate_refresh_token(raw, presented_via="bearer", client=IPHONE)
    purge("--revoked-days", "0")
    with freeze_time(timezone.now() + dualauth_settings.REFRESH_REUSE_GRACE + timedelta(seconds=1)):
        with pytest.raises(SessionRevoked):
            rotate_refresh_token(raw, presented_via="bearer", client=IPHONE)
    assert AuthSession.objects.get(pk=session.pk).revoked_reason == "reuse_detected"


def test_purge_waits_for_the_last_access_token_of_an_unrevoked_session(auth_client, user, settings):
    """An idle lifetime shorter than the access lifetime leaves a live access token on an
    expired session. The purge keeps that session until the token is dead: deleting it would
    send no revocation marker, and cache mode would go on accepting the token."""
    settings.DUALAUTH_REVOCATION_CHECK = "cache"
    settings.DUALAUTH_REFRESH_TOKEN_IDLE_LIFETIME = timedelta(minutes=1)
    settings.DUALAUTH_ACCESS_TOKEN_LIFETIME = timedelta(minutes=15)
    with freeze_time("2030-01-01 12:00:00") as clock:
        assert auth_client.login().status_code == 200
        clock.tick(timedelta(minutes=2))  # the session is idle-expired, its access token is not
        assert "0 session(s) deleted" in purge()
        assert auth_client.get("/api/whoami").status_code == 200  # as before the purge
        clock.tick(timedelta(minutes=14))
        assert auth_client.get("/api/whoami").status_code == 401
        assert "1 session(s) deleted" in purge()
    assert remaining() == set()
