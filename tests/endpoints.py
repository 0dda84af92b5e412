"""Every route of the package, and a body that passes each one's input validation: for sweeps
that must reach every endpoint's queries (database outages)."""

from __future__ import annotations

from typing import Any

# The endpoints that answer without a query on the request path: the CSRF token, and the two
# signed-out request endpoints whose look-up and token row are the dispatcher's (the same work
# for every address, docs/security.md): their 202 says nothing of the mail, sent or not.
# The id_token exchange refuses a token that does not verify before any query (only a verified
# token reaches the nonce row): valid_body's token is not one.
NO_DATABASE = {"/auth/csrf", "/auth/magic-link/send", "/auth/forgot-password", "/auth/ui/config",
               "/auth/oauth/google/token",
               # The redirect flow's callback refuses a missing or malformed state, and the app's
               # exchange a malformed code or a missing verifier, before any query.
               "/auth/oauth/google/callback", "/auth/oauth/google/exchange",
               "/auth/.well-known/jwks.json"}
#: The social sign-in endpoints, which answer 404 without a query while no provider is configured
#: (the demo project configures none); SOCIAL_PROVIDERS turns them on for the sweeps that can.
SOCIAL = frozenset({"/auth/oauth/google/nonce", "/auth/oauth/google/token", "/auth/oauth/google/link",
                    "/auth/linked-accounts", "/auth/linked-accounts/google/1234", "/auth/oauth/google",
                    "/auth/oauth/google/callback", "/auth/oauth/google/exchange", "/auth/oauth/google/link/start",
                    "/auth/oauth/google/link/finish"})
#: Every provider endpoint a dead loopback port (9, discard): a sweep never leaves 127.0.0.1.
SOCIAL_PROVIDERS = {"google": {"client_ids": ["web.apps.googleusercontent.com"], "jwks_uri": "http://127.0.0.1:9/jwks",
                               "redirect_uri": "https://api.example.com/auth/oauth/google/callback",
                               "authorization_endpoint": "http://127.0.0.1:9/auth",
                               "token_endpoint": "http://127.0.0.1:9/token"}}
SOCIAL_RETURN_URLS = ["https://app.example.com/signed-in"]


def valid_body(email: str, password: str) -> dict[str, Any]:
    """One JSON body with every field any endpoint requires, each well-formed."""
    return {"email": email, "password": password, "currentPassword": password,
            "newPassword": "another horse battery staple", "token": "A" * 43, "tempToken": "A" * 43,
            "code": "123456", "totpCode": "123456", "newEmail": "new@example.com", "phoneNumber": "+14155550100",
            "mode": "login", "idToken": "a.b.c", "nonce": "A" * 43}


def routes() -> list[str]:
    """The paths of ``django_dualauth.urls`` under ``/auth/`` (a session handle filled in)."""
    from django_dualauth import urls  # imports the views: needs Django set up

    return ["/auth/" + str(p.pattern).replace("<str:handle>", "0" * 32).replace("<str:provider>", "google")
            .replace("<path:provider_account_id>", "1234") for p in urls.urlpatterns]
