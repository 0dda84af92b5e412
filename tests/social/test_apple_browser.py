"""Apple's form_post in headless Chromium: Apple's page (the stand-in on 127.0.0.1) auto-submits
a cross-site POST to the app's callback (pytest-django's live server on ``localhost``: another
site), and the browser-binding cookie must come with it. With ``SameSite=None; Secure`` it does;
the same flow with the cookie planted ``SameSite=Lax`` fails with ``INVALID_STATE``, which is why
Apple's binding cookie is not Lax (docs/social-login.md, "Apple's web flow")."""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import Iterator
from typing import Any

import pytest

from django_dualauth import delivery
from django_dualauth.delivery import cookies
from django_dualauth.models import AuthSession, LinkedAccount
from tests.browser import wait_for_url

from .apple_standin import AppleStandIn, AppleTeam
from .helpers import APPLE_BUNDLE, APPLE_SERVICES

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True),
              # pytest-django's live server shares the in-memory SQLite connection with its request
              # threads, which then fail to close it (harmless; Django's LiveServerThread).
              pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")]


@pytest.fixture
def apple_rest() -> Iterator[AppleStandIn]:
    standin = AppleStandIn()
    yield standin
    standin.stop()


@pytest.fixture
def app_url(live_server: Any, settings: Any, apple_rest: AppleStandIn) -> str:
    base = live_server.url.replace("127.0.0.1", "localhost")  # another site than the stand-in's 127.0.0.1
    callback = base + "/auth/oauth/apple/callback"
    team: AppleTeam = apple_rest.register_team()
    apple_rest.register_client(APPLE_SERVICES, team, redirect_uris=(callback,))
    settings.DUALAUTH_SOCIAL_PROVIDERS = {"apple": {
        "client_ids": [APPLE_SERVICES, APPLE_BUNDLE], **apple_rest.provider_options, "redirect_uri": callback,
        "team_id": team.team_id, "key_id": team.key_id, "private_key": team.private_pem}}
    settings.DUALAUTH_SOCIAL_RETURN_URLS = [base + "/auth/me"]
    return base


def _sign_in(browser: Any, base: str) -> str:
    """From the app to Apple's page, whose script POSTs back; the URL the browser ends at."""
    browser.get(base + "/auth/oauth/apple?returnUrl=" + urllib.parse.quote(base + "/auth/me"))
    return wait_for_url(browser, base + "/auth/me")


def test_chromium_sends_the_binding_cookie_on_apples_cross_site_post(browser: Any, app_url: str,
                                                                      apple_rest: AppleStandIn) -> None:
    landed = _sign_in(browser, app_url)
    assert landed == app_url + "/auth/me"  # no ?error=
    body = json.loads(browser.find_element("tag name", "pre").text)
    assert body["email"] == apple_rest.next_user.email and body["firstName"] == "Alice"
    session = AuthSession.objects.get()
    assert session.delivery == "cookie" and LinkedAccount.objects.get().provider_token


def test_a_lax_binding_cookie_would_not_survive_apples_post(browser: Any, app_url: str,
                                                            monkeypatch: Any) -> None:
    def lax(response: Any, key: str, value: str, max_age: int, *, cross_site_post: bool = False) -> None:
        # Apple's cookie as every other provider's: SameSite=Lax (still Secure and __Host-).
        response.set_cookie(cookies.flow_cookie_name(key, cross_site_post=cross_site_post), value, max_age=max_age,
                            path="/", secure=True, httponly=True, samesite="Lax")

    monkeypatch.setattr(delivery, "set_flow_cookie", lax)
    landed = _sign_in(browser, app_url)
    assert dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(landed).query)) == {"error": "INVALID_STATE"}
    assert not AuthSession.objects.exists()
