"""Test middleware: turn the redirect flow's binding cookie into ``SameSite=Lax`` (what every other
provider's is), to show in a real browser that Apple's cross-site form_post would then arrive
without it (``tests/social/test_apple_browser.py``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


class LaxFlowCookie:
    def __init__(self, get_response: Callable[[Any], Any]) -> None:
        self.get_response = get_response

    def __call__(self, request: Any) -> Any:
        response = self.get_response(request)
        for name, morsel in response.cookies.items():
            if "dualauth_oauth_" in name:
                morsel["samesite"] = "Lax"
        return response
