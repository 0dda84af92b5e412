"""Apple (issue 19): the authorization-code exchange of the native flow with a client secret JWT,
Apple's refresh token kept encrypted at rest, and its revocation when the link or the account
goes, against the Apple stand-in on 127.0.0.1 (``tests/social/apple_standin.py``). Endpoints run
under both deliveries."""

from __future__ import annotations

import hashlib
import io
import logging
import pickle
from collections.abc import Iterator
from typing import Any

import jwt
import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db import transaction

from django_dualauth import checks as dualauth_checks
from django_dualauth.conf import snapshot
from django_dualauth.crypto import open_token, seal_token
from django_dualauth.models import AuthSession, LinkedAccount, ProviderTokenRevocation
from django_dualauth.services import accounts, social_tokens
from django_dualauth.services import staff as staff_actions
from django_dualauth.signals import provider_token_revoked
from django_dualauth.testing import AuthClient
from tests.conftest import PASSWORD, capture
from tests.social.apple_standin import AppleStandIn, AppleTeam, AppleUser
from tests.social.helpers import APPLE_BUNDLE, APPLE_SERVICES, get_nonce

pytestmark = pytest.mark.django_db

User = get_user_model()
ALICE = AppleUser("001122.alice", "alice@example.com")
BOB = AppleUser("003344.bob", "bob@example.com")


@pytest.fixture
def apple_rest() -> Iterator[AppleStandIn]:
    standin = AppleStandIn()
    yield standin
    standin.stop()


@pytest.fixture
def team(apple_rest: AppleStandIn) -> AppleTeam:
    team = apple_rest.register_team()
    apple_rest.register_client(APPLE_BUNDLE, team)
    apple_rest.register_client(APPLE_SERVICES, team)
    return team


def apple_options(apple_rest: AppleStandIn, team: AppleTeam | None, **extra: Any) -> dict[str, Any]:
    keyed = {"team_id": team.team_id, "key_id": team.key_id, "private_key": team.private_pem} if team else {}
    return {"apple": {"client_ids": [APPLE_BUNDLE, APPLE_SERVICES], **apple_rest.provider_options, **keyed, **extra}}


@pytest.fixture
def keyed(settings: Any, apple_rest: AppleStandIn, team: AppleTeam) -> AppleStandIn:
    settings.DUALAUTH_SOCIAL_PROVIDERS = apple_options(apple_rest, team)
    return apple_rest


def identity_token(apple_rest: AppleStandIn, nonce: str, user: AppleUser = ALICE, **claims: Any) -> str:
    return apple_rest.issuer.mint(apple_rest.issuer.claims(
        aud=claims.pop("aud", APPLE_BUNDLE), nonce=hashlib.sha256(nonce.encode()).hexdigest(), sub=user.sub,
        email=user.email, email_verified="true", **claims))


def apple_sign_in(client: AuthClient, apple_rest: AppleStandIn, *, user: AppleUser = ALICE, code: str | None = "",
                  **body: Any) -> Any:
    """The app's ``oauth/apple/token``: the identity token and (unless ``code`` is None) an
    authorization code the stand-in issued for ``user`` (``code`` given: that one)."""
    nonce = get_nonce(client, "apple")
    sent = {"idToken": identity_token(apple_rest, nonce, user), "nonce": nonce, **body}
    if code is not None:
        sent["authorizationCode"] = code or apple_rest.issue_code(APPLE_BUNDLE, user)
    return client._remember(client.post(client.url("oauth/apple/token"), sent))


def issued_refresh_tokens(apple_rest: AppleStandIn) -> list[str]:
    return list(apple_rest._state.refresh_tokens)


def _delete(client: AuthClient, path: str, data: Any = None) -> Any:
    return client.client.delete(path, data or {}, format="json", **client.headers())


def _with_password(user: Any) -> Any:
    user.set_password(PASSWORD)
    user.save(update_fields=["password"])
    return user


# --- the code exchange ------------------------------------------------------------------------------

