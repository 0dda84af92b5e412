"""The concurrent first sign-in of tests/real_servers/test_concurrent_social.py on SQLite (the
embedded default, ``make demo``), through a real server: N apps and browsers present valid
id_tokens (each with its own nonce) for the same new provider identity at the same moment. One
account and one link are made and nothing is a 500. With the example project's IMMEDIATE
transactions every one of them is signed in to that account. With Django's default DEFERRED ones
(system check dualauth.W007) a request whose read transaction cannot take the write lock gets
``503 SERVICE_UNAVAILABLE``, as a refresh or a login does there (docs/deployment.md); the others
are signed in to the one account.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from tests.live_server import live_server
from tests.real_servers.concurrency import together
from tests.social.standin_issuers import StandinIssuer
from tests.test_concurrent_registration_sqlite import Client

CLIENT_ID = "race.apps.googleusercontent.com"
N = 8
SETTINGS = {"example project (IMMEDIATE)": "0", "Django's default (DEFERRED)": "1"}


def _rows(db: Path, sql: str) -> list[tuple[object, ...]]:
    with sqlite3.connect(db) as connection:
        return connection.execute(sql).fetchall()


@pytest.mark.parametrize("deferred", SETTINGS.values(), ids=SETTINGS.keys())
def test_a_first_sign_in_made_n_times_at_once_signs_every_one_in_to_one_account(tmp_path: Path,
                                                                                  deferred: str) -> None:
    google = StandinIssuer("google", issuer="https://accounts.google.com")
    env = {"DJANGO_SETTINGS_MODULE": "tests.example_settings_social", "DUALAUTH_TEST_SQLITE_DEFERRED": deferred,
           "DUALAUTH_TEST_SOCIAL_PROVIDERS": json.dumps({"google": {"client_ids": [CLIENT_ID],
                                                                    "jwks_uri": google.jwks_uri}})}
    try:
        with live_server(tmp_path, env=env) as base:
            clients = [Client(base, "cookie" if i % 2 else "bearer") for i in range(N)]
            work = []
            for client in clients:
                status, body = client.post("/auth/oauth/google/nonce", {})
                assert status == 201, body
                token = google.mint(google.claims(aud=CLIENT_ID, nonce=body["nonce"], sub="sqlite-race",
                                                  email="racer@example.com"))
                work.append(lambda c=client, t=token, n=body["nonce"]: c.post("/auth/oauth/google/token",
                                                                              {"idToken": t, "nonce": n}))
            results = together(work)
    finally:
        google.stop()

    signed_in = [c for (status, _), c in zip(results, clients, strict=True) if status == 200]
    if deferred == "0":
        assert len(signed_in) == N, results
    else:
        assert signed_in and all(status == 503 and body["code"] == "SERVICE_UNAVAILABLE"
                                 for status, body in results if status != 200), results
    assert all("accessToken" in body for (status, body), c in zip(results, clients, strict=True)
               if status == 200 and c.delivery == "bearer"), results
    db = tmp_path / "db.sqlite3"
    users = _rows(db, "SELECT id FROM auth_user WHERE email = 'racer@example.com'")
    assert len(users) == 1
    assert _rows(db, "SELECT user_id FROM dualauth_linkedaccount WHERE provider_account_id = 'sqlite-race'") == users
    assert _rows(db, "SELECT DISTINCT user_id FROM dualauth_authsession") == users
    assert _rows(db, "SELECT COUNT(*) FROM dualauth_authsession") == [(len(signed_in),)]
