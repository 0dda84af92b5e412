"""What a steady-state id_token sign-in costs above a session issued without any proof (issue 19).

In-process, on the test settings (SQLite in memory, local-memory cache): a stand-in Google issuer
on 127.0.0.1 (``tests/social/standin_issuers.py``) serves the key set, which is fetched once before
the timed rounds; the script then asserts that no round fetched it again (no network round trip).
Each round of the id_token arm verifies one fresh RS256 id_token of a linked account (signature,
claims, nonce), spends its nonce and issues the session through ``login.sign_in``; the baseline
calls ``issue_session`` for the same user. Nonces and tokens are made before the clock starts.

    DJANGO_SETTINGS_MODULE=tests.settings .venv/bin/python -m bench.social_signin [rounds]
"""

from __future__ import annotations

import statistics
import sys
import time


def main(rounds: int = 300) -> None:
    import django
    from django.conf import settings

    django.setup()
    from django.core.management import call_command
    from django.test.utils import override_settings

    call_command("migrate", verbosity=0)
    from django.contrib.auth import get_user_model
    from django.utils import timezone

    from django_dualauth.conf import snapshot
    from django_dualauth.models import LinkedAccount
    from django_dualauth.services import social
    from django_dualauth.services.claims import update_account_state
    from django_dualauth.services.sessions import issue_session
    from django_dualauth.types import ClientInfo
    from tests.social.helpers import GOOGLE_WEB
    from tests.social.standin_issuers import StandinIssuer

    google = StandinIssuer("google", issuer="https://accounts.google.com")
    client = ClientInfo(ip_address="127.0.0.1", user_agent="bench")
    providers = {"google": {"client_ids": [GOOGLE_WEB], "jwks_uri": google.jwks_uri}}
    with override_settings(DUALAUTH_SOCIAL_PROVIDERS=providers):
        assert settings.DUALAUTH_SOCIAL_PROVIDERS
        user = get_user_model().objects.create_user(username="a@example.com", email="a@example.com")
        update_account_state(user, email_verified=True)
        LinkedAccount.objects.create(user=user, provider="google", provider_account_id="42", email=user.email,
                                     linked_at=timezone.now())
        provider = snapshot().social_providers["google"]
        work = []
        for _ in range(rounds + 20):
            raw, _ = social.issue_nonce(provider, client=client)
            work.append((google.mint(google.claims(aud=GOOGLE_WEB, nonce=raw, sub="42", email=user.email)), raw))
        provider.keys.key_for(google.keys[0].kid)  # the one fetch of the key set
        fetched = google.key_fetches
        google.stop()  # no provider during the rounds: a fetch would fail the round

        base: list[float] = []
        social_rounds: list[float] = []
        for i in range(rounds + 20):  # the arms alternate, so a busy moment of the machine hits both
            t0 = time.thread_time()
            issue_session(user, delivery="bearer", client=client, methods=["fed"])
            t1 = time.thread_time()
            social.sign_in_with_id_token(provider, work[i][0], work[i][1], delivery="bearer", client=client)
            t2 = time.thread_time()
            if i >= 20:  # warm-up rounds dropped
                base.append(t1 - t0)
                social_rounds.append(t2 - t1)
        assert google.key_fetches == fetched, "a sign-in fetched the key set"
    b, s = statistics.median(base) * 1e6, statistics.median(social_rounds) * 1e6
    print(f"rounds: {rounds}; key set fetches during the rounds: {google.key_fetches - fetched}")
    print(f"issue_session (no proof):        median {b:8.0f} us of CPU")
    print(f"id_token sign-in (steady state):  median {s:8.0f} us of CPU  (+{s - b:.0f} us, {s / b:.2f}x)")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 300)
