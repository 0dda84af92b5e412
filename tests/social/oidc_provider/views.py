"""Test-only control endpoints of the provider: register a client or a user while it runs (the
app under test learns its own callback port after the provider has started). Each call needs
``Authorization: Bearer <control token>``, a random value only the fixture knows."""

import hmac
import json
from typing import Any

from django.conf import settings
from django.contrib.auth.models import Group, User
from django.db import transaction
from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST
from oauth2_provider.models import Application

from .claims import EMAIL_VERIFIED


def _authorized(request: HttpRequest) -> bool:
    expected = f"Bearer {settings.CONFIG['control_token']}"
    return hmac.compare_digest(request.headers.get("Authorization", ""), expected)


def save_client(spec: dict[str, Any]) -> None:
    """Create or replace the application ``spec["client_id"]`` (its secret is stored hashed)."""
    Application.objects.filter(client_id=spec["client_id"]).delete()
    Application.objects.create(
        client_id=spec["client_id"],
        client_secret=spec.get("client_secret") or "",
        client_type=spec.get("client_type", Application.CLIENT_CONFIDENTIAL),
        authorization_grant_type=Application.GRANT_AUTHORIZATION_CODE,
        redirect_uris=" ".join(spec["redirect_uris"]),
        name=spec.get("name", spec["client_id"]),
        skip_authorization=bool(spec.get("skip_authorization", False)),
        algorithm=Application.RS256_ALGORITHM,
    )


def save_user(spec: dict[str, Any]) -> str:
    """Create or update the user ``spec["username"]``; its ``sub``."""
    user, _ = User.objects.get_or_create(username=spec["username"])
    user.email = spec["email"]
    user.first_name, _, user.last_name = spec.get("name", "").partition(" ")
    user.set_password(spec["password"])
    user.save()
    group, _ = Group.objects.get_or_create(name=EMAIL_VERIFIED)
    if spec.get("email_verified", True):
        user.groups.add(group)
    else:
        user.groups.remove(group)
    return str(user.pk)


def _control(save: Any) -> Any:
    @csrf_exempt
    @require_POST
    def view(request: HttpRequest) -> JsonResponse:
        if not _authorized(request):
            return JsonResponse({"error": "forbidden"}, status=403)
        with transaction.atomic():
            result = save(json.loads(request.body))
        return JsonResponse({"ok": True, "result": result})
    return view


clients = _control(save_client)
users = _control(save_user)
