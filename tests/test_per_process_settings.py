"""Per-process memos of settings-derived values on the request path, and the verified-header memo.

JWT-04 (kid only from the configured map), JWT-05 (audience, issuer), JWT-07 (expiry, leeway),
JWT-09 (tampered token), REV (cache-mode revocation reads the configured cache).

The per-request path resolves its settings once per process (``conf.snapshot``) and drops
them on Django's ``setting_changed``. Each test here first fills the memo with the old value,
then changes the setting and checks that the new value governs the next request: without the
invalidation the old value would still be used and the assertion would fail.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from datetime import timedelta
from types import SimpleNamespace
from typing import Any

import pytest
from django.core.cache import caches
from django.core.signals import setting_changed
from django.utils import timezone
from jwt.utils import base64url_decode, base64url_encode

from django_dualauth import conf
from django_dualauth.exceptions import AccessTokenInvalid
from django_dualauth.services import access_tokens, revocation, verification
from django_dualauth.services.access_tokens import decode_access_token, encode_access_token, signing_keys

pytestmark = pytest.mark.django_db


def _issue(user: Any, *, iat_offset: timedelta = timedelta(0)) -> str:
    now = timezone.now() + iat_offset
    session = SimpleNamespace(pk=uuid.uuid4(), absolute_expires_at=now + timedelta(days=1), auth_methods=["pwd"])
    return encode_access_token(session, user, now=now)[0]


def _b64(data: bytes) -> str:
    return base64url_encode(data).decode()


def _signed(header: dict[str, Any], token: str, *, valid: bool = True) -> str:
    """``token``'s payload under another header, signed with our signing key (or not)."""
    payload = token.split(".")[1]
    signing_input = f"{_b64(json.dumps(header).encode())}.{payload}"
    key = next(k for k in signing_keys() if k.signing_key is not None)
    signature = hmac.new(key.signing_key, signing_input.encode(), hashlib.sha256).digest()
    if not valid:
        signature = bytes([signature[0] ^ 1]) + signature[1:]
    return f"{signing_input}.{_b64(signature)}"


def _header(**extra: Any) -> dict[str, Any]:
    key = next(k for k in signing_keys() if k.signing_key is not None)
    return {"typ": "at+jwt", "alg": key.algorithm, "kid": key.kid, **extra}


# --- conf.snapshot ------------------------------------------------------------------------------

def test_the_snapshot_is_dropped_when_a_setting_changes(settings: Any) -> None:
    settings.DUALAUTH_JWT_ISSUER = "before"
    first = conf.snapshot()
    assert conf.snapshot() is first and first.token_issuance.issuer == "before"
    settings.DUALAUTH_JWT_ISSUER = "after"
    assert conf.snapshot() is not first
    assert conf.snapshot().token_issuance.issuer == "after"


def test_the_snapshot_follows_a_removal_which_sends_no_signal(settings: Any) -> None:
    settings.DUALAUTH_JWT_ISSUER = "set-for-this-test"
    assert conf.snapshot().token_verification.issuer == "set-for-this-test"
    del settings.DUALAUTH_JWT_ISSUER  # pytest-django: a new settings holder, no setting_changed
    assert conf.snapshot().token_verification.issuer == conf.dualauth_settings.JWT_ISSUER != "set-for-this-test"


def test_a_setting_changed_signal_alone_drops_the_snapshot() -> None:
    first = conf.snapshot()
    setting_changed.send(sender=None, setting="DUALAUTH_JWT_ISSUER", value="x", enter=True)
    assert conf.snapshot() is not first


# --- the decoder's settings ----------------------------------------------------------------------

@pytest.mark.parametrize("name, value", [
    ("JWT_AUDIENCE", "another-api"),
    ("JWT_ISSUER", "another-issuer"),
    ("ACCESS_TOKEN_MAX_LENGTH", None),  # one character shorter than the token
])
def test_changed_decoder_setting_applies_to_the_next_token(settings: Any, user: Any, name: str, value: Any) -> None:
    token = _issue(user)
    decode_access_token(token)  # memo filled with the old value
    setattr(settings, f"DUALAUTH_{name}", len(token) - 1 if value is None else value)
    with pytest.raises(AccessTokenInvalid):
        decode_access_token(token)


def test_changed_leeway_applies_to_the_next_token(settings: Any, user: Any) -> None:
    settings.DUALAUTH_ACCESS_TOKEN_LIFETIME = timedelta(minutes=1)
    expired = _issue(user, iat_offset=timedelta(minutes=-1, seconds=-10))  # expired 10 s ago
    with pytest.raises(AccessTokenInvalid):
        decode_access_token(expired)
    settings.DUALAUTH_JWT_LEEWAY = timedelta(seconds=60)
    assert decode_access_token(expired).sub == str(user.pk)


