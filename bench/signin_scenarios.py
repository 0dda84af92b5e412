"""The sign-in scenarios of ``bench.instructions --kinds signin`` (issue 19): what a steady-state
id_token sign-in costs in instructions, beside a password-free session issue and a password
login, and its parts.

Each scenario is run by :func:`run` in a child process under callgrind, like the request kinds of
``bench.instructions``: the same set-up in both runs (so it cancels out), then ``n`` requests.
The set-up starts a stand-in Google issuer on 127.0.0.1 (``tests/social/standin_issuers.py``)
with the RSA key the parent generated for both runs (:func:`signing_key_file`), fetches its key
set once, stops it, and mints every id_token the runs will present (RS256
signing is the provider's work, not ours). The nonces are drawn in the set-up too and handed
out in order by the nonce endpoint (``social.new_secret`` replaced by the list's iterator), so
that each pre-minted token carries the nonce its request is given. During the requests every
``connect`` to the stand-in's port (on SQLite: any ``connect`` at all) raises, and the count of
key-set fetches is checked at the end: a sign-in that needed the network fails the count.
"""

from __future__ import annotations

import socket
from typing import Any

#: name -> what one request of it is (the column of the report).
SCENARIOS = {
    "idtoken": "POST oauth/google/nonce + POST oauth/google/token (returning user, keys cached)",
    "idtoken-first": "the same for a new provider account (the user and the link created)",
    "password": "POST login (Argon2, Django's default parameters)",
    "session": "login.sign_in for a known user (no proof checked: what every method ends with)",
    "idtoken-service": "social.sign_in_with_id_token (the exchange without HTTP, nonce issued before)",
    "verify": "social.verify_id_token (header, key look-up, RSA signature, claims; no SQL)",
    "rsa": "the RSA-2048 PKCS#1 v1.5 SHA-256 signature check alone (PyJWT's RSAAlgorithm.verify)",
    "nonce": "social.issue_nonce + the conditional UPDATE that spends it (the nonce row)",
    "lookup": "the linked account with its user and account state, and the link touched (in atomic)",
}
#: Argon2 under valgrind takes seconds per login: fewer requests, the count being exact anyway.
FEW_MANY_OVERRIDE = {"password": (2, 6)}
CLIENT_ID = "bench-web.apps.googleusercontent.com"
PREFIX = "/dualauth-bearer"
JSON_HEADERS = {"Content-Type": "application/json", "X-Auth-Strategy": "bearer"}


class NetworkDuringMeasurement(AssertionError):
    pass


def _forbid_network(port: int, *, everything: bool) -> None:
    """Make ``connect`` to the stand-in's port (or any, ``everything``) raise from now on."""
    real_connect, real_connect_ex = socket.socket.connect, socket.socket.connect_ex

    def refused(address: Any) -> bool:
        return everything or (isinstance(address, tuple) and len(address) >= 2 and address[1] == port)

    def connect(self: socket.socket, address: Any) -> None:
        if refused(address):
            raise NetworkDuringMeasurement(f"connect to {address!r} during the measured sign-ins")
        real_connect(self, address)

    def connect_ex(self: socket.socket, address: Any) -> int:
        if refused(address):
            raise NetworkDuringMeasurement(f"connect to {address!r} during the measured sign-ins")
        return real_connect_ex(self, address)

    socket.socket.connect = connect  # type: ignore[method-assign]
    socket.socket.connect_ex = connect_ex  # type: ignore[method-assign]


