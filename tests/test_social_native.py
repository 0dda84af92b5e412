"""Social sign-in with an id_token (issue 19, the native flow): stand-in Google, Apple and OpenID
Connect issuers on 127.0.0.1, real RS256/ES256 tokens, every endpoint under both deliveries."""

from __future__ import annotations

import hashlib
import time
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from django.contrib.auth import get_user_model
from django_otp.plugins.otp_totp.models import TOTPDevice

from django_dualauth.models import AccountState, AuthSession, LinkedAccount, OAuthNonce
from django_dualauth.services.access_tokens import decode_access_token
from django_dualauth.services.claims import update_account_state
from django_dualauth.signals import social_account_linked, social_account_unlinked
from django_dualauth.testing import AuthClient
from tests.conftest import EMAIL, PASSWORD, capture
from tests.social.helpers import (
    APPLE_BUNDLE,
    CORP_CLIENT,
    GOOGLE_ANDROID,
    GOOGLE_IOS,
    GOOGLE_WEB,
    apple,
    corp,
    exchange,
    get_nonce,
    google,
    google_token,
    provider_settings,
    providers,
    sign_in_with_google,
)
from tests.social.standin_issuers import StandinIssuer

__all__ = ["apple", "corp", "google", "providers"]  # fixtures, imported for pytest

pytestmark = pytest.mark.django_db

User = get_user_model()


def _claims(client: AuthClient) -> dict[str, Any]:
    assert client.access_token
    return decode_access_token(client.access_token).claims


def _delete(client: AuthClient, path: str) -> Any:
    return client.client.delete(path, format="json", **client.headers())


# --- sign-up, sign-in, the session ----------------------------------------------------------------

def test_a_first_google_sign_in_creates_an_account_without_a_password(
        auth_client: AuthClient, providers: Any, google: StandinIssuer) -> None:
    with_names = {"given_name": "Alice", "family_name": "Liddell"}
    response = sign_in_with_google(auth_client, google, **with_names)

    assert response.status_code == 200, response.content
    user = User.objects.get(email=EMAIL)
    assert not user.has_usable_password()
    assert (user.first_name, user.last_name) == ("Alice", "Liddell")
    link = LinkedAccount.objects.get(user=user)
    assert (link.provider, link.provider_account_id, link.email) == ("google", "1234567890", EMAIL)
    assert AccountState.objects.get(user=user).email_verified  # the provider verified it
    claims = _claims(auth_client)
    assert claims["loginProvider"] == "google" and claims["isEmailVerified"] is True
    assert AuthSession.objects.get(user=user).auth_methods == ["fed"]
    me = auth_client.me().json()
    assert me["loginProvider"] == "google" and me["hasPassword"] is False


def test_the_next_sign_in_finds_the_account_by_sub_not_by_address(
        auth_client: AuthClient, providers: Any, google: StandinIssuer) -> None:
    assert sign_in_with_google(auth_client, google).status_code == 200
    # The provider's address changed: the account is the sub's, and the link shows the new one.
    response = sign_in_with_google(type(auth_client)(auth_client.delivery), google, email="alice@new.example")
    assert response.status_code == 200
    assert User.objects.count() == 1
    assert LinkedAccount.objects.get().email == "alice@new.example"
    assert AuthSession.objects.count() == 2


@pytest.mark.parametrize("issuer", ["https://accounts.google.com", "accounts.google.com"])
def test_both_issuer_forms_google_documents_are_accepted(
        auth_client: AuthClient, providers: Any, google: StandinIssuer, issuer: str) -> None:
    assert sign_in_with_google(auth_client, google, iss=issuer).status_code == 200


@pytest.mark.parametrize(("aud", "azp"), [(GOOGLE_WEB, None), (GOOGLE_IOS, GOOGLE_IOS), (GOOGLE_WEB, GOOGLE_ANDROID)])
def test_every_client_id_of_the_provider_is_an_accepted_audience(
        auth_client: AuthClient, providers: Any, google: StandinIssuer, aud: str, azp: str | None) -> None:
    # Android's Credential Manager: aud is the web (server) client id, azp the Android one.
    assert sign_in_with_google(auth_client, google, aud=aud, azp=azp).status_code == 200