def test_the_code_is_exchanged_and_the_refresh_token_is_kept_encrypted(
        auth_client: AuthClient, keyed: AppleStandIn, caplog: Any) -> None:
    caplog.set_level(logging.DEBUG)
    response = apple_sign_in(auth_client, keyed)

    assert response.status_code == 200, response.content
    (raw,) = issued_refresh_tokens(keyed)
    link = LinkedAccount.objects.get()
    assert (link.provider, link.provider_account_id, link.provider_token_client_id) == ("apple", ALICE.sub,
                                                                                         APPLE_BUNDLE)
    stored = LinkedAccount.objects.values_list("provider_token", flat=True).get()
    assert stored and raw not in stored and raw.split(".")[0] not in stored  # the column holds no raw token
    assert open_token(stored) == raw
    assert raw not in caplog.text
    assert auth_client.me().status_code == 200


def test_the_client_secret_is_an_es256_jwt_with_apples_claims_and_is_reused(keyed: AppleStandIn,
                                                                              team: AppleTeam) -> None:
    signer = snapshot().social_providers["apple"].client_secret_jwt
    assert signer is not None
    secret = signer.for_client(APPLE_BUNDLE)
    header = jwt.get_unverified_header(secret)
    assert (header["alg"], header["kid"]) == ("ES256", team.key_id)
    claims = jwt.decode(secret, team.private_key.public_key(), algorithms=["ES256"],
                        audience="https://appleid.apple.com")
    assert (claims["iss"], claims["sub"]) == (team.team_id, APPLE_BUNDLE)
    assert 0 < claims["exp"] - claims["iat"] <= 3600
    assert signer.for_client(APPLE_BUNDLE) == secret  # kept per process, not signed per request
    assert jwt.decode(signer.for_client(APPLE_SERVICES), options={"verify_signature": False})["sub"] == APPLE_SERVICES


def test_a_wrong_client_secret_is_refused_and_nothing_is_written(
        auth_client: AuthClient, settings: Any, apple_rest: AppleStandIn, team: AppleTeam) -> None:
    other = apple_rest.register_team(team.team_id, team.key_id)  # the same ids, another key
    settings.DUALAUTH_SOCIAL_PROVIDERS = apple_options(apple_rest, other)
    response = apple_sign_in(auth_client, apple_rest)
    assert response.status_code == 400 and response.json()["code"] == "OAUTH_CODE_EXCHANGE_FAILED"
    assert not User.objects.exists() and not LinkedAccount.objects.exists() and not AuthSession.objects.exists()
    assert apple_rest.token_requests == 1


def test_a_reused_code_is_refused(auth_client: AuthClient, keyed: AppleStandIn) -> None:
    code = keyed.issue_code(APPLE_BUNDLE, ALICE)
    assert apple_sign_in(auth_client, keyed, code=code).status_code == 200
    again = apple_sign_in(type(auth_client)(auth_client.delivery), keyed, code=code)
    assert again.status_code == 400 and again.json()["code"] == "OAUTH_CODE_EXCHANGE_FAILED"
    assert AuthSession.objects.count() == 1


def test_a_code_of_another_apple_account_is_refused(auth_client: AuthClient, keyed: AppleStandIn) -> None:
    code = keyed.issue_code(APPLE_BUNDLE, AppleUser("999.mallory", "mallory@example.com"))
    response = apple_sign_in(auth_client, keyed, code=code)
    assert response.status_code == 400 and response.json()["code"] == "OAUTH_CODE_EXCHANGE_FAILED"
    assert not LinkedAccount.objects.exists()


def test_apple_down_at_the_exchange_is_a_503_and_writes_nothing(auth_client: AuthClient, keyed: AppleStandIn) -> None:
    keyed.down = True
    response = apple_sign_in(auth_client, keyed)
    assert response.status_code == 503 and response.json()["code"] == "PROVIDER_UNAVAILABLE"
    assert not User.objects.exists() and not AuthSession.objects.exists()


def test_without_the_team_key_the_code_is_ignored(auth_client: AuthClient, settings: Any,
                                                  apple_rest: AppleStandIn) -> None:
    settings.DUALAUTH_SOCIAL_PROVIDERS = apple_options(apple_rest, None)
    assert apple_sign_in(auth_client, apple_rest).status_code == 200
    assert apple_rest.token_requests == 0 and LinkedAccount.objects.get().provider_token == ""


