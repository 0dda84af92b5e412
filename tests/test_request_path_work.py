"""ENUM-02, the time half (issue 15, item 11): the request endpoints that answer the same
whether an account exists must also do the same work on the request path, or their duration
tells. Asserted on the work itself (the SQL run and the templates rendered while the request
is answered, with the dispatcher holding the job), never on a clock; the measured timings are
bench/enumeration_timing.py's (docs/security.md). Both deliveries."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.core import mail
from django.db import connection
from django.test.signals import template_rendered
from django.test.utils import CaptureQueriesContext

from tests.conftest import PASSWORD, AuthClient

pytestmark = pytest.mark.django_db

HELD: list[Callable[[], Any]] = []


def hold(send: Callable[[], Any]) -> None:
    """A dispatcher that keeps the job: what runs before the answer is the request's own work."""
    HELD.append(send)


@pytest.fixture(autouse=True)
def _held(settings: Any) -> Iterator[None]:
    settings.DUALAUTH_MAGIC_LINK_ENABLED = True
    settings.DUALAUTH_MESSAGE_DISPATCHER = "tests.test_request_path_work.hold"
    HELD.clear()
    yield
    HELD.clear()


def _shape(sql: str) -> str:
    # The statement without its values (an address, a timestamp): the same work has the same shape.
    return re.sub(r"'[^']*'|\b\d+\b", "?", sql)


def work(call: Callable[[], Any]) -> tuple[int, bytes, list[str], list[str], int]:
    """(status, body, SQL run, templates rendered, jobs handed over) of one request."""
    templates: list[str] = []

    def rendered(sender: Any, template: Any, **kwargs: Any) -> None:
        templates.append(str(template.name))

    held_before = len(HELD)
    template_rendered.connect(rendered)
    try:
        with CaptureQueriesContext(connection) as queries:
            response = call()
    finally:
        template_rendered.disconnect(rendered)
    return (response.status_code, response.content, [_shape(q["sql"]) for q in queries.captured_queries],
            templates, len(HELD) - held_before)


def run_held() -> None:
    jobs = list(HELD)
    HELD.clear()
    for job in jobs:
        job()


@pytest.mark.parametrize("endpoint", ["forgot-password", "magic-link/send", "send-verification-email"])
def test_a_known_and_an_unknown_address_cost_the_request_the_same(auth_client: AuthClient, user_factory: Any,
                                                                 endpoint: str) -> None:
    user_factory("alice@example.com")
    user_factory("ghost@example.com", is_active=False)
    addresses = ("alice@example.com", "nobody@example.com", "ghost@example.com")
    seen = [work(lambda e=e: auth_client.post(f"/auth/{endpoint}", {"email": e})) for e in addresses]
    assert seen[0] == seen[1] == seen[2]
    status, body, sql, templates, jobs = seen[0]
    assert (status, body, jobs) == (202, b'{"success":true}', 1)
    assert not templates and not [q for q in sql if "auth_user" in q]  # no look-up, no rendering
    assert mail.outbox == []
    run_held()  # the jobs do the work: only the existing active account is mailed
    assert [m.to for m in mail.outbox] == [["alice@example.com"]]


def test_change_email_costs_the_request_the_same_for_a_taken_and_a_free_address(auth_client: AuthClient,
                                                                                user_factory: Any) -> None:
    user_factory("alice@example.com")
    user_factory("taken@example.com")
    auth_client.login()

    def request(new_email: str) -> Any:
        return auth_client.post("/auth/change-email/request", {"newEmail": new_email, "password": PASSWORD})

    taken, free = work(lambda: request("taken@example.com")), work(lambda: request("free@example.com"))
    assert taken == free
    assert taken[0] == 202 and taken[4] == 1
    assert not [q for q in taken[2] if "email" in q.partition("WHERE")[2]]  # no look-up of the address
    run_held()
    assert [m.to for m in mail.outbox] == [["free@example.com"]]


def test_a_wrong_password_on_change_email_is_still_refused_at_once(auth_client: AuthClient, user: Any) -> None:
    auth_client.login()
    r = auth_client.post("/auth/change-email/request", {"newEmail": "free@example.com", "password": "wrong-pass"})
    assert (r.status_code, r.json()["code"]) == (403, "REAUTHENTICATION_FAILED")
    assert HELD == []


def test_a_held_job_is_picklable_for_a_task_queue(auth_client: AuthClient, user: Any) -> None:
    """The job carries the address and the client info, not a user or a request."""
    import pickle

    auth_client.post("/auth/forgot-password", {"email": user.email})
    [job] = HELD
    pickle.loads(pickle.dumps(job))()
    assert [m.to for m in mail.outbox] == [[user.email]]


def test_the_thread_pool_treats_a_job_like_a_request(monkeypatch: Any) -> None:
    """A job that uses the database opens its thread's connection as a request would and closes
    it when CONN_MAX_AGE says so or it broke: the pool's threads never hold a dead one."""
    from django_dualauth import messaging

    calls: list[str] = []
    monkeypatch.setattr(messaging, "close_old_connections", lambda: calls.append("close"))

    def failing() -> None:
        calls.append("job")
        raise RuntimeError("SMTP down")

    messaging._run_in_thread(failing)  # the failure is logged, never raised
    assert calls == ["close", "job", "close"]