# --- the negative cases -----------------------------------------------------------------------------

REFUSED_CLAIMS = {
    "wrong aud": {"aud": "someone-else.apps.googleusercontent.com"},
    "wrong azp": {"azp": "someone-else.apps.googleusercontent.com"},
    "several aud, no azp": {"aud": [GOOGLE_WEB, "other"]},
    "wrong iss": {"iss": "https://evil.example"},
    "apple's iss on google": {"iss": "https://appleid.apple.com"},
    "expired": {"exp": int(time.time()) - 3600, "iat": int(time.time()) - 7200},
    "issued in the future": {"iat": int(time.time()) + 3600, "exp": int(time.time()) + 7200},
    "issued too long ago": {"iat": int(time.time()) - 3 * 3600},
    "no sub": {"sub": None},
    "no exp": {"exp": None},
}


@pytest.mark.parametrize("claims", REFUSED_CLAIMS.values(), ids=REFUSED_CLAIMS.keys())
def test_a_token_with_a_wrong_claim_is_refused_and_writes_nothing(
        auth_client: AuthClient, providers: Any, google: StandinIssuer, claims: dict[str, Any]) -> None:
    nonce = get_nonce(auth_client)
    response = exchange(auth_client, "google", google_token(google, nonce, **claims), nonce)
    assert response.status_code == 401, response.content
    assert response.json()["code"] == "INVALID_ID_TOKEN"
    assert not User.objects.exists() and not AuthSession.objects.exists()
    assert OAuthNonce.objects.get().consumed_at is None  # the nonce is spent by a valid token only


def test_a_token_signed_by_a_key_the_provider_does_not_publish_is_refused(
        auth_client: AuthClient, providers: Any, google: StandinIssuer) -> None:
    stranger = google.new_key()  # same kid scheme, not published
    nonce = get_nonce(auth_client)
    forged = google.mint(google.claims(aud=GOOGLE_WEB, nonce=nonce), key=stranger)
    assert exchange(auth_client, "google", forged, nonce).json()["code"] == "INVALID_ID_TOKEN"
    # A published kid with another key's signature: the signature check refuses it.
    forged = google.mint(google.claims(aud=GOOGLE_WEB, nonce=nonce),
                         key=type(stranger)(kid=google.keys[0].kid, alg="RS256", private=stranger.private))
    assert exchange(auth_client, "google", forged, nonce).json()["code"] == "INVALID_ID_TOKEN"
    assert not AuthSession.objects.exists()


def test_alg_none_is_refused_before_any_key_is_fetched(
        auth_client: AuthClient, providers: Any, google: StandinIssuer) -> None:
    nonce = get_nonce(auth_client)
    unsigned = jwt.encode(google.claims(aud=GOOGLE_WEB, nonce=nonce), None, algorithm="none",
                          headers={"kid": google.keys[0].kid})
    response = exchange(auth_client, "google", unsigned, nonce)
    assert response.json()["code"] == "INVALID_ID_TOKEN"
    assert google.key_fetches == 0  # refused on the pinned algorithm: no key was asked for


def test_hs256_signed_with_the_public_key_is_refused_before_any_key_is_fetched(
        auth_client: AuthClient, providers: Any, google: StandinIssuer) -> None:
    nonce = get_nonce(auth_client)
    public_pem = google.keys[0].private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    # PyJWT refuses to HMAC with a PEM key, so sign by hand the way the attack does.
    header = jwt.utils.base64url_encode(b'{"alg":"HS256","kid":"%s","typ":"JWT"}' % google.keys[0].kid.encode())
    payload = jwt.utils.base64url_encode(jwt.api_jwt.json.dumps(google.claims(aud=GOOGLE_WEB, nonce=nonce)).encode())
    import hmac as _hmac

    signature = jwt.utils.base64url_encode(_hmac.new(public_pem, header + b"." + payload, "sha256").digest())
    confused = b".".join([header, payload, signature]).decode()
    assert exchange(auth_client, "google", confused, nonce).json()["code"] == "INVALID_ID_TOKEN"
    assert google.key_fetches == 0


