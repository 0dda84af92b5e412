"""Unit tests of ``services/first_proof.py`` without HTTP (issue 16, item 7): what the first proof
of an unverified address resets, what it leaves alone, and what it announces after commit."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

from django_dualauth.models import (
    AccountState,
    AccountToken,
    AccountTokenPurpose,
    AuthSession,
    ChallengePurpose,
    LoginChallenge,
    RecoveryCode,
    SMSDevice,
)
from django_dualauth.models.sessions import RevocationReason
from django_dualauth.services.claims import update_account_state
from django_dualauth.services.first_proof import (
    PROOF_MAGIC_LINK,
    PROOF_PASSWORD_RESET,
    Reclaimed,
    reset_before_first_proof,
)
from django_dualauth.services.sessions import issue_session
from django_dualauth.signals import account_reclaimed, two_factor_disabled
from django_dualauth.types import ClientInfo
from tests.conftest import capture

pytestmark = pytest.mark.django_db

CLIENT = ClientInfo(ip_address="203.0.113.7", user_agent="unit")


@pytest.fixture
def reclaimed_events() -> Any:
    yield from capture(account_reclaimed)


@pytest.fixture
def disabled_events() -> Any:
    yield from capture(two_factor_disabled)


def _digest(tag: str, user: Any, n: int) -> str:
    """A stand-in for a keyed digest: unique per table, user and ``n``, as the columns require."""
    return f"{tag}-{user.pk}-{n}".ljust(64, "0")


def _token(user: Any, purpose: str, n: int) -> AccountToken:
    now = timezone.now()
    return AccountToken.objects.create(user=user, purpose=purpose, token_digest=_digest(purpose, user, n),
                                       stamp="s", email=user.email, created_at=now,
                                       expires_at=now + timedelta(hours=1))


def _challenge(user: Any, n: int, *, consumed: bool = False) -> LoginChallenge:
    now = timezone.now()
    return LoginChallenge.objects.create(user=user, purpose=ChallengePurpose.LOGIN, token_digest=_digest("c", user, n),
                                         delivery="bearer", created_at=now, expires_at=now + timedelta(minutes=5),
                                         consumed_at=now - timedelta(minutes=1) if consumed else None)


def set_up_everything(user: Any) -> None:
    """What an intruder who registered the address can set up: two sessions, a confirmed and a
    pending authenticator app, recovery codes, a phone, a 2FA login half done, an e-mail change."""
    issue_session(user, delivery="bearer", client=CLIENT)
    issue_session(user, delivery="cookie", client=CLIENT)
    TOTPDevice.objects.create(user=user, name="confirmed", confirmed=True)
    TOTPDevice.objects.create(user=user, name="pending", confirmed=False)
    for n in range(3):
        RecoveryCode.objects.create(user=user, digest=_digest("r", user, n), created_at=timezone.now())
    SMSDevice.objects.create(user=user, name="phone", number="+14155550123", confirmed=True)
    update_account_state(user, two_factor_enabled=True)
    _challenge(user, 1)
    _token(user, AccountTokenPurpose.EMAIL_CHANGE, 1)


def fresh(user: Any) -> Any:
    return get_user_model().objects.get(pk=user.pk)  # no cached account state


def test_an_unverified_account_loses_everything_set_up_before_the_first_proof(user: Any) -> None:
    set_up_everything(user)
    reclaimed = reset_before_first_proof(fresh(user), proof=PROOF_MAGIC_LINK)
    assert reclaimed == Reclaimed(proof=PROOF_MAGIC_LINK, sessions=2, password=True, totp=True,
                                  recovery_codes=3, phone=True)
    assert reclaimed.anything
    assert not fresh(user).has_usable_password()
    assert not TOTPDevice.objects.filter(user=user).exists()
    assert not RecoveryCode.objects.filter(user=user).exists()
    assert not SMSDevice.objects.filter(user=user).exists()
    assert AccountState.objects.get(user=user).two_factor_enabled is False
    sessions = AuthSession.objects.filter(user=user)
    assert sessions.count() == 2
    assert all(s.revoked_at and s.revoked_reason == RevocationReason.ACCOUNT_RECLAIMED for s in sessions)
    assert not LoginChallenge.objects.filter(user=user, consumed_at__isnull=True).exists()
    assert not AccountToken.objects.filter(user=user, consumed_at__isnull=True).exists()


def test_it_does_not_mark_the_address_verified_nor_touch_other_accounts(user: Any, user_factory: Any) -> None:
    other = user_factory("bystander@example.com")
    set_up_everything(user)
    set_up_everything(other)
    reset_before_first_proof(fresh(user), proof=PROOF_PASSWORD_RESET)
    assert AccountState.objects.get(user=user).email_verified is False  # the caller marks it
    assert fresh(other).has_usable_password()
    assert TOTPDevice.objects.filter(user=other).count() == 2
    assert RecoveryCode.objects.filter(user=other).count() == 3
    assert SMSDevice.objects.filter(user=other).exists()
    assert AuthSession.objects.filter(user=other, revoked_at__isnull=True).count() == 2
    assert LoginChallenge.objects.filter(user=other, consumed_at__isnull=True).exists()
    assert AccountToken.objects.filter(user=other, consumed_at__isnull=True).exists()


def test_only_pending_email_changes_are_voided_among_mailed_tokens(user: Any) -> None:
    reset = _token(user, AccountTokenPurpose.PASSWORD_RESET, 1)  # the proof being consumed, perhaps
    change = _token(user, AccountTokenPurpose.EMAIL_CHANGE, 2)
    reset_before_first_proof(fresh(user), proof=PROOF_PASSWORD_RESET)
    reset.refresh_from_db()
    change.refresh_from_db()
    assert reset.consumed_at is None and change.consumed_at is not None


def test_a_login_challenge_consumed_earlier_keeps_its_time(user: Any) -> None:
    done = _challenge(user, 1, consumed=True)
    before = done.consumed_at
    reset_before_first_proof(fresh(user), proof=PROOF_MAGIC_LINK)
    done.refresh_from_db()
    assert done.consumed_at == before


@pytest.mark.parametrize("state", ["no row", "row, not verified"])
def test_no_account_state_row_and_an_unverified_row_are_both_unverified(user: Any, state: str) -> None:
    if state != "no row":
        AccountState.objects.create(user=user, email_verified=False)
    reclaimed = reset_before_first_proof(fresh(user), proof=PROOF_MAGIC_LINK)
    assert reclaimed is not None and reclaimed.password
    assert not fresh(user).has_usable_password()


def test_a_verified_address_changes_nothing_and_takes_no_lock(user: Any, reclaimed_events: list[Any],
                                                              django_capture_on_commit_callbacks: Any,
                                                              django_assert_num_queries: Any) -> None:
    set_up_everything(user)
    update_account_state(user, email_verified=True)
    verified = fresh(user)
    with django_capture_on_commit_callbacks(execute=True) as callbacks, django_assert_num_queries(1):
        assert reset_before_first_proof(verified, proof=PROOF_MAGIC_LINK) is None  # reads the state only
    assert callbacks == [] and reclaimed_events == []
    assert fresh(user).has_usable_password()
    assert TOTPDevice.objects.filter(user=user).count() == 2
    assert RecoveryCode.objects.filter(user=user).count() == 3
    assert AuthSession.objects.filter(user=user, revoked_at__isnull=True).count() == 2


def test_a_proof_that_lost_the_race_to_a_parallel_one_changes_nothing(user: Any) -> None:
    """The caller's user object still says unverified; a parallel proof committed meanwhile."""
    set_up_everything(user)
    stale = fresh(user)
    assert stale.dualauth_state.email_verified is False  # read (and cached) before the other proof
    AccountState.objects.filter(user=user).update(email_verified=True)
    assert reset_before_first_proof(stale, proof=PROOF_MAGIC_LINK) is None
    assert fresh(user).has_usable_password()
    assert AuthSession.objects.filter(user=user, revoked_at__isnull=True).count() == 2


