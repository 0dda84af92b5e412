"""ML-01 (parallel half) and the SMS code's single use, on the real PostgreSQL server:
N simultaneous verifications of one magic link or one SMS code yield exactly one session."""

from __future__ import annotations

import re
from typing import Any

import pytest

from django_dualauth.exceptions import DualAuthError
from django_dualauth.models import AuthSession
from django_dualauth.services import magic_links
from django_dualauth.types import ClientInfo, IssuedTokens
from tests.real_servers.concurrency import N, race

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

CLIENT = ClientInfo(ip_address="203.0.113.8", user_agent="race")


def test_one_magic_link_verified_in_parallel_logs_in_once(user: Any, settings: Any) -> None:
    settings.DUALAUTH_MAGIC_LINK_ENABLED = True
    message = magic_links.request_login_link(user.email, client=CLIENT)
    token = re.search(r"token=([A-Za-z0-9_-]+)", message.body).group(1)

    results = race(N, lambda: magic_links.verify_login_link(token, delivery="bearer", client=CLIENT))

    assert len([r for r in results if isinstance(r, IssuedTokens)]) == 1, results
    assert all(isinstance(r, DualAuthError) and r.code == "INVALID_MAGIC_LINK"
               for r in results if not isinstance(r, IssuedTokens)), results
    assert AuthSession.objects.filter(user=user).count() == 1


def test_one_sms_code_verified_in_parallel_logs_in_once(user: Any, settings: Any) -> None:
    from django_dualauth.models import SMSDevice
    from django_dualauth.services import proofs, sms

    settings.DUALAUTH_SMS_ENABLED = True
    settings.DUALAUTH_SMS_THROTTLE_FACTOR = 0
    SMSDevice.objects.create(user=user, name="sms", number="+14155550123", confirmed=True)
    outgoing = sms.request_login_code(user.email)
    code = outgoing.body[:6]

    def verify() -> Any:
        with proofs.without_budget():  # each thread has its own context
            return sms.verify_login_code(user.email, code, delivery="bearer", client=CLIENT)

    results = race(N, verify)

    assert len([r for r in results if isinstance(r, IssuedTokens)]) == 1, results
    assert AuthSession.objects.filter(user=user).count() == 1
