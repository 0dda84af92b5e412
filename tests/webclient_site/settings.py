"""The example project with a test harness around it, for the browser client's Chromium tests
(tests/test_browser_client.py): the page at ``/harness/`` imports ``/static/dualauth/dualauth.js``
on the API's own origin, a middleware writes down every request the server answered (method,
path, status, code, which token cookies came; never a value), and a minimal CORS layer lets one
test origin (``WEBCLIENT_CORS_ORIGIN``) call cross-origin. With ``WEBCLIENT_REFRESH_HOLD_SECONDS``
each refresh is held until a second one is in flight or that time has passed, so that two
refreshes sent at about the same time are sure to overlap (and the log says whether they did).
Served by tests/live_server.py with ``DJANGO_SETTINGS_MODULE=tests.webclient_site.settings``."""

import os
from datetime import timedelta

from example_project.settings import *  # noqa: F403
from example_project.settings import MIDDLEWARE

ROOT_URLCONF = "tests.webclient_site.urls"
MIDDLEWARE = ["tests.webclient_site.views.RequestLog", "tests.webclient_site.views.CorsForTests", *MIDDLEWARE]
# A short access-token lifetime lets a test wait for the token to expire; a grace window of 0
# (strict rotation) makes two refreshes with one token revoke the session instead of being forgiven.
DUALAUTH_ACCESS_TOKEN_LIFETIME = timedelta(seconds=int(os.environ.get("WEBCLIENT_ACCESS_TOKEN_SECONDS", "900")))
DUALAUTH_REFRESH_REUSE_GRACE = timedelta(seconds=int(os.environ.get("WEBCLIENT_REFRESH_REUSE_GRACE", "10")))
DUALAUTH_REQUIRE_2FA = os.environ.get("WEBCLIENT_REQUIRE_2FA") == "1"