@pytest.mark.parametrize("header", [{"jku": "http://127.0.0.1:1/jwks"}, {"jwk": {"kty": "oct", "k": "AAAA"}}])
def test_a_token_that_names_its_own_key_is_refused(
        auth_client: AuthClient, providers: Any, google: StandinIssuer, header: dict[str, Any]) -> None:
    nonce = get_nonce(auth_client)
    token = google.mint(google.claims(aud=GOOGLE_WEB, nonce=nonce), headers=header)
    assert exchange(auth_client, "google", token, nonce).json()["code"] == "INVALID_ID_TOKEN"


def test_a_replayed_nonce_is_refused(auth_client: AuthClient, providers: Any, google: StandinIssuer) -> None:
    nonce = get_nonce(auth_client)
    token = google_token(google, nonce)
    assert exchange(auth_client, "google", token, nonce).status_code == 200
    again = type(auth_client)(auth_client.delivery)
    response = exchange(again, "google", token, nonce)  # the same token, stolen, with its nonce
    assert response.status_code == 401 and response.json()["code"] == "INVALID_NONCE"
    assert AuthSession.objects.count() == 1


def test_a_nonce_of_another_provider_is_refused(
        auth_client: AuthClient, providers: Any, google: StandinIssuer) -> None:
    nonce = get_nonce(auth_client, "apple")
    response = exchange(auth_client, "google", google_token(google, nonce), nonce)
    assert response.status_code == 401 and response.json()["code"] == "INVALID_NONCE"
    assert not AuthSession.objects.exists()


def test_a_token_for_another_nonce_is_refused(
        auth_client: AuthClient, providers: Any, google: StandinIssuer) -> None:
    issued, other = get_nonce(auth_client), get_nonce(auth_client)
    response = exchange(auth_client, "google", google_token(google, other), issued)
    assert response.json()["code"] == "INVALID_NONCE"
    response = exchange(auth_client, "google", google_token(google, None), issued)  # no nonce claim at all
    assert response.json()["code"] == "INVALID_NONCE"
    assert not AuthSession.objects.exists()


def test_an_expired_nonce_is_refused(
        auth_client: AuthClient, providers: Any, google: StandinIssuer, settings: Any) -> None:
    nonce = get_nonce(auth_client)
    OAuthNonce.objects.update(expires_at=OAuthNonce.objects.get().created_at)
    assert exchange(auth_client, "google", google_token(google, nonce), nonce).json()["code"] == "INVALID_NONCE"


def test_the_nonce_is_stored_as_a_digest(auth_client: AuthClient, providers: Any) -> None:
    nonce = get_nonce(auth_client)
    row = OAuthNonce.objects.get()
    assert nonce not in row.digest and row.provider == "google"


@pytest.mark.parametrize("verified", [False, "false", None])
def test_an_address_the_provider_did_not_verify_makes_no_account(
        auth_client: AuthClient, providers: Any, google: StandinIssuer, verified: Any) -> None:
    response = sign_in_with_google(auth_client, google, email_verified=verified)
    assert response.status_code == 403 and response.json()["code"] == "OAUTH_EMAIL_NOT_VERIFIED"
    assert not User.objects.exists() and not LinkedAccount.objects.exists()


# --- keys: cached, refetched on rotation, outages ----------------------------------------------------