def test_a_later_sign_in_replaces_the_kept_token_without_revoking(auth_client: AuthClient,
                                                                  keyed: AppleStandIn) -> None:
    assert apple_sign_in(auth_client, keyed).status_code == 200
    assert apple_sign_in(type(auth_client)(auth_client.delivery), keyed).status_code == 200
    first, second = issued_refresh_tokens(keyed)
    assert open_token(LinkedAccount.objects.get().provider_token) == second
    assert keyed.revoked == []  # revoking the old one would end the user's whole authorization


def test_a_code_from_apples_js_on_the_web_is_exchanged_with_the_redirect_uri(
        auth_client: AuthClient, settings: Any, apple_rest: AppleStandIn, team: AppleTeam) -> None:
    web = "https://api.example.com/auth/oauth/apple/callback"
    settings.DUALAUTH_SOCIAL_PROVIDERS = {"apple": {**apple_options(apple_rest, team)["apple"],
                                                    "client_ids": [APPLE_SERVICES, APPLE_BUNDLE], "redirect_uri": web}}
    nonce = get_nonce(auth_client, "apple")
    body = {"idToken": identity_token(apple_rest, nonce, aud=APPLE_SERVICES), "nonce": nonce,
            "authorizationCode": apple_rest.issue_code(APPLE_SERVICES, ALICE, redirect_uri=web)}
    response = auth_client._remember(auth_client.post(auth_client.url("oauth/apple/token"), body))
    assert response.status_code == 200, response.content
    assert LinkedAccount.objects.get().provider_token_client_id == APPLE_SERVICES


def test_an_oversized_code_is_a_400(auth_client: AuthClient, keyed: AppleStandIn) -> None:
    response = apple_sign_in(auth_client, keyed, code="x" * 5000)
    assert response.status_code == 400 and response.json()["code"] == "VALIDATION_ERROR"
    assert keyed.token_requests == 0


def _link(client: AuthClient, apple_rest: AppleStandIn, code: str | None) -> Any:
    nonce = get_nonce(client, "apple")
    body = {"idToken": identity_token(apple_rest, nonce), "nonce": nonce}
    if code is not None:
        body["authorizationCode"] = code
    return client.post(client.url("oauth/apple/link"), body)


def test_linking_apple_from_a_session_keeps_the_token_and_unlinking_revokes_it(
        auth_client: AuthClient, keyed: AppleStandIn, user_factory: Any,
        django_capture_on_commit_callbacks: Any) -> None:
    user_factory(email="owner@example.com")
    assert auth_client.login("owner@example.com", PASSWORD).status_code == 200
    refused = _link(auth_client, keyed, "c" + "0" * 40)  # a code Apple refuses: nothing linked
    assert refused.status_code == 400 and refused.json()["code"] == "OAUTH_CODE_EXCHANGE_FAILED"
    assert not LinkedAccount.objects.exists()
    response = _link(auth_client, keyed, keyed.issue_code(APPLE_BUNDLE, ALICE))
    assert response.status_code == 200, response.content
    (raw,) = issued_refresh_tokens(keyed)
    assert open_token(LinkedAccount.objects.get().provider_token) == raw
    with django_capture_on_commit_callbacks(execute=True):
        assert _delete(auth_client, auth_client.url(f"linked-accounts/apple/{ALICE.sub}")).status_code == 200
    assert [r.token for r in keyed.revoked] == [raw]


# --- revocation -------------------------------------------------------------------------------------

def test_deleting_the_account_revokes_the_token_after_the_commit(
        auth_client: AuthClient, keyed: AppleStandIn, django_capture_on_commit_callbacks: Any) -> None:
    assert apple_sign_in(auth_client, keyed).status_code == 200
    (raw,) = issued_refresh_tokens(keyed)
    _with_password(User.objects.get())
    events = capture(provider_token_revoked)
    received = next(events)
    with django_capture_on_commit_callbacks(execute=True):
        response = _delete(auth_client, auth_client.url("account"), {"password": PASSWORD})
        assert response.status_code == 200, response.content
        assert keyed.revoked == []  # not before the commit
    (revocation,) = keyed.revoked
    assert (revocation.client_id, revocation.token, revocation.token_type_hint) == (APPLE_BUNDLE, raw,
                                                                                    "refresh_token")
    assert keyed.refresh_token_client(raw) is None
    assert not ProviderTokenRevocation.objects.exists()
    assert [(e["provider"], e["revoked"], e["error"]) for e in received] == [("apple", True, "")]
    events.close()


