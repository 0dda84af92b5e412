"""The example project with the Apple provider of ``DUALAUTH_TEST_APPLE`` (JSON: the provider's
options, the return URLs), for the browser test that serves it with gunicorn
(``tests/social/test_apple_browser.py``)."""

import json
import os

from example_project.settings import *  # noqa: F403

_APPLE = json.loads(os.environ["DUALAUTH_TEST_APPLE"])
DUALAUTH_SOCIAL_PROVIDERS = {"apple": _APPLE["provider"]}
DUALAUTH_SOCIAL_RETURN_URLS = _APPLE["return_urls"]
if _APPLE.get("lax"):
    MIDDLEWARE = [*MIDDLEWARE, "tests.social.lax_flow_cookie.LaxFlowCookie"]  # noqa: F405