def test_keys_are_fetched_once_then_refetched_only_for_an_unknown_kid(
        settings: Any, providers: Any, google: StandinIssuer) -> None:
    settings.DUALAUTH_SOCIAL_JWKS_REFETCH_COOLDOWN = 0
    bearer = AuthClient("bearer")
    assert sign_in_with_google(bearer, google).status_code == 200
    assert google.key_fetches == 1
    for _ in range(2):  # steady state: no network call per sign-in
        assert sign_in_with_google(bearer, google).status_code == 200
    assert google.key_fetches == 1
    google.rotate()  # the provider signs with a key we have not seen yet
    assert sign_in_with_google(bearer, google).status_code == 200
    assert google.key_fetches == 2
    assert sign_in_with_google(bearer, google).status_code == 200
    assert google.key_fetches == 2


def test_unknown_kids_cannot_make_the_server_hammer_the_provider(
        settings: Any, providers: Any, google: StandinIssuer) -> None:
    settings.DUALAUTH_SOCIAL_JWKS_REFETCH_COOLDOWN = 30
    bearer = AuthClient("bearer")
    assert sign_in_with_google(bearer, google).status_code == 200
    for _ in range(3):
        nonce = get_nonce(bearer)
        token = google.mint(google.claims(aud=GOOGLE_WEB, nonce=nonce), key=google.new_key())
        assert exchange(bearer, "google", token, nonce).json()["code"] == "INVALID_ID_TOKEN"
    assert google.key_fetches == 1  # within the cooldown, no refetch at all


def test_a_provider_that_cannot_be_reached_answers_503_with_retry_after(
        auth_client: AuthClient, providers: Any, google: StandinIssuer) -> None:
    google.down = True
    response = sign_in_with_google(auth_client, google)
    assert response.status_code == 503
    assert response.json()["code"] == "PROVIDER_UNAVAILABLE"
    assert int(response["Retry-After"]) > 0
    google.down = False
    assert sign_in_with_google(type(auth_client)(auth_client.delivery), google).status_code == 200


def test_a_provider_that_does_not_answer_in_time_answers_503(
        settings: Any, google: StandinIssuer, apple: StandinIssuer, corp: StandinIssuer) -> None:
    settings.DUALAUTH_SOCIAL_PROVIDERS = provider_settings(google, apple, corp, timeout=0.2)
    google.delay = 1.0
    response = sign_in_with_google(AuthClient("bearer"), google)
    assert response.status_code == 503 and response.json()["code"] == "PROVIDER_UNAVAILABLE"


def test_an_oidc_provider_is_found_through_its_discovery_document(
        auth_client: AuthClient, providers: Any, corp: StandinIssuer) -> None:
    for sub in ("a", "b"):
        client = type(auth_client)(auth_client.delivery)
        nonce = get_nonce(client, "corp")
        token = corp.mint(corp.claims(aud=CORP_CLIENT, nonce=nonce, sub=sub, email=f"{sub}@corp.example"))
        assert exchange(client, "corp", token, nonce).status_code == 200
    assert corp.fetches["/.well-known/openid-configuration"] == 1 and corp.key_fetches == 1
    assert _claims(client)["loginProvider"] == "corp"


def test_an_oidc_discovery_document_naming_another_issuer_is_not_trusted(
        auth_client: AuthClient, providers: Any, corp: StandinIssuer) -> None:
    corp.issuer = "https://evil.example"  # what discovery now claims, and the tokens
    nonce = get_nonce(auth_client, "corp")
    token = corp.mint(corp.claims(aud=CORP_CLIENT, nonce=nonce))
    assert exchange(auth_client, "corp", token, nonce).status_code == 503
    assert corp.key_fetches == 0


# --- Apple ---------------------------------------------------------------------------------------------

def test_apple_carries_the_sha256_of_the_nonce_and_strings_for_booleans(
        auth_client: AuthClient, providers: Any, apple: StandinIssuer) -> None:
    nonce = get_nonce(auth_client, "apple")
    hashed = hashlib.sha256(nonce.encode()).hexdigest()
    token = apple.mint(apple.claims(aud=APPLE_BUNDLE, nonce=hashed, sub="001234.abcd.0042",
                                    email="x7k2@privaterelay.appleid.com", email_verified="true",
                                    is_private_email="true"))
    response = exchange(auth_client, "apple", token, nonce, name={"firstName": "Alice", "lastName": "Liddell"})
    assert response.status_code == 200, response.content
    user = User.objects.get()
    # A private-relay address is an ordinary verified address; the name came from the request.
    assert (user.email, user.first_name, user.last_name) == ("x7k2@privaterelay.appleid.com", "Alice", "Liddell")