def test_apple_down_at_deletion_the_deletion_succeeds_and_the_revocation_stays_queued(
        auth_client: AuthClient, keyed: AppleStandIn, django_capture_on_commit_callbacks: Any,
        caplog: Any) -> None:
    caplog.set_level(logging.INFO)
    assert apple_sign_in(auth_client, keyed).status_code == 200
    (raw,) = issued_refresh_tokens(keyed)
    user = _with_password(User.objects.get())
    keyed.down = True
    with django_capture_on_commit_callbacks(execute=True):
        response = _delete(auth_client, auth_client.url("account"), {"password": PASSWORD})
    assert response.status_code == 200
    assert not User.objects.filter(pk=user.pk).exists() and not LinkedAccount.objects.exists()
    row = ProviderTokenRevocation.objects.get()
    assert (row.provider, row.client_id, row.user_id, row.attempts) == ("apple", APPLE_BUNDLE, str(user.pk), 1)
    assert row.last_error.startswith("unavailable") and raw not in row.token and open_token(row.token) == raw
    assert "auth.social.token_revocation_failed" in caplog.text and raw not in caplog.text
    # Apple is back: the command sends what is queued.
    keyed.down = False
    call_command("dualauth_revoke_provider_tokens", "--older-than", "0", stdout=_Sink())
    assert [r.token for r in keyed.revoked] == [raw] and not ProviderTokenRevocation.objects.exists()


def test_a_rolled_back_deletion_revokes_nothing(keyed: AppleStandIn, client_factory: Any,
                                                django_capture_on_commit_callbacks: Any) -> None:
    assert apple_sign_in(client_factory("bearer"), keyed).status_code == 200
    user = User.objects.get()
    with django_capture_on_commit_callbacks(execute=True) as callbacks, pytest.raises(RuntimeError):
        with transaction.atomic():
            accounts.remove_account(user)
            raise RuntimeError("rolled back")
    assert callbacks == [] and keyed.revoked == [] and not ProviderTokenRevocation.objects.exists()
    assert LinkedAccount.objects.get().provider_token


def test_unlinking_apple_revokes_its_token(auth_client: AuthClient, keyed: AppleStandIn,
                                           django_capture_on_commit_callbacks: Any) -> None:
    assert apple_sign_in(auth_client, keyed).status_code == 200
    (raw,) = issued_refresh_tokens(keyed)
    _with_password(User.objects.get())  # another way to sign in, or the unlink is refused
    with django_capture_on_commit_callbacks(execute=True):
        response = _delete(auth_client, auth_client.url(f"linked-accounts/apple/{ALICE.sub}"))
    assert response.status_code == 200, response.content
    assert [(r.client_id, r.token) for r in keyed.revoked] == [(APPLE_BUNDLE, raw)]
    assert User.objects.exists()


@pytest.mark.parametrize("how", ["staff", "admin"])
def test_every_deletion_path_revokes(keyed: AppleStandIn, client_factory: Any, user_factory: Any, how: str,
                                     django_capture_on_commit_callbacks: Any) -> None:
    assert apple_sign_in(client_factory("bearer"), keyed).status_code == 200
    (raw,) = issued_refresh_tokens(keyed)
    user = User.objects.get(email=ALICE.email)
    with django_capture_on_commit_callbacks(execute=True):
        if how == "staff":
            staff_actions.delete(user, staff=user_factory(email="staff@example.com", is_staff=True,
                                                          is_superuser=True), reason="ticket")
        else:  # the Django admin's delete, a shell's user.delete()
            user.delete()
    assert [r.token for r in keyed.revoked] == [raw]


