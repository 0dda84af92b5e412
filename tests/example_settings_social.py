"""The example project with the social providers a test hands it in
``DUALAUTH_TEST_SOCIAL_PROVIDERS`` (JSON: stand-in issuers on 127.0.0.1), and with
``DUALAUTH_TEST_SQLITE_DEFERRED=1`` Django's default DEFERRED SQLite transactions instead of the
example project's IMMEDIATE ones (as tests/example_settings_deferred.py)."""

import json
import os

from example_project.settings import *  # noqa: F403

DUALAUTH_SOCIAL_PROVIDERS = json.loads(os.environ["DUALAUTH_TEST_SOCIAL_PROVIDERS"])
if os.environ.get("DUALAUTH_TEST_SQLITE_DEFERRED") == "1":
    DATABASES["default"]["OPTIONS"].pop("transaction_mode", None)  # noqa: F405
