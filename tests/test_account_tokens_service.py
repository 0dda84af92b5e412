"""Unit tests of ``services/account_tokens.py`` without HTTP (issue 16, item 7): when a mailed
account token stops working, and the e-mail verification policy, called directly."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.utils import timezone
from freezegun import freeze_time

from django_dualauth.exceptions import (
    AccountTokenInvalid,
    EmailNotVerified,
    EmailVerificationRequired,
    ValidationFailed,
)
from django_dualauth.services.account_tokens import (
    check_email_policy,
    request_password_reset,
    reset_password,
    send_verification_email,
    verify_email,
)
from django_dualauth.types import ClientInfo

pytestmark = pytest.mark.django_db

CLIENT = ClientInfo(ip_address="203.0.113.5", user_agent="unit")
NEW_PASSWORD = "a-new-password-42"


def token_in(mail) -> str:
    found = re.search(r"\?token=([A-Za-z0-9_-]+)", mail.body)
    assert found, mail.body
    return found[1]


def test_reset_for_an_unknown_or_inactive_address_mails_nothing(user):
    assert request_password_reset("nobody@example.com", client=CLIENT) is None
    user.is_active = False
    user.save()
    assert request_password_reset(user.email, client=CLIENT) is None


def test_reset_mail_goes_to_the_account_and_its_token_works_once(user):
    mail = request_password_reset(user.email.upper(), client=CLIENT)
    assert mail.to == [user.email]
    token = token_in(mail)
    assert reset_password(token, NEW_PASSWORD) == user
    user.refresh_from_db()
    assert user.check_password(NEW_PASSWORD)
    with pytest.raises(AccountTokenInvalid):
        reset_password(token, NEW_PASSWORD + "x")


def test_a_newer_reset_mail_voids_the_older_token(user):
    older = token_in(request_password_reset(user.email, client=CLIENT))
    newer = token_in(request_password_reset(user.email, client=CLIENT))
    with pytest.raises(AccountTokenInvalid):
        reset_password(older, NEW_PASSWORD)
    reset_password(newer, NEW_PASSWORD)


def test_a_token_of_another_purpose_is_refused(user):
    verification = token_in(send_verification_email(user, client=CLIENT))
    with pytest.raises(AccountTokenInvalid):
        reset_password(verification, NEW_PASSWORD)
    assert verify_email(verification) == user  # still unused


def test_an_expired_token_is_refused(user):
    token = token_in(request_password_reset(user.email, client=CLIENT))
    with freeze_time(timezone.now() + timedelta(days=2)), pytest.raises(AccountTokenInvalid):
        reset_password(token, NEW_PASSWORD)


def test_a_change_of_password_after_the_mail_voids_its_token(user):
    token = token_in(request_password_reset(user.email, client=CLIENT))
    user.set_password("changed-elsewhere-1")
    user.save()
    with pytest.raises(AccountTokenInvalid):
        reset_password(token, NEW_PASSWORD)


def test_a_password_the_validators_refuse_leaves_the_token_unused(user):
    token = token_in(request_password_reset(user.email, client=CLIENT))
    with pytest.raises(ValidationFailed):
        reset_password(token, "short")
    assert reset_password(token, NEW_PASSWORD) == user


@pytest.mark.parametrize("raw", [None, 42, "", "not-a-token", "x" * 5000, ["list"]])
def test_garbage_is_one_invalid_answer(raw):
    with pytest.raises(AccountTokenInvalid):
        reset_password(raw, NEW_PASSWORD)


def test_verification_mail_is_not_sent_again_once_verified(user):
    verified = verify_email(token_in(send_verification_email(user, client=CLIENT)))
    assert send_verification_email(verified, client=CLIENT) is None


def test_email_policy_none_strict_and_lazy_with_its_grace(user, settings):
    settings.DUALAUTH_EMAIL_VERIFICATION = "none"
    check_email_policy(user)
    settings.DUALAUTH_EMAIL_VERIFICATION = "strict"
    with pytest.raises(EmailNotVerified):
        check_email_policy(user)
    settings.DUALAUTH_EMAIL_VERIFICATION = "lazy"
    settings.DUALAUTH_EMAIL_VERIFICATION_GRACE = timedelta(days=7)
    check_email_policy(user)  # just joined: inside the grace
    with freeze_time(user.date_joined + timedelta(days=8)), pytest.raises(EmailVerificationRequired):
        check_email_policy(user)
    verified = verify_email(token_in(send_verification_email(user, client=CLIENT)))
    settings.DUALAUTH_EMAIL_VERIFICATION = "strict"
    check_email_policy(verified)
