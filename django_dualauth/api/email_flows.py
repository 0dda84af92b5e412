"""The mailed account steps: ``send-verification-email``, ``verify-email``,
``forgot-password``, ``reset-password``, ``change-email/request``, ``change-email/confirm``.

Each pair is off (404) until its front-end URL setting is set (``DUALAUTH_VERIFY_EMAIL_URL``,
``DUALAUTH_PASSWORD_RESET_URL``, ``DUALAUTH_EMAIL_CHANGE_URL``). Requests that mail something
answer 202 ``{"success": true}`` whatever the account (ENUM-02) and send off the request path;
the token endpoints consume with POST only, so a scanner's GET of the front-end link changes
nothing. The request endpoints hand the account look-up, the token row and the mail to the
dispatcher (``messaging.dispatch_built``), so their request path does the same work whether
the address has an account.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from rest_framework import serializers
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response

from .. import delivery, messaging
from ..authentication import DualAuthentication
from ..conf import dualauth_settings
from ..exceptions import EmailVerificationRequiresPost
from ..services import account_tokens, users
from . import ratelimits
from .base import FeatureView, client_ip_key, request_user, validated
from .inputs import EmailInput, PasswordField, StrictCharField, StrictEmailField
from .refusals import require_proof

__all__ = ["SendVerificationEmailView", "VerifyEmailView", "ForgotPasswordView", "ResetPasswordView",
           "ChangeEmailRequestView", "ChangeEmailConfirmView"]

_ACCEPTED = {"success": True}


class _OptionalEmailInput(serializers.Serializer[Any]):
    """``send-verification-email``: ``email``, whose shape is checked even when a session names the
    address instead (a malformed field is refused, not ignored)."""

    email = StrictEmailField(max_length=254, required=False)


class _TokenInput(serializers.Serializer[Any]):
    token = StrictCharField(max_length=256)


class _ResetInput(_TokenInput):
    password = PasswordField()


class _ChangeEmailInput(serializers.Serializer[Any]):
    newEmail = StrictEmailField(max_length=254)
    password = PasswordField()


def _send(message: Any) -> None:
    if message is not None:
        messaging.dispatch(message.send)


class _Configured(FeatureView):
    """Off (404) until the project names the front-end page its mails link to."""

    url_setting = ""

    def enabled(self) -> bool:
        return bool(getattr(dualauth_settings, self.url_setting))


class _NoReferrer(_Configured):
    referrer_policy = "no-referrer"  # the token came from a page URL: it must not leak onwards


class SendVerificationEmailView(_Configured):
    """Mail a verification link: to the caller's address when signed in, else to ``{email}``
    (users whom the policy keeps from logging in). Always 202 alike; nothing is sent for an
    unknown or already verified address."""

    url_setting = "VERIFY_EMAIL_URL"
    authentication_classes = [DualAuthentication]

    def post(self, request: Request) -> Response:
        client = delivery.client_info(request)
        ratelimits.hit(request, "account_ip", client_ip_key(request))
        validated(_OptionalEmailInput, request.data)
        if request.user.is_authenticated:
            user = request_user(request)
            ratelimits.hit(request, "account_email", f"user:{user.pk}")
            _send(account_tokens.send_verification_email(user, client=client))
        else:
            email = validated(EmailInput, request.data)["email"]
            ratelimits.hit(request, "account_email", ratelimits.normalize_identifier(email))
            messaging.dispatch_built(account_tokens.resend_verification_email, email, client=client)
        return Response(_ACCEPTED, status=202)


def _prefers_html(accept: str) -> bool:
    """Whether ``Accept`` names an HTML type before JSON (a browser following a link), by
    position: a browser lists ``text/html`` first; the API clients send ``application/json``."""
    for media_range in accept.split(","):
        kind, *params = (part.strip().lower() for part in media_range.split(";"))
        if _refused(params):
            continue
        if kind in ("text/html", "application/xhtml+xml"):
            return True
        if kind in ("application/json", "*/*") or kind.endswith("+json"):
            return False
    return False


def _refused(params: list[str]) -> bool:
    """``q=0``: the client lists the type only to refuse it."""
    for param in params:
        name, _, value = param.partition("=")
        if name.strip() == "q":
            try:
                return float(value) == 0
            except ValueError:
                return False
    return False


class VerifyEmailView(_NoReferrer):
    """``POST {token}``: mark the address verified with the mailed token.

    ``GET ?token=`` (node-auth's form) changes nothing, as mail scanners follow links: a browser
    (``Accept`` with HTML before JSON) is sent on to the front-end page with the token (303),
    and the page POSTs it; anything else gets 405 ``EMAIL_VERIFICATION_REQUIRES_POST``, also
    while the flow is off (``DUALAUTH_VERIFY_EMAIL_URL`` empty).
    """

    url_setting = "VERIFY_EMAIL_URL"

    def enabled(self) -> bool:
        # The GET answers are the same whether the flow is on: no 404 that says it is off.
        return self.request.method in ("GET", "HEAD") or super().enabled()

    def get(self, request: Request) -> Response:
        page = dualauth_settings.VERIFY_EMAIL_URL
        if page and _prefers_html(request.META.get("HTTP_ACCEPT", "")):
            token = validated(_TokenInput, request.query_params)["token"]
            return Response(status=303, headers={"Location": page.replace("{token}", quote(token, safe=""))})
        self.headers["Allow"] = "POST"  # DRF's Allow would list GET too
        raise EmailVerificationRequiresPost()

    def post(self, request: Request) -> Response:
        ratelimits.hit(request, "account_ip", client_ip_key(request))
        account_tokens.verify_email(validated(_TokenInput, request.data)["token"])
        return Response({"success": True})


class ForgotPasswordView(_Configured):
    """Always 202, in the same time; the reset mail goes only to an existing active account."""

    url_setting = "PASSWORD_RESET_URL"

    def post(self, request: Request) -> Response:
        email = validated(EmailInput, request.data)["email"]
        ratelimits.hit(request, "account_ip", client_ip_key(request))
        ratelimits.hit(request, "account_email", ratelimits.normalize_identifier(email))
        messaging.dispatch_built(account_tokens.request_password_reset, email, client=delivery.client_info(request))
        return Response(_ACCEPTED, status=202)


class ResetPasswordView(_NoReferrer):
    """Set a new password; every session of the user is revoked (log in again)."""

    url_setting = "PASSWORD_RESET_URL"

    def post(self, request: Request) -> Response:
        data = validated(_ResetInput, request.data)
        ratelimits.hit(request, "account_ip", client_ip_key(request))
        account_tokens.reset_password(data["token"], data["password"])
        return Response({"success": True})


class ChangeEmailRequestView(_Configured):
    """Re-authenticate with the password, then mail a confirmation link to the new address.
    A taken address gets the same 202 (and no mail): the answer reveals no other account."""

    authentication_classes = [DualAuthentication]
    permission_classes = [IsAuthenticated]

    url_setting = "EMAIL_CHANGE_URL"

    def post(self, request: Request) -> Response:
        require_proof(request.data, ("password",))
        data = validated(_ChangeEmailInput, request.data)
        # The user model's limit, the same for every account: a clear 400 on the request path.
        users.user_fields_for_address(users.normalize_address(data["newEmail"]), field="newEmail", username=False)
        user = request_user(request)
        ratelimits.hit(request, "account_ip", client_ip_key(request))
        ratelimits.hit(request, "account_email", f"user:{user.pk}")  # no flooding other inboxes
        with ratelimits.guarded_check(request, "reauthentication", user.pk):
            account_tokens.check_reauthentication(user, data["password"])
        # Off the request path: whether another account has the address must not show in the time.
        messaging.dispatch_built(account_tokens.email_change_mail, user.pk, data["newEmail"],
                                 client=delivery.client_info(request))
        return Response(_ACCEPTED, status=202)


class ChangeEmailConfirmView(_NoReferrer):
    """Switch to the confirmed address; the old address gets a notice."""

    url_setting = "EMAIL_CHANGE_URL"

    def post(self, request: Request) -> Response:
        token = validated(_TokenInput, request.data)["token"]
        ratelimits.hit(request, "account_ip", client_ip_key(request))
        _, notice = account_tokens.confirm_email_change(token)
        _send(notice)
        return Response({"success": True})
