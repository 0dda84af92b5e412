"""Linking by proof of the mailbox (issue 19 §4, node-auth's ``link-request`` / ``link-verify``):
after ``OAUTH_ACCOUNT_CONFLICT`` the proven provider identity waits for the address's owner to
click a mailed, single-use link; from a session, a mailbox is linked as ``email``. Every endpoint
test runs under both deliveries."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from freezegun import freeze_time

from django_dualauth.models import AccountState, AuthSession, LinkedAccount, LinkToken, PendingLink
from django_dualauth.services.claims import update_account_state
from django_dualauth.testing import AuthClient
from tests.conftest import EMAIL, PASSWORD
from tests.social.helpers import apple, corp, google, providers, sign_in_with_google
from tests.social.standin_issuers import StandinIssuer

__all__ = ["apple", "corp", "google", "providers"]  # fixtures, imported for pytest

# both_backends: linking by mailbox runs under unique indexes and row locks, which PostgreSQL
# enforces differently from SQLite; stage 2 runs the module again there.
pytestmark = [pytest.mark.django_db, pytest.mark.both_backends]

SUB = "google-sub-of-alice"


def link_token_in(message: Any) -> str:
    match = re.search(r"https://app\.example\.com/link-verify\?token=([A-Za-z0-9_-]+)", message.body)
    assert match, message.body
    assert match.group(1) in message.alternatives[0][0]
    return match.group(1)


def _conflict(client: AuthClient, google: StandinIssuer) -> None:
    response = sign_in_with_google(client, google, sub=SUB)
    assert response.status_code == 409 and response.json()["code"] == "OAUTH_ACCOUNT_CONFLICT"


def _request(client: AuthClient, **body: Any) -> Any:
    return client.post(client.url("link-request"), body)


def _verify(client: AuthClient, token: Any, **body: Any) -> Any:
    return client._remember(client.post(client.url("link-verify"), {"token": token, **body}))


def _mailed_after_conflict(client: AuthClient, google: StandinIssuer) -> str:
    _conflict(client, google)
    response = _request(client, email=EMAIL, provider="google")
    assert response.status_code == 202 and response.json() == {"success": True}
    [message] = mail.outbox
    assert message.to == [EMAIL]
    assert "google" in message.subject.lower()
    return link_token_in(message)


# --- the conflict path ----------------------------------------------------------------------------

def test_after_a_conflict_the_owner_links_by_the_mailed_link_and_signs_in(
        auth_client: AuthClient, providers: Any, google: StandinIssuer, user: Any) -> None:
    token = _mailed_after_conflict(auth_client, google)
    assert not LinkedAccount.objects.exists()  # nothing is linked before the owner clicks

    response = _verify(auth_client, token, loginAfterLinking=True)

    assert response.status_code == 200, response.content
    link = LinkedAccount.objects.get()
    assert (link.user_id, link.provider, link.provider_account_id) == (user.pk, "google", SUB)
    assert AuthSession.objects.filter(user=user).count() == 1
    assert auth_client.access_token
    if not auth_client.is_cookie:
        assert response.json()["refreshToken"]
    assert auth_client.get(auth_client.url("me")).status_code == 200
    assert not PendingLink.objects.exists()
    # From now on the provider account signs the owner in.
    other = AuthClient(auth_client.delivery)
    assert sign_in_with_google(other, google, sub=SUB).status_code == 200


def test_without_login_after_linking_the_link_is_made_and_no_session(
        auth_client: AuthClient, providers: Any, google: StandinIssuer, user: Any) -> None:
    token = _mailed_after_conflict(auth_client, google)
    response = _verify(auth_client, token)
    assert response.status_code == 200
    body = response.json()
    assert body["success"] is True and body["linkedAccount"]["providerAccountId"] == SUB
    assert "accessToken" not in body and not AuthSession.objects.exists()


def test_a_link_token_is_single_use(auth_client: AuthClient, providers: Any, google: StandinIssuer,
                                    user: Any) -> None:
    token = _mailed_after_conflict(auth_client, google)
    assert _verify(auth_client, token).status_code == 200
    again = _verify(auth_client, token, loginAfterLinking=True)
    assert again.status_code == 400 and again.json()["code"] == "INVALID_LINK_TOKEN"
    assert not AuthSession.objects.exists()


def test_an_expired_link_token_is_refused(auth_client: AuthClient, providers: Any, google: StandinIssuer,
                                          user: Any) -> None:
    token = _mailed_after_conflict(auth_client, google)
    with freeze_time(timezone.now() + timedelta(hours=1, seconds=1)):
        response = _verify(auth_client, token)
    assert response.status_code == 400 and response.json()["code"] == "INVALID_LINK_TOKEN"
    assert not LinkedAccount.objects.exists()


def test_a_password_change_voids_the_link_token(auth_client: AuthClient, providers: Any, google: StandinIssuer,
                                                user: Any) -> None:
    token = _mailed_after_conflict(auth_client, google)
    user.set_password("another long passphrase")
    user.save()
    assert _verify(auth_client, token).json()["code"] == "INVALID_LINK_TOKEN"
    assert not LinkedAccount.objects.exists()


def test_a_newer_link_mail_voids_the_older(auth_client: AuthClient, providers: Any, google: StandinIssuer,
                                           user: Any) -> None:
    first = _mailed_after_conflict(auth_client, google)
    assert _request(auth_client, email=EMAIL, provider="google").status_code == 202
    second = link_token_in(mail.outbox[-1])
    assert _verify(auth_client, first).json()["code"] == "INVALID_LINK_TOKEN"
    assert _verify(auth_client, second).status_code == 200


def test_only_digests_are_stored(auth_client: AuthClient, providers: Any, google: StandinIssuer, user: Any) -> None:
    token = _mailed_after_conflict(auth_client, google)
    row = LinkToken.objects.get()
    assert token not in row.token_digest and len(row.token_digest) == 64
    assert EMAIL not in PendingLink.objects.get().key


def test_the_first_proof_of_an_unverified_address_resets_what_was_set_up_before(
        auth_client: AuthClient, providers: Any, google: StandinIssuer, user: Any) -> None:
    # Pre-account hijacking: someone registered the owner's address with their own password. The
    # owner's click proves the mailbox; the squatter's password must not survive it.
    token = _mailed_after_conflict(auth_client, google)
    assert _verify(auth_client, token, loginAfterLinking=True).status_code == 200
    user.refresh_from_db()
    assert not user.has_usable_password()
    assert AccountState.objects.get(user=user).email_verified


def test_a_verified_account_keeps_its_password(auth_client: AuthClient, providers: Any, google: StandinIssuer,
                                               user: Any) -> None:
    update_account_state(user, email_verified=True)
    token = _mailed_after_conflict(auth_client, google)
    assert _verify(auth_client, token).status_code == 200
    user.refresh_from_db()
    assert user.check_password(PASSWORD)


# --- what an attacker cannot do -------------------------------------------------------------------

def test_a_request_without_a_proven_identity_mails_nothing(auth_client: AuthClient, providers: Any,
                                                           user: Any) -> None:
    # No sign-in proved a Google account with this address: nobody can ask for the owner's link.
    response = _request(auth_client, email=EMAIL, provider="google")
    assert response.status_code == 202 and response.json() == {"success": True}
    assert mail.outbox == [] and not LinkToken.objects.exists()


def test_the_answer_is_the_same_whether_the_address_has_an_account(
        auth_client: AuthClient, providers: Any, google: StandinIssuer, user: Any) -> None:
    _conflict(auth_client, google)
    known = _request(auth_client, email=EMAIL, provider="google")
    unknown = _request(auth_client, email="nobody@example.com", provider="google")
    assert (known.status_code, known.json()) == (unknown.status_code, unknown.json()) == (202, {"success": True})
    assert [m.to for m in mail.outbox] == [[EMAIL]]


def test_the_pending_identity_of_another_provider_is_not_mailed(
        auth_client: AuthClient, providers: Any, google: StandinIssuer, user: Any) -> None:
    _conflict(auth_client, google)
    assert _request(auth_client, email=EMAIL, provider="apple").status_code == 202
    assert mail.outbox == []


def test_a_pending_identity_expires(auth_client: AuthClient, providers: Any, google: StandinIssuer,
                                    user: Any) -> None:
    _conflict(auth_client, google)
    with freeze_time(timezone.now() + timedelta(hours=1, seconds=1)):
        assert _request(auth_client, email=EMAIL, provider="google").status_code == 202
    assert mail.outbox == []


def test_a_guessed_token_links_nothing(auth_client: AuthClient, providers: Any, google: StandinIssuer,
                                       user: Any) -> None:
    _mailed_after_conflict(auth_client, google)
    response = _verify(auth_client, "A" * 43, loginAfterLinking=True)
    assert response.status_code == 400 and response.json()["code"] == "INVALID_LINK_TOKEN"
    assert not LinkedAccount.objects.exists() and not AuthSession.objects.exists()


def test_link_request_is_rate_limited_per_address(auth_client: AuthClient, providers: Any, google: StandinIssuer,
                                                  user: Any) -> None:
    _conflict(auth_client, google)
    answers = [_request(auth_client, email=EMAIL, provider="google").status_code for _ in range(4)]
    assert answers == [202, 202, 202, 429]


def test_a_cookie_login_after_linking_from_another_site_is_refused(
        client_factory: Any, providers: Any, google: StandinIssuer, user: Any) -> None:
    browser = client_factory("cookie")
    token = _mailed_after_conflict(browser, google)
    response = browser.post(browser.url("link-verify"), {"token": token, "loginAfterLinking": True},
                            HTTP_ORIGIN="https://evil.example")
    assert response.status_code == 403
    assert not AuthSession.objects.exists() and not LinkedAccount.objects.exists()


# --- from a session: a mailbox linked as "email" -------------------------------------------------

def test_signed_in_a_mailbox_is_linked_as_email(auth_client: AuthClient, user: Any) -> None:
    auth_client.login(EMAIL, PASSWORD)
    response = _request(auth_client, email="Alice.Work@Example.com")
    assert response.status_code == 202
    [message] = mail.outbox
    assert message.to == ["Alice.Work@example.com"]
    other = AuthClient(auth_client.delivery)  # the link is opened elsewhere, without a session
    response = _verify(other, link_token_in(message), loginAfterLinking=True)
    assert response.status_code == 200
    link = LinkedAccount.objects.get()
    assert (link.user_id, link.provider, link.provider_account_id) == (user.pk, "email", "alice.work@example.com")
    # Not the account's own address: the mailbox signs nobody in.
    assert "accessToken" not in response.json() and other.access_token is None


def test_signed_in_a_provider_account_is_linked_by_its_id_token_not_by_mail(auth_client: AuthClient,
                                                                              user: Any) -> None:
    auth_client.login(EMAIL, PASSWORD)
    response = _request(auth_client, email=EMAIL, provider="google")
    assert response.status_code == 400 and response.json()["code"] == "VALIDATION_ERROR"
    assert mail.outbox == []


def test_signed_out_a_mailbox_link_needs_a_session(auth_client: AuthClient, user: Any) -> None:
    for body in ({"email": EMAIL}, {"email": EMAIL, "provider": "email"}):
        response = _request(auth_client, **body)
        assert response.status_code == 401 and response.json()["code"] == "NOT_AUTHENTICATED"


def test_a_signed_in_cookie_request_without_csrf_is_refused(client_factory: Any, user: Any) -> None:
    browser = client_factory("cookie")
    browser.login(EMAIL, PASSWORD)
    response = browser.client.post(browser.url("link-request"), {"email": "x@example.com"}, format="json",
                                   HTTP_ORIGIN=browser.origin)
    assert response.status_code == 403
    assert mail.outbox == []


def test_an_email_link_is_not_a_way_to_sign_in(auth_client: AuthClient, providers: Any, google: StandinIssuer,
                                               user: Any) -> None:
    user.set_unusable_password()
    user.save()
    now = timezone.now()
    LinkedAccount.objects.create(user=user, provider="google", provider_account_id=SUB, linked_at=now)
    LinkedAccount.objects.create(user=user, provider="email", provider_account_id="b@example.com", linked_at=now)
    sign_in_with_google(auth_client, google, sub=SUB)
    response = auth_client.client.delete(auth_client.url(f"linked-accounts/google/{SUB}"), format="json",
                                         **auth_client.headers())
    assert response.status_code == 409 and response.json()["code"] == "LAST_SIGN_IN_METHOD"
    response = auth_client.client.delete(auth_client.url("linked-accounts/email/b@example.com"), format="json",
                                         **auth_client.headers())
    assert response.status_code == 200


# --- bad input, off, cost -----------------------------------------------------------------------

@pytest.mark.parametrize("body", [{}, {"email": "not-an-address"}, {"email": 5}, {"email": EMAIL, "provider": 3},
                                  {"email": EMAIL, "provider": "x" * 40}])
def test_link_request_bad_input(auth_client: AuthClient, body: dict[str, Any]) -> None:
    response = auth_client.post(auth_client.url("link-request"), body)
    assert response.status_code == 400 and response.json()["code"] == "VALIDATION_ERROR"


@pytest.mark.parametrize("body", [{}, {"token": 5}, {"token": "x" * 300},
                                  {"token": "abc", "loginAfterLinking": "maybe"}])
def test_link_verify_bad_input(auth_client: AuthClient, body: dict[str, Any]) -> None:
    response = auth_client.post(auth_client.url("link-verify"), body)
    assert response.status_code == 400 and response.json()["code"] == "VALIDATION_ERROR"


def test_an_unconfigured_provider_is_not_found(auth_client: AuthClient, providers: Any) -> None:
    response = _request(auth_client, email=EMAIL, provider="nosuch")
    assert response.status_code == 404


def test_off_without_the_url_setting(auth_client: AuthClient, settings: Any) -> None:
    settings.DUALAUTH_LINK_VERIFY_URL = ""
    assert _request(auth_client, email=EMAIL).status_code == 404
    assert _verify(auth_client, "A" * 43).status_code == 404


def test_link_verify_query_count(auth_client: AuthClient, providers: Any, google: StandinIssuer, user: Any) -> None:
    update_account_state(user, email_verified=True)
    token = _mailed_after_conflict(auth_client, google)
    with CaptureQueriesContext(connection) as linked:
        assert _verify(auth_client, token).status_code == 200
    # Five queries: UPDATE the token (spending it), SELECT it with the user and state, SELECT an
    # existing link, INSERT the link, DELETE the pending rows; and four savepoint statements (the
    # transaction, and the one around the INSERT that a unique conflict may abort).
    statements = [q["sql"] for q in linked.captured_queries]
    assert len([s for s in statements if "SAVEPOINT" not in s]) == 5, statements
    assert len(statements) == 9, statements


def test_the_settings_are_checked(settings: Any) -> None:
    from django.core.checks import run_checks

    def ids() -> list[str]:
        return sorted(m.id for m in run_checks() if m.id in ("dualauth.E010", "dualauth.E017"))

    assert ids() == []
    settings.DUALAUTH_LINK_VERIFY_URL = "https://app.example.com/link-verify"
    assert ids() == ["dualauth.E010"]
    settings.DUALAUTH_LINK_VERIFY_URL = "https://app.example.com/link-verify?token={token}"
    settings.DUALAUTH_LINK_TOKEN_LIFETIME = timedelta(0)
    assert ids() == ["dualauth.E017"]


def test_email_is_a_reserved_provider_name() -> None:
    from django_dualauth.social_providers import ProviderConfigError, parse_providers

    with pytest.raises(ProviderConfigError, match="reserved"):
        parse_providers({"email": {"client_ids": ["x"]}})


def test_the_purge_deletes_expired_pending_links_and_link_tokens(auth_client: AuthClient, providers: Any,
                                                                 google: StandinIssuer, user: Any) -> None:
    from io import StringIO

    from django.core.management import call_command

    _mailed_after_conflict(auth_client, google)
    out = StringIO()
    with freeze_time(timezone.now() + timedelta(hours=2)):
        call_command("dualauth_purge", stdout=out)
    assert "1 pending link(s) deleted" in out.getvalue() and "1 link token(s) deleted" in out.getvalue()
    assert not PendingLink.objects.exists() and not LinkToken.objects.exists()


def test_login_after_linking_asks_for_the_second_factor(auth_client: AuthClient, providers: Any,
                                                        google: StandinIssuer, user: Any) -> None:
    from tests.test_two_factor import enrol

    update_account_state(user, email_verified=True)  # else this first proof would reset the 2FA
    enrol(AuthClient("bearer", password=PASSWORD), user)
    AuthSession.objects.filter(user=user).delete()
    token = _mailed_after_conflict(auth_client, google)
    response = _verify(auth_client, token, loginAfterLinking=True)
    assert response.status_code == 200
    body = response.json()
    assert body["requiresTwoFactor"] is True and body["tempToken"] and "accessToken" not in body
    assert not AuthSession.objects.filter(user=user).exists()
    assert LinkedAccount.objects.get().user_id == user.pk
