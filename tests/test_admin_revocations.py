"""The provider-token revocation queue in the Django admin: operators see what is still to revoke
at Apple (never the token, not even sealed), cannot add or edit it, retry it against the Apple
stand-in on 127.0.0.1 (``tests/social/apple_standin.py``), and give up on one only with the
delete permission, in the History."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.contrib.admin.models import DELETION, LogEntry
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.urls import reverse
from django.utils import timezone

from django_dualauth.crypto import seal_token
from django_dualauth.models import ProviderTokenRevocation
from tests.social.apple_standin import AppleStandIn
from tests.social.helpers import APPLE_BUNDLE, APPLE_SERVICES

pytestmark = pytest.mark.django_db

RAW = "r.apple-refresh-token-0123456789abcdef"
CHANGELIST = "admin:dualauth_providertokenrevocation_changelist"


def url(name: str, *args: Any) -> str:
    return reverse(f"admin:dualauth_providertokenrevocation_{name}", args=args)


@pytest.fixture
def apple() -> Iterator[AppleStandIn]:
    """The Apple stand-in, configured as the project's Apple provider with its team key."""
    standin = AppleStandIn()
    yield standin
    standin.stop()


@pytest.fixture
def keyed(settings: Any, apple: AppleStandIn) -> AppleStandIn:
    team = apple.register_team()
    apple.register_client(APPLE_BUNDLE, team)
    settings.DUALAUTH_SOCIAL_PROVIDERS = {"apple": {
        "client_ids": [APPLE_BUNDLE, APPLE_SERVICES], **apple.provider_options,
        "team_id": team.team_id, "key_id": team.key_id, "private_key": team.private_pem}}
    return apple


def queued(raw: str = RAW, *, client_id: str = APPLE_BUNDLE, user_id: str = "42", attempts: int = 0,
           last_error: str = "") -> ProviderTokenRevocation:
    """A row as ``queue_revocation`` leaves it (the token sealed), optionally already tried."""
    return ProviderTokenRevocation.objects.create(
        provider="apple", client_id=client_id, token=seal_token(raw), user_id=user_id, created_at=timezone.now(),
        attempts=attempts, last_error=last_error, last_attempt_at=timezone.now() if attempts else None)


def staff(user_factory: Any, email: str, *perms: str) -> Any:
    member = user_factory(email=email, is_staff=True)
    member.user_permissions.set(Permission.objects.filter(codename__in=perms))
    return get_user_model().objects.get(pk=member.pk)  # drop the permission cache


def retry(client: Any, *rows: ProviderTokenRevocation) -> Any:
    return client.post(reverse(CHANGELIST), {"action": "retry_revocations",
                                             "_selected_action": [str(r.pk) for r in rows]}, follow=True)


def messages_of(response: Any) -> list[str]:
    return [str(m) for m in response.context["messages"]]


def action_names(response: Any) -> list[str]:
    form = response.context["action_form"]
    return [] if form is None else [name for name, _ in form.fields["action"].choices]


# --- what is shown -----------------------------------------------------------------------------------

def test_the_list_shows_the_queue_columns(admin_client: Any) -> None:
    queued(user_id="42", attempts=3, last_error="unavailable: 503")
    response = admin_client.get(reverse(CHANGELIST))
    assert response.status_code == 200
    html = response.content.decode()
    for column in ("provider", "client_id", "former_user_id", "created_at", "attempts", "last_attempt_at",
                   "last_error"):
        assert f"column-{column}" in html, column
    assert "column-token" not in html
    assert APPLE_BUNDLE in html and "unavailable: 503" in html and ">42<" in html and ">3<" in html
    assert "retry_revocations" in action_names(response)


def test_neither_the_raw_nor_the_sealed_token_is_on_any_admin_page(admin_client: Any) -> None:
    row = queued(attempts=1, last_error="unavailable: 503")
    secrets = {RAW, row.token}
    pages = [reverse(CHANGELIST), f"{reverse(CHANGELIST)}?q=apple", f"{reverse(CHANGELIST)}?failed=yes",
             f"{reverse(CHANGELIST)}?provider=apple", url("change", row.pk), url("history", row.pk),
             url("delete", row.pk), reverse("admin:index"), reverse("admin:app_list", args=["dualauth"])]
    for page in pages:
        response = admin_client.get(page)
        assert response.status_code == 200, page  # a 404 page would pass the check below for nothing
        html = response.content.decode()
        for secret in secrets:
            assert secret not in html, page
    change = admin_client.get(url("change", row.pk)).content.decode()
    assert "field-token" not in change and 'name="token"' not in change
    assert "field-client_id" in change and "field-last_error" in change  # the page did render the row
    # Nor is the token searchable: its sealed text and the raw token find nothing.
    for secret in secrets:
        assert admin_client.get(reverse(CHANGELIST), {"q": secret}).context["cl"].result_count == 0


def test_filters_by_provider_and_by_has_failed(admin_client: Any) -> None:
    fresh, failed = queued("r.fresh"), queued("r.failed", attempts=2, last_error="unavailable: timeout")
    ProviderTokenRevocation.objects.create(provider="other", client_id="x", token=seal_token("r.other"),
                                           created_at=timezone.now())

    def listed(**query: str) -> set[Any]:
        return {r.pk for r in admin_client.get(reverse(CHANGELIST), query).context["cl"].result_list}

    assert listed(failed="yes") == {failed.pk}
    assert listed(failed="no", provider="apple") == {fresh.pk}
    assert listed(provider="apple") == {fresh.pk, failed.pk}
    assert len(listed()) == 3


# --- read-only ----------------------------------------------------------------------------------------

