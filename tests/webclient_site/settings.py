"""The example project with a test harness around it, for the browser client's Chromium tests
(tests/test_browser_client.py): the page at ``/harness/`` imports ``/static/dualauth/dualauth.js``
on the API's own origin, a middleware writes down every request the server answered (method,
path, status, code, which token cookies came; never a value), and a minimal CORS layer lets one
test origin (``WEBCLIENT_CORS_ORIGIN``) call cross-origin. Served by tests/live_server.py with
``DJANGO_SETTINGS_MODULE=tests.webclient_site.settings``."""

import os
from datetime import timedelta

from example_project.settings import *  # noqa: F403
from example_project.settings import MIDDLEWARE

ROOT_URLCONF = "tests.webclient_site.urls"
MIDDLEWARE = ["tests.webclient_site.views.RequestLog", "tests.webclient_site.views.CorsForTests", *MIDDLEWARE]
# A short access-token lifetime lets a test wait for the token to expire.
DUALAUTH_ACCESS_TOKEN_LIFETIME = timedelta(seconds=int(os.environ.get("WEBCLIENT_ACCESS_TOKEN_SECONDS", "900")))
