"""services.registration without HTTP: what is written, what is refused, what is returned."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth import get_user_model

from django_dualauth.exceptions import EmailTaken, ValidationFailed
from django_dualauth.models import EmailClaim
from django_dualauth.services.registration import register_user
from django_dualauth.types import ClientInfo
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db

CLIENT = ClientInfo(ip_address="127.0.0.1")


def test_register_creates_the_account_with_the_normalised_address_and_claims_it(settings: Any) -> None:
    settings.DUALAUTH_EMAIL_VERIFICATION = "none"
    registered = register_user("  new@EXAMPLE.com ", PASSWORD, client=CLIENT)
    user = get_user_model().objects.get()
    assert registered.user == user and user.email == "new@example.com" and user.check_password(PASSWORD)
    assert registered.verification is None
    assert EmailClaim.objects.get().user_id == user.pk


def test_register_returns_the_verification_mail_unsent(settings: Any, mailoutbox: list[Any]) -> None:
    settings.DUALAUTH_EMAIL_VERIFICATION = "optional"
    registered = register_user("new@example.com", PASSWORD, client=CLIENT)
    assert registered.verification is not None and registered.verification.to == ["new@example.com"]
    assert mailoutbox == []  # the caller sends it, off the request path


def test_a_refused_password_writes_nothing(settings: Any) -> None:
    settings.AUTH_PASSWORD_VALIDATORS = [
        {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 40}}]
    with pytest.raises(ValidationFailed) as caught:
        register_user("new@example.com", "short password", client=CLIENT)
    assert "password" in caught.value.as_dict()["fields"]
    assert not get_user_model().objects.exists() and not EmailClaim.objects.exists()


def test_an_address_in_use_in_another_case_is_taken_and_writes_nothing(settings: Any) -> None:
    settings.DUALAUTH_EMAIL_VERIFICATION = "none"
    register_user("new@example.com", PASSWORD, client=CLIENT)
    with pytest.raises(EmailTaken):
        register_user("NEW@example.com", PASSWORD, client=CLIENT)
    assert get_user_model().objects.count() == 1 and EmailClaim.objects.count() == 1