def test_apple_refuses_the_raw_nonce_in_the_token(
        auth_client: AuthClient, providers: Any, apple: StandinIssuer) -> None:
    nonce = get_nonce(auth_client, "apple")
    token = apple.mint(apple.claims(aud=APPLE_BUNDLE, nonce=nonce))
    assert exchange(auth_client, "apple", token, nonce).json()["code"] == "INVALID_NONCE"


# --- providers that are not configured ------------------------------------------------------------------

def test_a_provider_that_is_not_configured_answers_node_auths_404(auth_client: AuthClient, providers: Any) -> None:
    response = auth_client.post(auth_client.url("oauth/facebook/nonce"))
    assert response.status_code == 404
    assert response.json() == {"error": "Facebook OAuth not configured", "code": "NOT_FOUND"}
    response = auth_client.post(auth_client.url("oauth/facebook/token"), {"idToken": "a.b.c", "nonce": "n" * 43})
    assert response.status_code == 404


def test_without_providers_every_social_endpoint_is_absent(auth_client: AuthClient, user: Any) -> None:
    auth_client.login()
    for path in ("oauth/google/nonce", "oauth/google/token", "oauth/google/link"):
        assert auth_client.post(auth_client.url(path)).status_code == 404
    assert auth_client.get(auth_client.url("linked-accounts")).status_code == 404


def test_github_has_no_id_token(auth_client: AuthClient, providers: Any) -> None:
    response = auth_client.post(auth_client.url("oauth/github/nonce"))
    assert response.status_code == 400 and response.json()["code"] == "OAUTH_FLOW_UNSUPPORTED"


@pytest.mark.parametrize("body", [{}, {"idToken": 5, "nonce": "x"}, {"idToken": "a.b.c"},
                                  {"idToken": "x" * 20000, "nonce": "n" * 43},
                                  {"idToken": "a.b.c", "nonce": "n" * 43, "name": "Alice"}])
def test_bad_input_is_a_400(auth_client: AuthClient, providers: Any, body: dict[str, Any]) -> None:
    response = auth_client.post(auth_client.url("oauth/google/token"), body)
    assert response.status_code == 400 and response.json()["code"] == "VALIDATION_ERROR"


def test_a_malformed_token_or_nonce_is_a_401(auth_client: AuthClient, providers: Any) -> None:
    nonce = get_nonce(auth_client)
    assert exchange(auth_client, "google", "not-a-jwt", nonce).json()["code"] == "INVALID_ID_TOKEN"
    assert exchange(auth_client, "google", "a.b.c", nonce).json()["code"] == "INVALID_ID_TOKEN"
    assert exchange(auth_client, "google", "a.b.c", "short").json()["code"] == "INVALID_NONCE"


# --- existing accounts: conflicts, linking by a verified address -------------------------------------

def test_an_address_that_has_an_account_is_a_conflict_and_nothing_is_written(
        auth_client: AuthClient, providers: Any, google: StandinIssuer, user: Any) -> None:
    response = sign_in_with_google(auth_client, google)
    assert response.status_code == 409
    assert response.json() == {"error": "An account with this e-mail already exists", "code": "OAUTH_ACCOUNT_CONFLICT",
                               "provider": "google", "email": EMAIL}
    assert not LinkedAccount.objects.exists() and not AuthSession.objects.exists()
    user.refresh_from_db()
    assert user.check_password(PASSWORD)


