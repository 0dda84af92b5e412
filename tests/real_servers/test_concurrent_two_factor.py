"""MFA-02 on the real PostgreSQL server: a TOTP code raced by parallel verifications is
accepted once (the device row is locked around django-otp's ``verify_token``), and a temp
token raced by parallel verifications yields one session."""

from __future__ import annotations

from typing import Any

import pytest
from django_otp.plugins.otp_totp.models import TOTPDevice

from django_dualauth.exceptions import DualAuthError
from django_dualauth.models import AuthSession
from django_dualauth.services import proofs, twofactor
from django_dualauth.types import ClientInfo
from tests.real_servers.concurrency import N, race
from tests.test_two_factor import code_for

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

CLIENT = ClientInfo(ip_address="203.0.113.7", user_agent="race")


@pytest.fixture
def enrolled_user(user: Any, settings: Any) -> Any:
    settings.OTP_TOTP_THROTTLE_FACTOR = 0
    twofactor.start_totp_setup(user)
    device = TOTPDevice.objects.get(user=user)
    with proofs.without_budget():
        twofactor.confirm_totp_setup(user, code_for(device))
    TOTPDevice.objects.filter(pk=device.pk).update(last_t=device.last_t - 1 if device.last_t else 0)
    return user


def test_one_code_raced_over_many_challenges_is_accepted_once(enrolled_user: Any) -> None:
    temps = [twofactor.begin_login(enrolled_user, delivery="bearer", client=CLIENT).temp_token
             for _ in range(N)]
    code = code_for(TOTPDevice.objects.get(user=enrolled_user))
    queue = iter(temps)

    def verify() -> Any:
        with proofs.without_budget():  # each thread has its own context
            return twofactor.complete_challenge(next(queue), delivery="bearer", client=CLIENT, totp_code=code)

    results = race(N, verify)
    winners = [r for r in results if not isinstance(r, Exception)]
    assert len(winners) == 1, results
    assert all(isinstance(r, DualAuthError) and r.code == "INVALID_2FA_CODE"
               for r in results if isinstance(r, Exception)), results
    assert AuthSession.objects.filter(auth_methods__contains=["otp"]).count() == 1


def test_one_temp_token_raced_yields_one_session(enrolled_user: Any) -> None:
    temp = twofactor.begin_login(enrolled_user, delivery="bearer", client=CLIENT).temp_token
    device = TOTPDevice.objects.get(user=enrolled_user)
    code = code_for(device)

    def verify() -> Any:
        with proofs.without_budget():
            return twofactor.complete_challenge(temp, delivery="bearer", client=CLIENT, totp_code=code)

    results = race(N, verify)
    assert len([r for r in results if not isinstance(r, Exception)]) == 1, results
    assert AuthSession.objects.filter(auth_methods__contains=["otp"]).count() == 1