def run(scenario: str, n: int, many: int, warm: int) -> None:  # noqa: C901, PLR0915 - one set-up, then a switch
    """Set up (identical for every ``n``), then ``warm + n`` requests of ``scenario``."""
    import json

    from django.conf import settings

    from tests.social.standin_issuers import StandinIssuer

    from . import setup_db

    if scenario not in SCENARIOS:
        raise SystemExit(f"unknown sign-in scenario {scenario!r}")
    _use_the_parents_key()
    google = StandinIssuer("google", issuer="https://accounts.google.com")
    settings.DUALAUTH_SOCIAL_PROVIDERS = {"google": {"client_ids": [CLIENT_ID], "jwks_uri": google.jwks_uri}}
    limits = {"oauth_nonce_ip", "oauth_token_ip"}
    settings.DUALAUTH_RATE_LIMITS = {**settings.DUALAUTH_RATE_LIMITS, **dict.fromkeys(limits, "1000000/m")}
    if scenario != "password":  # the other scenarios log nobody in with a password
        settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    setup_db.N_USERS = 5
    setup_db.prepare(fresh=True)  # configures Django; bench0..4@example.com, password PASSWORD
    from django.contrib.auth.models import User
    from django.db import transaction
    from django.utils import timezone
    from jwt.algorithms import RSAAlgorithm

    from django_dualauth.conf import snapshot
    from django_dualauth.crypto import new_secret
    from django_dualauth.models import LinkedAccount
    from django_dualauth.services import login, social
    from django_dualauth.services.claims import update_account_state
    from django_dualauth.types import ClientInfo

    from .contenders import PASSWORD, Req, user_email
    from .inprocess import Driver

    client = ClientInfo(ip_address="127.0.0.1", user_agent="bench")
    user = User.objects.get(email=user_email(0))
    update_account_state(user, email_verified=True)
    LinkedAccount.objects.create(user=user, provider="google", provider_account_id="bench-0", email=user.email,
                                 linked_at=timezone.now())
    provider = snapshot().social_providers["google"]
    key = provider.keys.key_for(google.keys[0].kid)  # the one fetch of the key set
    fetched = google.key_fetches
    total = warm + many  # the same set-up for every n: as many tokens as the longer run needs
    nonces = [new_secret() for _ in range(total)]
    first = scenario == "idtoken-first"
    tokens = [google.mint(google.claims(
        aud=CLIENT_ID, nonce=nonces[i], sub=f"new-{i}" if first else "bench-0",
        email=f"new{i}@example.com" if first else user.email)) for i in range(total)]
    google.stop()  # nothing to fetch from any more: a fetch would fail the request
    social.new_secret = iter(nonces).__next__  # type: ignore[assignment] # the nonce endpoint's values, in order
    rsa, signed = RSAAlgorithm(RSAAlgorithm.SHA256), []
    for token in tokens:
        head, body, sig = token.split(".")
        signed.append((f"{head}.{body}".encode(), _b64(sig)))
    if scenario in ("idtoken-service", "verify", "nonce"):
        prepared = [social.issue_nonce(provider, client=client)[0] for _ in range(total)] \
            if scenario != "nonce" else []
    identity = social.ProviderIdentity(provider="google", subject="bench-0", email=user.email, email_verified=True)
    d = Driver()
    login_body = json.dumps({"email": user_email(1), "password": PASSWORD}).encode()

    import gc

    gc.collect()
    gc.freeze()  # the set-up out of the collector's sight (see bench.instructions.child)
    _forbid_network(int(google.url.rsplit(":", 1)[1]), everything=settings.BENCH_DB == "sqlite")
    for i in range(warm + n):
        if scenario in ("idtoken", "idtoken-first"):
            r = d.t.send(Req("POST", f"{PREFIX}/auth/oauth/google/nonce", dict(JSON_HEADERS), b"{}"))
            assert r.status == 201 and r.json()["nonce"] == nonces[i], (r.status, r.body[:300])
            r = d.t.send(Req("POST", f"{PREFIX}/auth/oauth/google/token", dict(JSON_HEADERS),
                             json.dumps({"idToken": tokens[i], "nonce": nonces[i]}).encode()))
            assert r.status == 200 and "accessToken" in r.json(), (r.status, r.body[:300])
        elif scenario == "password":
            r = d.t.send(Req("POST", f"{PREFIX}/auth/login", dict(JSON_HEADERS), login_body))
            assert r.status == 200, (r.status, r.body[:300])
        elif scenario == "session":
            login.sign_in(user, first_factor=social.AMR_FEDERATED, delivery="bearer", client=client)
        elif scenario == "idtoken-service":
            social.sign_in_with_id_token(provider, tokens[i], prepared[i], delivery="bearer", client=client)
        elif scenario == "verify":
            social.verify_id_token(provider, tokens[i], prepared[i])
        elif scenario == "rsa":
            assert rsa.verify(signed[i][0], key.key, signed[i][1])
        elif scenario == "nonce":
            raw, _ = social.issue_nonce(provider, client=client)
            social._spend_nonce(provider, raw)
        elif scenario == "lookup":
            with transaction.atomic():
                social._account_for(provider, identity, {})
    if google.key_fetches != fetched:
        raise NetworkDuringMeasurement(f"{google.key_fetches - fetched} key-set fetches during the sign-ins")


KEY_ENV = "BENCH_SIGNIN_KEY"


def signing_key_file(directory: str) -> str:
    """Write one new RSA-2048 key (PEM) for both runs of a count; returns its path. Generating a
    key searches primes for a random number of steps, millions of instructions apart from one
    run to the next: done once, in the parent, it stays out of the difference."""
    import os

    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    path = os.path.join(directory, "signin-key.pem")
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    with open(path, "wb") as out:
        out.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption()))
    return path


def _use_the_parents_key() -> None:
    """The stand-in issuer signs with the key of :func:`signing_key_file` (its pool, filled first)."""
    import os

    from cryptography.hazmat.primitives import serialization

    from tests.social import standin_issuers

    path = os.environ.get(KEY_ENV)
    if not path:
        raise SystemExit(f"{KEY_ENV} is not set: run the scenarios through bench.instructions --kinds signin")
    with open(path, "rb") as pem:
        standin_issuers._RSA_POOL[:] = [serialization.load_pem_private_key(pem.read(), password=None)]


def _b64(part: str) -> bytes:
    import base64

    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))