def test_a_provider_allowed_to_link_by_verified_address_links_and_resets_an_unproven_account(
        settings: Any, google: StandinIssuer, apple: StandinIssuer, corp: StandinIssuer, user: Any,
        auth_client: AuthClient) -> None:
    settings.DUALAUTH_SOCIAL_PROVIDERS = provider_settings(google, apple, corp, link_verified_email=True)
    with capture_linked() as linked:
        response = sign_in_with_google(auth_client, google)
    assert response.status_code == 200
    assert LinkedAccount.objects.get().user == user
    user.refresh_from_db()
    # Whoever set a password on the unproven address does not keep it (pre-account hijacking).
    assert not user.has_usable_password()
    assert AccountState.objects.get(user=user).email_verified
    assert [(e["how"], e["created"]) for e in linked] == [("verified_email", False)]


def capture_linked() -> Any:
    from contextlib import contextmanager

    @contextmanager
    def opened() -> Any:
        events = capture(social_account_linked)
        yield next(events)
        next(events, None)

    return opened()


# --- 2FA, policies ---------------------------------------------------------------------------------

def _link(user: Any, sub: str = "1234567890", provider: str = "google") -> LinkedAccount:
    from django.utils import timezone

    return LinkedAccount.objects.create(user=user, provider=provider, provider_account_id=sub, email=user.email,
                                        linked_at=timezone.now())


def test_a_user_with_2fa_gets_the_same_challenge_as_password_login(
        auth_client: AuthClient, providers: Any, google: StandinIssuer, user: Any) -> None:
    TOTPDevice.objects.create(user=user, name="dualauth", confirmed=True)
    update_account_state(user, two_factor_enabled=True)
    _link(user)
    response = sign_in_with_google(auth_client, google)
    assert response.status_code == 200
    body = response.json()
    assert body["requiresTwoFactor"] is True and body["available2faMethods"] == ["totp"]
    assert set(body) == set(type(auth_client)(auth_client.delivery).login().json())
    assert not AuthSession.objects.exists()
    assert not response.cookies.get("accessToken")


def test_the_email_verification_policy_applies_and_a_provider_verified_address_counts(
        auth_client: AuthClient, providers: Any, google: StandinIssuer, user: Any, settings: Any) -> None:
    settings.DUALAUTH_EMAIL_VERIFICATION = "strict"
    _link(user)
    response = sign_in_with_google(auth_client, google, email_verified=False)
    assert response.status_code == 403 and response.json()["code"] == "EMAIL_NOT_VERIFIED"
    response = sign_in_with_google(auth_client, google)  # this time the provider vouches for it
    assert response.status_code == 200
    assert AccountState.objects.get(user=user).email_verified


def test_an_inactive_linked_user_cannot_sign_in(
        auth_client: AuthClient, providers: Any, google: StandinIssuer, user: Any) -> None:
    _link(user)
    user.is_active = False
    user.save()
    assert sign_in_with_google(auth_client, google).status_code == 401
    assert not AuthSession.objects.exists()


# --- linking from a session, listing, unlinking ---------------------------------------------------

def _link_request(client: AuthClient, google: StandinIssuer, **claims: Any) -> Any:
    nonce = get_nonce(client)
    return client.post(client.url("oauth/google/link"), {"idToken": google_token(google, nonce, **claims),
                                                         "nonce": nonce})


def test_a_signed_in_user_links_and_lists_and_unlinks(
        auth_client: AuthClient, providers: Any, google: StandinIssuer, user: Any) -> None:
    assert auth_client.login().status_code == 200
    with capture_linked() as linked:
        response = _link_request(auth_client, google, sub="g-1", email="alice@gmail.example")
    assert response.status_code == 200, response.content
    assert response.json()["linkedAccount"]["providerAccountId"] == "g-1"
    assert [e["how"] for e in linked] == ["session"]
    listed = auth_client.get(auth_client.url("linked-accounts")).json()
    assert list(listed) == ["linkedAccounts"]
    (entry,) = listed["linkedAccounts"]
    assert set(entry) == {"provider", "providerAccountId", "email", "linkedAt"}
    assert (entry["provider"], entry["providerAccountId"], entry["email"]) == ("google", "g-1", "alice@gmail.example")
    # The linked account now signs the user in.
    assert sign_in_with_google(type(auth_client)(auth_client.delivery), google, sub="g-1").status_code == 200
    events = capture(social_account_unlinked)
    unlinked = next(events)
    response = _delete(auth_client, auth_client.url("linked-accounts/google/g-1"))  # the password stays
    next(events, None)
    assert response.status_code == 200 and response.json() == {"success": True}
    assert not LinkedAccount.objects.exists() and len(unlinked) == 1


