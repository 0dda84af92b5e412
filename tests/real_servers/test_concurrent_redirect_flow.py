"""The redirect flow's single use on the real PostgreSQL server: N simultaneous callbacks with one
``state`` finish one sign-in, N first sign-ins of one new provider identity through N callbacks
(each with its own state) make one account and sign every browser in to it, and N simultaneous
redemptions of one app code issue one session."""

from __future__ import annotations

import base64
import hashlib
import secrets
import urllib.parse
from typing import Any

import pytest
from django.contrib.auth import get_user_model

from django_dualauth.conf import snapshot
from django_dualauth.models import AuthSession, LinkedAccount
from django_dualauth.services import social, social_redirect
from django_dualauth.types import ClientInfo, IssuedTokens
from tests.real_servers.concurrency import N, race, together

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

CLIENT = ClientInfo(ip_address="203.0.113.10", user_agent="race")
RETURN = "https://app.example.com/signed-in"
APP_RETURN = "myapp://auth"


@pytest.fixture
def google(settings: Any, monkeypatch: Any) -> Any:
    settings.DUALAUTH_SOCIAL_PROVIDERS = {"google": {
        "client_ids": ["web.apps.googleusercontent.com"],
        "redirect_uri": "https://api.example.com/auth/oauth/google/callback"}}
    settings.DUALAUTH_SOCIAL_RETURN_URLS = [RETURN]
    settings.DUALAUTH_SOCIAL_APP_RETURN_URLS = [APP_RETURN]
    # The provider's part is tested against a real one in tests/social; here only the rows race.
    identity = social.ProviderIdentity("google", "race-subject", "racer@example.com", True)
    monkeypatch.setattr(social_redirect, "_identity", lambda provider, raw_state, code: identity)
    monkeypatch.setattr(social_redirect, "_check_issuer", lambda provider, iss: None)
    return snapshot().social_providers["google"]


def _started(provider: Any, *, app: bool = False, challenge: str = "") -> tuple[str, str]:
    started = social_redirect.start(provider, app=app, return_url=None, app_code_challenge=challenge or None,
                                    app_code_challenge_method=None, client=CLIENT)
    state = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(started.authorization_url).query))["state"]
    return state, started.cookie_value


def test_one_state_in_parallel_callbacks_signs_in_once(google: Any) -> None:
    state, browser = _started(google)

    results = race(N, lambda: social_redirect.callback(google, {"state": state, "code": "c"},
                                                        browser_value=browser, client=CLIENT))

    won = [r for r in results if isinstance(r, social_redirect.CallbackOutcome)]
    assert len(won) == 1 and won[0].tokens is not None, results
    assert all(isinstance(r, social_redirect.CallbackFailed) and r.error.code == "INVALID_STATE"
               for r in results if r not in won), results
    assert AuthSession.objects.count() == 1


def test_one_app_code_in_parallel_redemptions_issues_one_session(google: Any) -> None:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    state, browser = _started(google, app=True, challenge=challenge)
    outcome = social_redirect.callback(google, {"state": state, "code": "c"}, browser_value=browser, client=CLIENT)
    code = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(outcome.location).query))["code"]

    results = race(N, lambda: social_redirect.redeem_app_code(google, code, verifier, delivery="bearer",
                                                               client=CLIENT))

    assert len([r for r in results if isinstance(r, IssuedTokens)]) == 1, results
    assert all(getattr(r, "code", None) == "INVALID_OAUTH_CODE" for r in results
               if not isinstance(r, IssuedTokens)), results
    assert AuthSession.objects.count() == 1


def test_n_first_sign_ins_of_one_identity_at_once_make_one_account_and_sign_each_in(google: Any) -> None:
    # N browsers (each its own state) come back from the provider with the same new identity.
    started = [_started(google) for _ in range(N)]
    work = [lambda state=state, browser=browser: social_redirect.callback(
        google, {"state": state, "code": "c"}, browser_value=browser, client=CLIENT) for state, browser in started]

    results = together(work)

    assert all(isinstance(r, social_redirect.CallbackOutcome) and r.tokens is not None for r in results), results
    assert all(r.location == RETURN for r in results), results
    user = get_user_model().objects.get()
    assert LinkedAccount.objects.get().user_id == user.pk
    sessions = AuthSession.objects.all()
    assert len(sessions) == N and {s.user_id for s in sessions} == {user.pk}