def test_nothing_can_be_added(admin_client: Any) -> None:
    assert admin_client.get(url("add")).status_code == 403
    assert admin_client.post(url("add"), {"provider": "apple", "client_id": "x", "token": "t"}).status_code == 403
    response = admin_client.get(reverse(CHANGELIST))
    assert response.context["has_add_permission"] is False and url("add") not in response.content.decode()
    assert not ProviderTokenRevocation.objects.exists()


def test_the_change_view_is_read_only(admin_client: Any) -> None:
    row = queued(attempts=1, last_error="unavailable: 503")
    before = ProviderTokenRevocation.objects.filter(pk=row.pk).values().get()
    html = admin_client.get(url("change", row.pk)).content.decode()
    assert 'name="_save"' not in html and 'name="_continue"' not in html and 'name="client_id"' not in html
    response = admin_client.post(url("change", row.pk), {"provider": "x", "client_id": "y", "token": "z",
                                                         "attempts": 0, "last_error": ""})
    assert response.status_code == 403
    assert ProviderTokenRevocation.objects.filter(pk=row.pk).values().get() == before


# --- Retry now ----------------------------------------------------------------------------------------

def test_retry_now_revokes_at_apple_and_removes_the_row(admin_client: Any, keyed: AppleStandIn) -> None:
    row = queued(attempts=2, last_error="unavailable: 503")
    response = retry(admin_client, row)
    assert [(r.client_id, r.token) for r in keyed.revoked] == [(APPLE_BUNDLE, RAW)]
    assert not ProviderTokenRevocation.objects.exists()
    assert messages_of(response) == ["1 revoked, 0 still queued, 0 dropped."]


def test_retry_now_with_apple_down_keeps_the_row_and_counts_the_attempt(admin_client: Any,
                                                                        keyed: AppleStandIn) -> None:
    row = queued(attempts=2, last_error="unavailable: earlier")
    keyed.down = True
    response = retry(admin_client, row)
    row.refresh_from_db()
    assert keyed.revoked == [] and row.attempts == 3 and row.last_error.startswith("unavailable")
    assert row.last_error != "unavailable: earlier" and row.last_attempt_at is not None
    assert messages_of(response) == ["0 revoked, 1 still queued, 0 dropped."]
    assert RAW not in response.content.decode() and row.token not in response.content.decode()
    keyed.down = False  # Apple is back: the same action empties the queue
    assert messages_of(retry(admin_client, row)) == ["1 revoked, 0 still queued, 0 dropped."]
    assert not ProviderTokenRevocation.objects.exists()


def test_retry_now_reports_each_outcome_and_leaves_unselected_rows(admin_client: Any, keyed: AppleStandIn) -> None:
    revoked, refused, untouched = queued("r.ok"), queued("r.foreign", client_id=APPLE_SERVICES), queued("r.other")
    response = retry(admin_client, revoked, refused)  # APPLE_SERVICES is unknown to this Apple: invalid_client
    assert messages_of(response) == ["1 revoked, 0 still queued, 1 dropped."]
    assert [r.token for r in keyed.revoked] == ["r.ok"]
    assert list(ProviderTokenRevocation.objects.values_list("pk", flat=True)) == [untouched.pk]


# --- permissions ---------------------------------------------------------------------------------------

def test_view_only_staff_sees_the_queue_but_cannot_retry_or_drop(client: Any, user_factory: Any,
                                                                keyed: AppleStandIn) -> None:
    row = queued()
    client.force_login(staff(user_factory, "viewer@example.com", "view_providertokenrevocation"))
    response = client.get(reverse(CHANGELIST))
    assert response.status_code == 200 and APPLE_BUNDLE in response.content.decode()
    assert "retry_revocations" not in action_names(response) and "delete_selected" not in action_names(response)
    retry(client, row)
    client.post(reverse(CHANGELIST), {"action": "delete_selected", "post": "yes", "_selected_action": [str(row.pk)]})
    assert client.get(url("delete", row.pk)).status_code == 403
    assert client.post(url("delete", row.pk), {"post": "yes"}).status_code == 403
    assert keyed.revoked == [] and ProviderTokenRevocation.objects.filter(pk=row.pk, attempts=0).exists()
    assert client.get(url("change", row.pk)).status_code == 200  # the read-only detail page


def test_staff_without_any_permission_on_the_queue_is_refused(client: Any, user_factory: Any) -> None:
    row = queued()
    client.force_login(staff(user_factory, "other@example.com", "view_authsession"))
    assert client.get(reverse(CHANGELIST)).status_code == 403
    assert client.get(url("change", row.pk)).status_code == 403


def test_dropping_a_revocation_needs_the_delete_permission_and_is_in_the_history(
        client: Any, user_factory: Any, keyed: AppleStandIn) -> None:
    single, bulk = queued("r.single"), queued("r.bulk")
    member = staff(user_factory, "ops@example.com", "view_providertokenrevocation", "delete_providertokenrevocation")
    client.force_login(member)
    assert "retry_revocations" in action_names(client.get(reverse(CHANGELIST)))
    assert client.post(url("delete", single.pk), {"post": "yes"}).status_code == 302
    client.post(reverse(CHANGELIST), {"action": "delete_selected", "post": "yes",
                                      "_selected_action": [str(bulk.pk)]})
    assert not ProviderTokenRevocation.objects.exists() and keyed.revoked == []  # dropped, not sent
    entries = LogEntry.objects.filter(action_flag=DELETION, user=member).order_by("object_id")
    assert sorted(e.object_id for e in entries) == sorted([str(single.pk), str(bulk.pk)])
    assert all("r.single" not in e.object_repr and "r.bulk" not in e.object_repr for e in entries)