def test_a_token_apple_refuses_to_revoke_is_dropped(keyed: AppleStandIn, client_factory: Any,
                                                   django_capture_on_commit_callbacks: Any) -> None:
    assert apple_sign_in(client_factory("bearer"), keyed).status_code == 200
    keyed._state.clients.pop(APPLE_BUNDLE)  # Apple answers invalid_client: nothing left to retry
    events = capture(provider_token_revoked)
    received = next(events)
    with django_capture_on_commit_callbacks(execute=True):
        User.objects.get().delete()
    assert not ProviderTokenRevocation.objects.exists()
    assert [(e["revoked"], e["error"]) for e in received] == [(False, "refused: invalid_client")]
    events.close()


DISPATCHED: list[Any] = []


def collect(send: Any) -> None:
    """A ``DUALAUTH_MESSAGE_DISPATCHER`` that keeps what it is given (a task queue's stand-in)."""
    DISPATCHED.append(send)


def test_the_revocation_goes_through_the_dispatcher_as_a_picklable_call(
        keyed: AppleStandIn, client_factory: Any, settings: Any, django_capture_on_commit_callbacks: Any) -> None:
    assert apple_sign_in(client_factory("bearer"), keyed).status_code == 200
    (raw,) = issued_refresh_tokens(keyed)
    settings.DUALAUTH_MESSAGE_DISPATCHER = "tests.test_social_apple.collect"
    DISPATCHED.clear()
    with django_capture_on_commit_callbacks(execute=True):
        User.objects.get().delete()
    (send,) = DISPATCHED
    assert keyed.revoked == []  # the request path sent nothing itself
    sent = pickle.loads(pickle.dumps(send))  # what a task queue would do
    assert raw not in repr(pickle.dumps(send))  # the call names the queued row, not the token
    sent()
    assert [r.token for r in keyed.revoked] == [raw]


# --- encryption keys ---------------------------------------------------------------------------------

K1, K2 = "k1-" + "a" * 40, "k2-" + "b" * 40


def test_token_keys_rotate_encrypt_with_the_first_decrypt_with_any(settings: Any) -> None:
    settings.DUALAUTH_SOCIAL_TOKEN_KEYS = [K1]
    old = seal_token("refresh-1")
    settings.DUALAUTH_SOCIAL_TOKEN_KEYS = [K2, K1]
    new = seal_token("refresh-2")
    assert open_token(old) == "refresh-1" and open_token(new) == "refresh-2"
    settings.DUALAUTH_SOCIAL_TOKEN_KEYS = [K2]
    assert open_token(new) == "refresh-2" and open_token(old) is None  # K1 retired
    settings.DUALAUTH_SOCIAL_TOKEN_KEYS = [K1]
    assert open_token(new) is None


def test_the_default_key_derives_from_secret_key_and_follows_its_fallbacks(settings: Any) -> None:
    settings.SECRET_KEY = "s1-" + "c" * 50
    sealed = seal_token("refresh")
    assert settings.SECRET_KEY not in sealed
    settings.SECRET_KEY, settings.SECRET_KEY_FALLBACKS = "s2-" + "d" * 50, ["s1-" + "c" * 50]
    assert open_token(sealed) == "refresh"
    settings.SECRET_KEY_FALLBACKS = []
    assert open_token(sealed) is None
    assert open_token(sealed[:-4] + "AAAA") is None  # tampered: refused, not garbage


def test_a_queued_token_whose_key_was_retired_is_dropped_not_retried(keyed: AppleStandIn, settings: Any,
                                                                     client_factory: Any) -> None:
    settings.DUALAUTH_SOCIAL_TOKEN_KEYS = [K1]
    assert apple_sign_in(client_factory("bearer"), keyed).status_code == 200
    User.objects.get().delete()  # no on_commit run here: the row stays queued
    settings.DUALAUTH_SOCIAL_TOKEN_KEYS = [K2]
    assert social_tokens.retry_pending() == (1, 0)
    assert keyed.revoked == [] and not ProviderTokenRevocation.objects.exists()


