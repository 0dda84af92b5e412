"""Apple's form_post in headless Chromium: Apple's page (the stand-in on 127.0.0.1) auto-submits
a cross-site POST to the app's callback (the example project under gunicorn, browsed as
``localhost``: another site), and the browser-binding cookie must come with it. With
``SameSite=None; Secure`` it does; the same flow with the cookie planted ``SameSite=Lax``
(``DUALAUTH_TEST_APPLE_LAX``, read by ``apple_server_settings``) fails with ``INVALID_STATE``,
which is why Apple's binding cookie is not Lax (docs/social-login.md, "Apple's web flow")."""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser import wait_for_url
from tests.live_server import free_port, live_server

from .apple_standin import AppleStandIn
from .helpers import APPLE_BUNDLE, APPLE_SERVICES

pytestmark = pytest.mark.browser


@pytest.fixture
def apple_rest() -> Iterator[AppleStandIn]:
    standin = AppleStandIn()
    yield standin
    standin.stop()


def _serve(tmp_path: Path, apple_rest: AppleStandIn, *, lax: bool = False) -> Any:
    port = free_port()
    base = f"http://localhost:{port}"  # another site than the stand-in's 127.0.0.1
    callback = base + "/auth/oauth/apple/callback"
    team = apple_rest.register_team()
    apple_rest.register_client(APPLE_SERVICES, team, redirect_uris=(callback,))
    options = {"provider": {"client_ids": [APPLE_SERVICES, APPLE_BUNDLE], **apple_rest.provider_options,
                            "redirect_uri": callback, "team_id": team.team_id, "key_id": team.key_id,
                            "private_key": team.private_pem},
               "return_urls": [base + "/auth/me"], "lax": lax}
    env = {"DJANGO_SETTINGS_MODULE": "tests.social.apple_server_settings", "DUALAUTH_TEST_APPLE": json.dumps(options)}
    return base, live_server(tmp_path, env=env, port=port)


def _sign_in(browser: Any, base: str) -> str:
    """From the app to Apple's page, whose script POSTs back; the URL the browser ends at."""
    browser.get(base + "/auth/oauth/apple?returnUrl=" + urllib.parse.quote(base + "/auth/me"))
    return wait_for_url(browser, base + "/auth/me")


def test_chromium_sends_the_binding_cookie_on_apples_cross_site_post(browser: Any, tmp_path: Path,
                                                                      apple_rest: AppleStandIn) -> None:
    base, server = _serve(tmp_path, apple_rest)
    with server:
        landed = _sign_in(browser, base)
        assert landed == base + "/auth/me"  # no ?error=
        body = json.loads(browser.find_element("tag name", "pre").text)
    assert body["email"] == apple_rest.next_user.email and body["firstName"] == "Alice"
    assert apple_rest.token_requests == 1 and len(apple_rest._state.refresh_tokens) == 1


def test_a_lax_binding_cookie_would_not_survive_apples_post(browser: Any, tmp_path: Path,
                                                            apple_rest: AppleStandIn) -> None:
    base, server = _serve(tmp_path, apple_rest, lax=True)
    with server:
        landed = _sign_in(browser, base)
    assert dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(landed).query)) == {"error": "INVALID_STATE"}
    assert apple_rest.token_requests == 0  # refused before the code went anywhere
