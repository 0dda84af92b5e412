"""``POST login`` and ``POST register``."""

from __future__ import annotations

from rest_framework.request import Request
from rest_framework.response import Response

from .. import delivery, messaging
from ..conf import dualauth_settings
from ..services import login, profile_names, registration
from . import ratelimits
from .base import FeatureView, TokenIssuingView, validated
from .inputs import CredentialsInput, RegisterInput
from .responses import login_response

__all__ = ["LoginView", "RegisterView"]


class LoginView(TokenIssuingView):
    """Password login. Every failure is the same 401; the hasher runs exactly once per attempt."""

    def post(self, request: Request) -> Response:
        self.token_delivery.guard(request)  # login CSRF
        data = validated(CredentialsInput, request.data)
        client = delivery.client_info(request)
        # Per IP and per address, counted alike for unknown addresses; a success never resets
        # the counters, so a sprayer cannot clear them with its own account.
        with ratelimits.guarded_check(request, "login", ratelimits.normalize_identifier(data["email"])):
            user = login.authenticate_password(request._request, email=data["email"], password=data["password"],
                                               client=client)
        outcome = login.sign_in(user, first_factor=login.AMR_PASSWORD, delivery=self.token_delivery.name,
                                client=client)
        return login_response(request, outcome)


class RegisterView(FeatureView):
    """Create an account (``DUALAUTH_REGISTRATION_ENABLED``); passwords go through
    ``AUTH_PASSWORD_VALIDATORS``; ``firstName`` / ``lastName`` are stored where the user model
    has the fields. It does not log in."""

    def enabled(self) -> bool:
        return dualauth_settings.REGISTRATION_ENABLED

    def post(self, request: Request) -> Response:
        delivery.for_headers(request).guard(request)
        client = delivery.client_info(request)
        ratelimits.hit(request, "register_ip", client.ip_address or "unknown")
        data = validated(RegisterInput, request.data)
        names = {name: data[name] for name in profile_names.PROFILE_FIELDS if name in data}
        registered = registration.register_user(data["email"], data["password"], client=client, names=names)
        if registered.verification is not None:
            messaging.dispatch(registered.verification.send)
        return Response({"success": True, "userId": str(registered.user.pk)}, status=201)

