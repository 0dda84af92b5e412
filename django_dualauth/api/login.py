"""``POST login`` and ``POST register``."""

from __future__ import annotations

import logging
from typing import Any

from django.contrib.auth import get_user_model, user_logged_in
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, transaction
from rest_framework.response import Response

from .. import audit, delivery, messaging
from ..conf import dualauth_settings
from ..exceptions import EmailTaken, EndpointDisabled, InvalidCredentials, TwoFactorSetupRequired, ValidationFailed
from ..models.sessions import RevocationReason
from ..services import (
    account_tokens,
    email_claims,
    issue_session,
    proofs,
    revoke_session_by_refresh_token,
    twofactor,
    users,
)
from ..types import IssuedTokens
from . import ratelimits
from .base import DualAuthAPIView, TokenIssuingView, validated
from .inputs import CredentialsInput

__all__ = ["LoginView", "RegisterView", "challenge_response", "session_response"]


class LoginView(TokenIssuingView):
    """Password login. Every failure is the same 401; the hasher runs exactly once per attempt."""

    def post(self, request: Any) -> Response:
        self.token_delivery.guard(request)  # login CSRF
        data = validated(CredentialsInput, request.data)
        client = delivery.client_info(request)
        # Per IP and per address, counted alike for unknown addresses; a success never resets
        # the counters, so a sprayer cannot clear them with its own account.
        with ratelimits.guarded_check(request, "login", ratelimits.normalize_identifier(data["email"])):
            user = proofs.authenticate_by_email(request._request, email=data["email"], password=data["password"])
            if user is None:
                audit.record("auth.login.failed", level=logging.WARNING, ip=client.ip_address)
                raise InvalidCredentials()
        audit.record("auth.login.succeeded", user=str(user.pk), ip=client.ip_address)

        mode = self.token_delivery.name
        step = twofactor.begin_login(user, delivery=mode, client=client, first_factors=["pwd"])
        if step is not None:
            return challenge_response(step)
        tokens = issue_session(user, delivery=mode, client=client, methods=["pwd"])
        return session_response(request, tokens)


def challenge_response(step: twofactor.LoginChallengeIssued) -> Response:
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


class RegisterView(DualAuthAPIView):
    """Create an account (``DUALAUTH_REGISTRATION_ENABLED``); passwords go through
    ``AUTH_PASSWORD_VALIDATORS``. It does not log in."""

    def post(self, request: Any) -> Response:
        if not dualauth_settings.REGISTRATION_ENABLED:
            raise EndpointDisabled()
        delivery.for_headers(request).guard(request)
        client = delivery.client_info(request)
        ratelimits.hit(request, "register_ip", client.ip_address or "unknown")
        data = validated(CredentialsInput, request.data)
        model = get_user_model()
        email_field = model.get_email_field_name()
        email = users.normalize_address(data["email"])
        fields = users.user_fields_for_address(email)  # a clear 400 when the model cannot hold it
        candidate = model(**{email_field: email})
        try:
            validate_password(data["password"], user=candidate)
        except DjangoValidationError as exc:
            raise ValidationFailed(fields={"password": list(exc.messages)}) from None
        with transaction.atomic():
            # The claim first: a concurrent registration of the same address waits here, then
            # gets 409 (docs/security.md, "One account per address").
            claim = email_claims.claim_address(email)
            if model._default_manager.filter(**{f"{email_field}__iexact": email}).exists():
                raise EmailTaken()
            try:
                user = model._default_manager.create_user(password=data["password"], **fields)
            except IntegrityError:  # the username of another account
                raise EmailTaken() from None
            email_claims.bind_claim(claim, user)
        if dualauth_settings.EMAIL_VERIFICATION != "none":
            message = account_tokens.send_verification_email(user, client=client)
            if message is not None:
                messaging.dispatch(message.send)
        return Response({"success": True, "userId": str(user.pk)}, status=201)