def test_a_two_factor_flag_without_a_device_is_cleared_without_claiming_a_device(user: Any) -> None:
    update_account_state(user, two_factor_enabled=True)
    reclaimed = reset_before_first_proof(fresh(user), proof=PROOF_MAGIC_LINK)
    assert reclaimed is not None and reclaimed.totp is False
    assert AccountState.objects.get(user=user).two_factor_enabled is False


def test_nothing_set_up_announces_nothing(user: Any, reclaimed_events: list[Any], mailoutbox: list[Any],
                                          django_capture_on_commit_callbacks: Any) -> None:
    user.set_unusable_password()
    user.save()
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        reclaimed = reset_before_first_proof(fresh(user), proof=PROOF_MAGIC_LINK)
    assert reclaimed == Reclaimed(proof=PROOF_MAGIC_LINK, sessions=0, password=False, totp=False,
                                  recovery_codes=0, phone=False)
    assert not reclaimed.anything
    assert callbacks == [] and reclaimed_events == [] and mailoutbox == []


def test_the_owner_is_told_after_commit_and_not_before(user: Any, reclaimed_events: list[Any],
                                                       disabled_events: list[Any], mailoutbox: list[Any],
                                                       django_capture_on_commit_callbacks: Any) -> None:
    set_up_everything(user)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        reclaimed = reset_before_first_proof(fresh(user), proof=PROOF_MAGIC_LINK)
    assert mailoutbox == [] and reclaimed_events == [] and disabled_events == []  # nothing before commit
    for callback in callbacks:
        callback()
    assert [e["reclaimed"] for e in reclaimed_events] == [reclaimed]
    assert reclaimed_events[0]["user"].pk == user.pk
    assert [(e["user"].pk, e["reason"]) for e in disabled_events] == [(user.pk, "reclaimed")]
    (message,) = mailoutbox
    assert message.to == [user.email]
    assert "signed in with a link" in message.body and "The password was removed" in message.body
    assert "2 signed-in sessions ended" in message.body and "3 recovery codes were removed" in message.body


def test_the_mail_after_a_reset_says_the_password_was_replaced(user: Any, mailoutbox: list[Any],
                                                               django_capture_on_commit_callbacks: Any) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        reset_before_first_proof(fresh(user), proof=PROOF_PASSWORD_RESET)
    (message,) = mailoutbox
    assert "reset your password" in message.body and "replaced by the one you just chose" in message.body


def test_no_device_removed_sends_no_two_factor_disabled(user: Any, disabled_events: list[Any],
                                                        reclaimed_events: list[Any],
                                                        django_capture_on_commit_callbacks: Any) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        reset_before_first_proof(fresh(user), proof=PROOF_MAGIC_LINK)  # only the password
    assert len(reclaimed_events) == 1 and disabled_events == []


def test_the_audit_record_names_identifiers_only(user: Any, caplog: Any,
                                                 django_capture_on_commit_callbacks: Any) -> None:
    set_up_everything(user)
    caplog.set_level("INFO", logger="django_dualauth.audit")
    with django_capture_on_commit_callbacks(execute=True):
        reset_before_first_proof(fresh(user), proof=PROOF_MAGIC_LINK)
    (record,) = [r for r in caplog.records if "auth.account.reclaimed" in r.getMessage()]
    text = record.getMessage() + repr(record.__dict__)
    assert str(user.pk) in text and user.email not in text