def test_linking_needs_a_fresh_sign_in(
        auth_client: AuthClient, providers: Any, google: StandinIssuer, user: Any) -> None:
    assert auth_client.login().status_code == 200
    from datetime import timedelta

    AuthSession.objects.update(created_at=AuthSession.objects.get().created_at - timedelta(hours=1))
    response = _link_request(auth_client, google)
    assert response.status_code == 403 and response.json()["code"] == "REAUTHENTICATION_REQUIRED"
    assert not LinkedAccount.objects.exists()


def test_a_cookie_link_without_csrf_is_refused(providers: Any, google: StandinIssuer, user: Any) -> None:
    browser = AuthClient("cookie")
    assert browser.login(EMAIL, PASSWORD).status_code == 200
    nonce = get_nonce(AuthClient("bearer"))
    body = {"idToken": google_token(google, nonce), "nonce": nonce}
    # Another site's form: the browser attaches the cookies, but neither the CSRF token nor our Origin.
    forged = browser.client.post(browser.url("oauth/google/link"), body, format="json",
                                 HTTP_ORIGIN="https://evil.example")
    assert forged.status_code == 403 and forged.json()["code"] == "CSRF_INVALID"
    assert not LinkedAccount.objects.exists()


def test_a_provider_account_linked_to_someone_else_is_refused(
        auth_client: AuthClient, providers: Any, google: StandinIssuer, user: Any, user_factory: Any) -> None:
    _link(user_factory("bob@example.com"), sub="g-bob")
    assert auth_client.login().status_code == 200
    response = _link_request(auth_client, google, sub="g-bob")
    assert response.status_code == 409 and response.json()["code"] == "OAUTH_ACCOUNT_ALREADY_LINKED"
    assert LinkedAccount.objects.get().user.email == "bob@example.com"


def test_linking_needs_authentication(auth_client: AuthClient, providers: Any, google: StandinIssuer) -> None:
    assert _link_request(auth_client, google).status_code == 401
    assert auth_client.get(auth_client.url("linked-accounts")).status_code == 401


def test_the_last_way_to_sign_in_cannot_be_unlinked(
        auth_client: AuthClient, providers: Any, google: StandinIssuer) -> None:
    assert sign_in_with_google(auth_client, google, sub="only").status_code == 200
    response = _delete(auth_client, auth_client.url("linked-accounts/google/only"))
    assert response.status_code == 409 and response.json()["code"] == "LAST_SIGN_IN_METHOD"
    assert LinkedAccount.objects.count() == 1
    # With a second linked account, either may go (but not both).
    _link(User.objects.get(), sub="second", provider="apple")
    assert _delete(auth_client, auth_client.url("linked-accounts/google/only")).status_code == 200
    assert _delete(auth_client, auth_client.url("linked-accounts/apple/second")).status_code == 409


def test_another_users_link_is_a_404(
        auth_client: AuthClient, providers: Any, user: Any, user_factory: Any) -> None:
    _link(user_factory("bob@example.com"), sub="g-bob")
    assert auth_client.login().status_code == 200
    response = _delete(auth_client, auth_client.url("linked-accounts/google/g-bob"))
    assert response.status_code == 404 and response.json()["code"] == "NOT_FOUND"
    assert LinkedAccount.objects.count() == 1


