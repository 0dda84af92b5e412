"""The example project's settings plus social sign-in, from the JSON file ``E2E_SOCIAL_CONFIG``
names: ``{"providers": {...}, "return_urls": [...], "app_return_urls": [...]}`` (the test writes
it once it knows the provider's and the server's ports)."""

import json
import os
from pathlib import Path

from example_project.settings import *  # noqa: F403

_CONFIG = json.loads(Path(os.environ["E2E_SOCIAL_CONFIG"]).read_text())

ROOT_URLCONF = "tests.social.live_app.urls"
DUALAUTH_SOCIAL_PROVIDERS = _CONFIG["providers"]
DUALAUTH_SOCIAL_RETURN_URLS = _CONFIG["return_urls"]
DUALAUTH_SOCIAL_APP_RETURN_URLS = _CONFIG.get("app_return_urls", [])
