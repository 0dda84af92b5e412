"""The Django admin's rough edges of issue 20: read-only session pages without Save buttons, who
revoked a session shown, an admin revocation in the History (LogEntry), and a session list that
fits a 1400 px window (its HTML structure here; the browser check is tests/browser.py's, when
that harness is on the branch)."""

from __future__ import annotations

import re
from typing import Any
from unittest import mock

import pytest
from django.contrib import admin
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.auth import get_user_model
from django.test import RequestFactory

from django_dualauth.admin import DEVICE_CHARS, RevokeSessionsUserAdminMixin, revoke_all_user_sessions
from django_dualauth.models import AuthSession
from django_dualauth.services import issue_session
from django_dualauth.signals import staff_action
from django_dualauth.types import ClientInfo
from tests.conftest import capture

pytestmark = pytest.mark.django_db

CHANGELIST = "/admin/dualauth/authsession/"
LONG_UA = "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari"


def issue(user: Any, ua: str = LONG_UA) -> AuthSession:
    tokens = issue_session(user, delivery="bearer", client=ClientInfo(ip_address="203.0.113.7", user_agent=ua))
    return AuthSession.objects.get(pk=tokens.session_id)


@pytest.fixture
def alice(user_factory: Any) -> Any:
    return user_factory(email="alice@example.com")


def test_the_read_only_session_page_has_no_save_buttons(admin_client: Any, alice: Any) -> None:
    html = admin_client.get(f"{CHANGELIST}{issue(alice).pk}/change/").content.decode()
    assert 'name="_save"' not in html and 'name="_continue"' not in html and 'name="_addanother"' not in html
    assert "/delete/" in html  # deleting (which revokes) stays


def test_an_admin_revocation_is_in_the_history_and_shows_who(admin_client: Any, admin_user: Any, alice: Any) -> None:
    session, untouched = issue(alice), issue(alice)
    with_events = capture(staff_action)
    events = next(with_events)
    admin_client.post(CHANGELIST, {"action": "revoke_selected", "_selected_action": [str(session.pk)]})
    [entry] = LogEntry.objects.filter(object_id=str(session.pk))
    assert (entry.user_id, entry.action_flag, entry.change_message) == (admin_user.pk, CHANGE,
                                                                        "Revoked (Django admin).")
    assert not LogEntry.objects.filter(object_id=str(untouched.pk)).exists()
    assert events[0]["action"] == "sessions.revoked" and events[0]["target_ids"] == [str(session.pk)]
    history = admin_client.get(f"{CHANGELIST}{session.pk}/history/").content.decode()
    assert "Revoked (Django admin)." in history
    page = admin_client.get(f"{CHANGELIST}{session.pk}/change/").content.decode()
    assert re.search(r"revoked by.*?" + re.escape(str(admin_user)), page, re.S | re.I)
    # Revoked again: skipped, nothing more recorded.
    admin_client.post(CHANGELIST, {"action": "revoke_selected", "_selected_action": [str(session.pk)]})
    assert LogEntry.objects.filter(object_id=str(session.pk)).count() == 1


def test_an_admin_delete_records_the_revocation(admin_client: Any, admin_user: Any, alice: Any) -> None:
    session = issue(alice)
    admin_client.post(f"{CHANGELIST}{session.pk}/delete/", {"post": "yes"})
    assert not AuthSession.objects.filter(pk=session.pk).exists()
    assert LogEntry.objects.filter(object_id=str(session.pk), change_message="Revoked (Django admin).").exists()


def test_the_user_admin_action_records_each_revoked_session(admin_user: Any, alice: Any) -> None:
    first, second = issue(alice), issue(alice)

    class ProjectUserAdmin(RevokeSessionsUserAdminMixin, admin.ModelAdmin):  # type: ignore[type-arg]
        pass

    request = RequestFactory().post("/")
    request.user = admin_user
    modeladmin = mock.Mock(spec=ProjectUserAdmin)
    revoke_all_user_sessions(modeladmin, request, get_user_model().objects.filter(pk=alice.pk))
    assert {e.object_id for e in LogEntry.objects.filter(user=admin_user)} == {str(first.pk), str(second.pk)}


def test_the_session_list_is_narrow_enough_for_1400_px(admin_client: Any, alice: Any) -> None:
    issue(alice)
    html = admin_client.get(CHANGELIST).content.decode()
    headers = re.findall(r'<th scope="col"[^>]*class="([^"]*)"', html)
    assert len(headers) == 9, headers  # the checkbox and eight columns
    # The device is cut at DEVICE_CHARS with the whole User-Agent as its tooltip; times to the minute.
    assert f'title="{LONG_UA}"' in html and f">{LONG_UA[:DEVICE_CHARS]}…<" in html
    assert f">{LONG_UA}<" not in html
    row = html[html.index('<tbody>'):html.index('</tbody>')]
    assert re.search(r">\d{4}-\d\d-\d\d \d\d:\d\d<", row)
    assert "a.m." not in row and "p.m." not in row
    widest = max(len(re.sub(r"<[^>]+>", "", cell)) for cell in re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", row, re.S))
    assert widest <= DEVICE_CHARS + 1
