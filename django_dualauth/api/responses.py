"""The answers that every login view shares: the session handed over, or the second step due."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import user_logged_in
from rest_framework.response import Response

from .. import delivery
from ..exceptions import TwoFactorSetupRequired
from ..models.sessions import RevocationReason
from ..services import revoke_session_by_refresh_token
from ..services.login import LoginChallengeIssued
from ..types import IssuedTokens

__all__ = ["challenge_response", "login_response", "session_response"]


def challenge_response(step: LoginChallengeIssued) -> Response:
    """node-auth's answers for a pending second step: no session, no cookie, a temp token."""
    if step.setup_required:
        raise TwoFactorSetupRequired(step.temp_token)
    return Response({"requiresTwoFactor": True, "tempToken": step.temp_token,
                     "available2faMethods": step.methods})


def session_response(request: Any, tokens: IssuedTokens,
                     extra: dict[str, Any] | None = None) -> Response:
    """Hand a new login's session to the client through the session's own delivery; shared by
    every login path (password, magic link, SMS, 2FA)."""
    chosen = delivery.for_session(tokens)
    # A new login never upgrades a family the browser already held (planted or stale).
    old = chosen.held_refresh_token(request)
    if old:
        revoke_session_by_refresh_token(old, reason=RevocationReason.SUPERSEDED)
    user_logged_in.send(sender=tokens.user.__class__, request=request._request, user=tokens.user)
    return chosen.token_response(request, tokens, new_login=True, extra=extra)


def login_response(request: Any, outcome: IssuedTokens | LoginChallengeIssued) -> Response:
    """The answer to a first factor (:func:`~django_dualauth.services.login.sign_in`'s outcome)."""
    if isinstance(outcome, LoginChallengeIssued):
        return challenge_response(outcome)
    return session_response(request, outcome)
