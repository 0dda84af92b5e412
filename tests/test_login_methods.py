"""services.login: one owner of begin -> challenge -> finish, and second factors that plug in.

A new method (passkeys, say) registers itself and is offered and finished without any other
method's module changing; the built-in ones register the same way.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest
from django_otp.plugins.otp_totp.models import TOTPDevice

from django_dualauth.exceptions import InvalidTwoFactorCode, TempTokenInvalid
from django_dualauth.models import AuthSession, LoginChallenge
from django_dualauth.services import login
from django_dualauth.services.claims import update_account_state
from django_dualauth.types import ClientInfo
from tests.conftest import AuthClient

pytestmark = pytest.mark.django_db

CLIENT = ClientInfo(ip_address="127.0.0.1")
KEY = "example-key"


@pytest.fixture
def plugged() -> Iterator[dict[str, login.SecondFactor]]:
    """The registry, restored after the test."""
    saved = dict(login._SECOND_FACTORS)
    yield login._SECOND_FACTORS
    login._SECOND_FACTORS.clear()
    login._SECOND_FACTORS.update(saved)


@pytest.fixture
def with_totp(user: Any) -> Any:
    TOTPDevice.objects.create(user=user, name="dualauth", confirmed=True)
    update_account_state(user, two_factor_enabled=True)
    return user


def test_the_built_in_second_factors_register_themselves(settings: Any) -> None:
    assert [m.name for m in sorted(login._SECOND_FACTORS.values(), key=lambda m: m.rank)][:3] == [
        login.TOTP, login.SMS, login.MAGIC_LINK]
    assert not login._SECOND_FACTORS[login.MAGIC_LINK].satisfies_policy


def test_a_plugged_second_factor_is_offered_by_the_login(auth_client: AuthClient, with_totp: Any,
                                                         plugged: dict[str, login.SecondFactor]) -> None:
    login.register_second_factor(login.SecondFactor(name=KEY, rank=5, available=lambda user: True))
    response = auth_client.login()
    assert response.status_code == 200
    assert response.json()["available2faMethods"] == [KEY, login.TOTP]  # by rank
    assert not AuthSession.objects.exists()


def test_a_plugged_second_factor_that_the_user_lacks_is_not_offered(auth_client: AuthClient, with_totp: Any,
                                                                    plugged: dict[str, login.SecondFactor]) -> None:
    login.register_second_factor(login.SecondFactor(name=KEY, rank=5, available=lambda user: False))
    assert auth_client.login().json()["available2faMethods"] == [login.TOTP]


def test_a_second_factor_is_never_offered_after_a_first_factor_on_its_channel(
        with_totp: Any, plugged: dict[str, login.SecondFactor]) -> None:
    login.register_second_factor(login.SecondFactor(name=KEY, rank=5, channel="hwk", available=lambda user: True))
    assert login.offered_methods(with_totp, ["pwd"]) == [KEY, login.TOTP]
    assert login.offered_methods(with_totp, ["hwk"]) == [login.TOTP]


def test_a_weak_second_factor_alone_gives_a_setup_challenge(user: Any, settings: Any,
                                                            plugged: dict[str, login.SecondFactor]) -> None:
    """Like an e-mailed link: a factor that cannot satisfy a 2FA policy does not open a login challenge."""
    settings.DUALAUTH_REQUIRE_2FA = True
    plugged.clear()
    login.register_second_factor(login.SecondFactor(name=KEY, rank=5, satisfies_policy=False,
                                                    available=lambda user: True))
    step = login.begin_login(user, delivery="bearer", client=CLIENT)
    assert step is not None and step.setup_required and step.methods == [login.TOTP]
    login.register_second_factor(login.SecondFactor(name=KEY, rank=5, available=lambda user: True))
    step = login.begin_login(user, delivery="bearer", client=CLIENT)
    assert step is not None and not step.setup_required and step.methods == [KEY]


def test_a_plugged_second_factor_finishes_the_challenge(with_totp: Any,
                                                        plugged: dict[str, login.SecondFactor]) -> None:
    login.register_second_factor(login.SecondFactor(name=KEY, rank=5, available=lambda user: True))
    step = login.sign_in(with_totp, first_factor=login.AMR_PASSWORD, delivery="bearer", client=CLIENT)
    assert isinstance(step, login.LoginChallengeIssued)

    def wrong(challenge: LoginChallenge, now: datetime) -> InvalidTwoFactorCode:
        return InvalidTwoFactorCode()

    with pytest.raises(InvalidTwoFactorCode):
        login.finish_challenge(step.temp_token, offered=KEY, method=KEY, amr="hwk", check=wrong,
                               counted=(InvalidTwoFactorCode,), delivery="bearer", client=CLIENT)
    assert LoginChallenge.objects.get().failed_attempts == 1
    with pytest.raises(TempTokenInvalid):  # the challenge is bound to its delivery
        login.finish_challenge(step.temp_token, offered=KEY, method=KEY, amr="hwk", check=lambda c, n: None,
                               counted=(), delivery="cookie", client=CLIENT)
    tokens = login.finish_challenge(step.temp_token, offered=KEY, method=KEY, amr="hwk", check=lambda c, n: None,
                                    counted=(), delivery="bearer", client=CLIENT)
    assert AuthSession.objects.get(pk=tokens.session_id).auth_methods == ["pwd", "hwk", "mfa"]
    with pytest.raises(TempTokenInvalid):  # once
        login.finish_challenge(step.temp_token, offered=KEY, method=KEY, amr="hwk", check=lambda c, n: None,
                               counted=(), delivery="bearer", client=CLIENT)


def test_a_challenge_is_not_finished_by_a_method_it_did_not_offer(with_totp: Any) -> None:
    step = login.sign_in(with_totp, first_factor=login.AMR_PASSWORD, delivery="bearer", client=CLIENT)
    assert isinstance(step, login.LoginChallengeIssued) and KEY not in step.methods
    with pytest.raises(TempTokenInvalid):
        login.finish_challenge(step.temp_token, offered=KEY, method=KEY, amr="hwk", check=lambda c, n: None,
                               counted=(), delivery="bearer", client=CLIENT)
    assert not AuthSession.objects.exists()


def test_sign_in_without_a_second_step_issues_the_session(with_totp: Any) -> None:
    """``second_step=False`` (DUALAUTH_MAGIC_LINK_FULL_LOGIN) skips the challenge; the default does not."""
    assert isinstance(login.sign_in(with_totp, first_factor="email", delivery="bearer", client=CLIENT),
                      login.LoginChallengeIssued)
    tokens = login.sign_in(with_totp, first_factor="email", delivery="bearer", client=CLIENT, second_step=False)
    assert AuthSession.objects.get(pk=tokens.session_id).auth_methods == ["email"]
