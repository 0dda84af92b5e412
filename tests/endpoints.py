"""Every route of the package, and a body that passes each one's input validation: for sweeps
that must reach every endpoint's queries (database outages)."""

from __future__ import annotations

from typing import Any

# The endpoints that answer without a query on the request path: the CSRF token, and the two
# signed-out request endpoints whose look-up and token row are the dispatcher's (the same work
# for every address, docs/security.md): their 202 says nothing of the mail, sent or not.
NO_DATABASE = {"/auth/csrf", "/auth/magic-link/send", "/auth/forgot-password", "/auth/ui/config",
               "/auth/.well-known/jwks.json"}


def valid_body(email: str, password: str) -> dict[str, Any]:
    """One JSON body with every field any endpoint requires, each well-formed."""
    return {"email": email, "password": password, "currentPassword": password,
            "newPassword": "another horse battery staple", "token": "A" * 43, "tempToken": "A" * 43,
            "code": "123456", "totpCode": "123456", "newEmail": "new@example.com", "phoneNumber": "+14155550100",
            "mode": "login"}


def routes() -> list[str]:
    """The paths of ``django_dualauth.urls`` under ``/auth/`` (a session handle filled in)."""
    from django_dualauth import urls  # imports the views: needs Django set up

    return ["/auth/" + str(p.pattern).replace("<str:handle>", "0" * 32) for p in urls.urlpatterns]
