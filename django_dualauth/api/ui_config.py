"""``GET ui/config``: which features and sign-in methods this server offers, for login screens.

The fields of node-auth's Flutter ``UiConfig`` model at the top level, and node-auth's own UI
router's shape (``apiPrefix``, ``features``, ``ui``) beside them. Unauthenticated and the same
for every caller: nothing per user, no secret, no setting beyond what a login page shows; a
feature that is off says ``false``. Cacheable for five minutes, so no cookie is planted on it.
"""

from __future__ import annotations

from typing import Any

from rest_framework.request import Request
from rest_framework.response import Response

from ..conf import dualauth_settings, snapshot
from .base import DualAuthAPIView

__all__ = ["UiConfigView", "ui_config"]

#: Long enough to spare login screens a request each, short enough for a settings change to show.
CACHE_CONTROL = "public, max-age=300"


def ui_config(api_prefix: str) -> dict[str, Any]:
    """The document, from the settings (through ``conf``) alone."""
    s = dualauth_settings
    register, magic_link, sms = s.REGISTRATION_ENABLED, s.MAGIC_LINK_ENABLED, s.SMS_ENABLED
    # The providers a browser can be sent to (``oauth/<name>``): those with the redirect flow.
    redirect = [p.config for p in snapshot().social_providers.values() if p.config.redirect_flow]
    google = any(c.kind == "google" for c in redirect)
    github = any(c.kind == "github" for c in redirect)
    return {
        "registrationEnabled": register,
        "magicLinkEnabled": magic_link,
        "smsEnabled": sms,
        "totpEnabled": True,  # TOTP has no switch: every account may enrol
        "githubEnabled": github,
        "googleEnabled": google,
        "availableProviders": [c.name for c in redirect],
        "apiPrefix": api_prefix,
        "features": {
            "register": register,
            "magicLink": magic_link,
            "sms": sms,
            "google": google,
            "github": github,
            "forgotPassword": bool(s.PASSWORD_RESET_URL),
            "verifyEmail": bool(s.VERIFY_EMAIL_URL),
            "changeEmail": bool(s.EMAIL_CHANGE_URL),
            "twoFactor": True,
        },
        "ui": {"siteName": s.SITE_NAME},
    }


class UiConfigView(DualAuthAPIView):
    plants_csrf_cookie = False  # a shared cache must not hand one browser's cookie to another

    def get(self, request: Request) -> Response:
        # node-auth answers the prefix its router is mounted at: this path less "/ui/config".
        prefix = request.path.removesuffix("/ui/config")
        return Response(ui_config(prefix))

    def finalize_response(self, request: Request, response: Any, *args: Any, **kwargs: Any) -> Any:
        response = super().finalize_response(request, response, *args, **kwargs)
        if response.status_code == 200:
            response["Cache-Control"] = CACHE_CONTROL
            del response["Pragma"]
        return response