def _reseal(*args: str) -> tuple[int, str]:
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command("dualauth_reseal_provider_tokens", *args, stdout=out, stderr=err)
    except SystemExit as exit_:
        return int(exit_.code or 0), out.getvalue() + err.getvalue()
    return 0, out.getvalue() + err.getvalue()


def test_resealing_lets_the_old_key_go(keyed: AppleStandIn, settings: Any, client_factory: Any) -> None:
    """The last step of a key rotation: every stored token (a link's, a queued revocation's)
    encrypted again under the first key, after which the old key can leave the list."""
    settings.DUALAUTH_SOCIAL_TOKEN_KEYS = [K1]
    assert apple_sign_in(client_factory("bearer"), keyed).status_code == 200
    assert apple_sign_in(client_factory("bearer"), keyed, user=BOB).status_code == 200
    User.objects.get(email=BOB.email).delete()  # no on_commit here: its revocation stays queued
    raw = open_token(LinkedAccount.objects.get().provider_token)
    assert raw is not None
    settings.DUALAUTH_SOCIAL_TOKEN_KEYS = [K2, K1]
    code, dry = _reseal("--dry-run")
    assert code == 0 and "2 token(s) would be resealed, 0 under no configured key" in dry
    before = LinkedAccount.objects.get().provider_token
    assert LinkedAccount.objects.get().provider_token == before  # a dry run writes nothing
    code, out = _reseal()
    assert code == 0 and "dualauth.LinkedAccount: 1 of 1 resealed" in out
    assert "dualauth.ProviderTokenRevocation: 1 of 1 resealed" in out
    settings.DUALAUTH_SOCIAL_TOKEN_KEYS = [K2]  # K1 removed
    assert open_token(LinkedAccount.objects.get().provider_token) == raw
    assert open_token(ProviderTokenRevocation.objects.get().token) is not None
    assert raw not in out


def test_resealing_reports_tokens_no_key_opens_and_fails(keyed: AppleStandIn, settings: Any,
                                                         client_factory: Any) -> None:
    settings.DUALAUTH_SOCIAL_TOKEN_KEYS = [K1]
    assert apple_sign_in(client_factory("bearer"), keyed).status_code == 200
    sealed = LinkedAccount.objects.get().provider_token
    settings.DUALAUTH_SOCIAL_TOKEN_KEYS = [K2]  # K1 dropped too early
    code, out = _reseal()
    assert code == 1 and "0 token(s) resealed, 1 under no configured key" in out
    assert LinkedAccount.objects.get().provider_token == sealed  # left as it was, for K1's return


# --- system checks -----------------------------------------------------------------------------------

def _ids(settings: Any) -> list[str]:
    return [m.id for m in dualauth_checks.check_settings() if m.id in ("dualauth.E019", "dualauth.W012")]


def test_checks_e019_and_w012(settings: Any, apple_rest: AppleStandIn, team: AppleTeam) -> None:
    settings.DUALAUTH_SOCIAL_PROVIDERS = apple_options(apple_rest, team)
    assert _ids(settings) == []
    settings.DUALAUTH_SOCIAL_PROVIDERS = apple_options(apple_rest, None)
    assert _ids(settings) == ["dualauth.W012"]
    settings.DUALAUTH_SOCIAL_PROVIDERS = apple_options(apple_rest, None, team_id="T")
    assert _ids(settings) == ["dualauth.E019"]
    settings.DUALAUTH_SOCIAL_PROVIDERS = apple_options(apple_rest, None, team_id="T", key_id="K",
                                                       private_key="-----BEGIN PRIVATE KEY-----\nnope\n")
    assert _ids(settings) == ["dualauth.E019"]
    settings.DUALAUTH_SOCIAL_PROVIDERS = apple_options(apple_rest, None, redirect_uri="https://api.example/cb")
    assert _ids(settings) == ["dualauth.E019", "dualauth.W012"]
    settings.DUALAUTH_SOCIAL_PROVIDERS = apple_options(apple_rest, team)
    settings.DUALAUTH_SOCIAL_TOKEN_KEYS = ["short"]
    assert _ids(settings) == ["dualauth.E019"]


class _Sink:
    def write(self, text: str) -> None:
        pass

    def flush(self) -> None:
        pass