def test_rotated_secret_key_drops_the_old_keys_and_their_remembered_headers(settings: Any, user: Any) -> None:
    token = _issue(user)
    decode_access_token(token)  # the old kid and its header segment are now remembered
    old = settings.SECRET_KEY
    settings.SECRET_KEY = "rotated-" + "k" * 60
    with pytest.raises(AccessTokenInvalid):
        decode_access_token(token)
    settings.SECRET_KEY_FALLBACKS = [old]  # a fallback still verifies tokens issued before
    assert decode_access_token(token).sub == str(user.pk)


# --- the revocation cache alias ----------------------------------------------------------------

def test_changed_revocation_cache_is_the_one_asked(settings: Any) -> None:
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "pp-default"},
        "revocations": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "pp-other"},
    }
    sid = str(uuid.uuid4())
    caches["default"].set(revocation.COMPLETE_KEY, 1, timeout=None)  # a cache in normal operation
    caches["revocations"].set(f"dualauth:revoked:{sid}", 1)
    assert revocation.is_revoked(sid) is False  # memo filled with "default"
    settings.DUALAUTH_REVOCATION_CACHE = "revocations"
    assert revocation.is_revoked(sid) is True


# --- the user model's primary key ----------------------------------------------------------------

def test_token_user_pk_conversion_is_rebuilt_after_a_setting_change(settings: Any, user: Any) -> None:
    claims = decode_access_token(_issue(user))
    assert verification.TokenUser(claims).pk == user.pk
    before = conf.snapshot()
    settings.DUALAUTH_JWT_ISSUER = "django-dualauth"  # any setting_changed drops the snapshot
    assert conf.snapshot() is not before and "user_pk_to_python" not in vars(conf.snapshot())
    assert verification.TokenUser(claims).pk == user.pk


# --- the verified-header memo ----------------------------------------------------------------------

def _decoded_header(token: str) -> bytes:
    return base64url_decode(token.split(".")[0])


def _remembered() -> dict[str, Any]:
    return conf.snapshot().token_verification.verified_headers


@pytest.fixture
def empty_header_memo() -> None:
    # The memo is per process and bounded (16 headers): tests that ran before, in any order,
    # may have filled it, and then a new header is (rightly) not remembered.
    _remembered().clear()


def test_a_header_is_remembered_only_after_its_token_verified(user: Any, empty_header_memo: None) -> None:
    token = _issue(user)
    header = _header(extra="x")  # a header segment no token has used yet
    segment = _signed(header, token).split(".")[0]
    with pytest.raises(AccessTokenInvalid):
        decode_access_token(_signed(header, token, valid=False))
    assert segment not in _remembered()
    decode_access_token(_signed(header, token))
    assert segment in _remembered()


def test_a_remembered_header_does_not_excuse_a_bad_signature(user: Any, empty_header_memo: None) -> None:
    token = _issue(user)
    decode_access_token(token)
    assert token.split(".")[0] in _remembered()
    with pytest.raises(AccessTokenInvalid):
        decode_access_token(_signed(json.loads(_decoded_header(token)), token, valid=False))
    tampered_payload = _b64(json.dumps({"sub": "1"}).encode())
    head, _, sig = token.split(".")
    with pytest.raises(AccessTokenInvalid):
        decode_access_token(f"{head}.{tampered_payload}.{sig}")


@pytest.mark.parametrize("header", [
    {"jku": "https://attacker.example/jwks.json"},  # JWT-03: key-bearing parameter
    {"kid": "unknown-kid"},  # JWT-04
    {"typ": "JWT"},  # JWT-06
    {"alg": "HS512"},  # JWT-02: not the key's algorithm
])
def test_a_refused_header_is_refused_every_time_and_never_remembered(user: Any, header: dict[str, Any]) -> None:
    token = _issue(user)
    forged = _signed(_header(**header), token)
    for _ in range(2):
        with pytest.raises(AccessTokenInvalid):
            decode_access_token(forged)
    assert forged.split(".")[0] not in _remembered()


def test_the_header_memo_is_bounded(user: Any) -> None:
    token = _issue(user)
    for i in range(access_tokens._VERIFIED_HEADERS_MAX + 5):
        assert decode_access_token(_signed(_header(n=i), token)).sub == str(user.pk)
    assert len(_remembered()) <= access_tokens._VERIFIED_HEADERS_MAX


@pytest.mark.parametrize("name, value", [
    ("ACCESS_TOKEN_LIFETIME", timedelta(minutes=5)),
    ("COOKIE_SAMESITE", "Strict"),
    ("TRUSTED_PROXY_DEPTH", 2),
])
def test_each_setting_read_follows_an_addition_a_change_and_a_removal(settings, name, value):
    """``dualauth_settings`` remembers unset names per process; a setting added, changed or
    removed is seen at once (a removal sends no ``setting_changed``, so set names are not kept)."""
    setting = f"DUALAUTH_{name}"
    if hasattr(settings, setting):
        delattr(settings, setting)
    default = getattr(conf.dualauth_settings, name)  # the name is now remembered as unset
    assert default != value
    setattr(settings, setting, value)
    assert getattr(conf.dualauth_settings, name) == value
    delattr(settings, setting)
    assert getattr(conf.dualauth_settings, name) == default