# --- rate limits, query counts ------------------------------------------------------------------------

def test_the_exchange_is_rate_limited_per_ip(
        auth_client: AuthClient, providers: Any, google: StandinIssuer, settings: Any) -> None:
    settings.DUALAUTH_RATE_LIMITS = {"oauth_token_ip": "2/m"}
    nonce = get_nonce(auth_client)
    codes = [exchange(auth_client, "google", "a.b.c", nonce).status_code for _ in range(3)]
    assert codes == [401, 401, 429]


def test_nonces_are_rate_limited_per_ip(auth_client: AuthClient, providers: Any, settings: Any) -> None:
    settings.DUALAUTH_RATE_LIMITS = {"oauth_nonce_ip": "2/m"}
    codes = [auth_client.post(auth_client.url("oauth/google/nonce")).status_code for _ in range(3)]
    assert codes == [201, 201, 429]
    assert OAuthNonce.objects.count() == 2


def test_the_sign_in_of_a_linked_account_runs_a_fixed_number_of_queries(
        providers: Any, google: StandinIssuer, user: Any, django_assert_num_queries: Any) -> None:
    _link(user)
    update_account_state(user, email_verified=True)
    bearer = AuthClient("bearer")
    assert sign_in_with_google(bearer, google, sub="warm", email="warm@example.com").status_code == 200  # keys
    nonce = get_nonce(bearer)
    token = google_token(google, nonce)
    # The nonce spent (1 UPDATE); in one transaction (SAVEPOINT, RELEASE: 2) the link with its
    # user and account state (1 SELECT), the link touched (1 UPDATE), the session (1 INSERT);
    # last_login (1 UPDATE, Django's user_logged_in receiver). No key fetch: the keys are cached.
    with django_assert_num_queries(7):
        assert exchange(bearer, "google", token, nonce).status_code == 200


def test_a_cookie_sign_in_needs_the_login_csrf_checks(providers: Any, google: StandinIssuer) -> None:
    # Login CSRF: another site must not sign a browser in to the attacker's account.
    browser = AuthClient("cookie")
    nonce = get_nonce(AuthClient("bearer"))
    forged = browser.client.post(browser.url("oauth/google/token"), {"idToken": google_token(google, nonce),
                                                                     "nonce": nonce},
                                 format="json", HTTP_ORIGIN="https://evil.example")
    assert forged.status_code == 403 and forged.json()["code"] == "CSRF_INVALID"
    assert not AuthSession.objects.exists() and not User.objects.exists()


def test_the_purge_deletes_expired_nonces(auth_client: AuthClient, providers: Any) -> None:
    from io import StringIO

    from django.core.management import call_command

    get_nonce(auth_client)
    expired = OAuthNonce.objects.get()
    OAuthNonce.objects.filter(pk=expired.pk).update(expires_at=expired.created_at)
    get_nonce(auth_client)
    out = StringIO()
    call_command("dualauth_purge", stdout=out)
    assert "1 sign-in nonce(s) deleted" in out.getvalue()
    assert list(OAuthNonce.objects.values_list("pk", flat=True)) != [expired.pk]
    assert OAuthNonce.objects.count() == 1  # the live one stays


def test_sign_ins_and_refusals_are_audited_without_the_token(
        auth_client: AuthClient, providers: Any, google: StandinIssuer, caplog: Any) -> None:
    caplog.set_level("INFO", logger="django_dualauth")
    nonce = get_nonce(auth_client)
    token = google_token(google, nonce, aud="someone-else")
    exchange(auth_client, "google", token, nonce)
    assert sign_in_with_google(auth_client, google).status_code == 200
    events = [r.getMessage() for r in caplog.records if r.getMessage().startswith("auth.social")]
    assert any(e.startswith("auth.social.refused provider=google reason=InvalidAudienceError") for e in events)
    assert any(e.startswith("auth.social.signed_in") for e in events)
    assert all(token not in r.getMessage() and nonce not in r.getMessage() for r in caplog.records)
