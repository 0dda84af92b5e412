"""Delete expired sessions and sessions revoked long enough ago, in small batches."""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.db import transaction
from django.utils import timezone

from ...models import AccountToken, AuthSession, LoginChallenge, MagicLink, RotatedRefreshToken


class Command(BaseCommand):
    help = ("Delete expired sessions and sessions revoked more than --revoked-days ago, with "
            "their spent refresh-token digests, and expired 2FA challenges, magic links and account "
            "tokens. Works in "
            "batches so no lock is held for long.")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--revoked-days", type=int, default=7,
                            help="keep revoked sessions this many days for audit (default 7)")
        parser.add_argument("--batch-size", type=int, default=1000)
        parser.add_argument("--sleep", type=float, default=0.0,
                            help="seconds to pause between batches")
        parser.add_argument("--dry-run", action="store_true")

    def handle(self, *args: Any, **options: Any) -> None:
        cutoff = timezone.now() - timedelta(days=options["revoked_days"])
        batch = max(1, options["batch_size"])
        qs = AuthSession.objects.purgeable(revoked_before=cutoff).order_by()
        now = timezone.now()
        # Expired one-time credentials: useless, and they keep requesters' IP addresses.
        one_time = [(LoginChallenge, "2FA challenge(s)"), (MagicLink, "magic link(s)"),
                    (AccountToken, "account token(s)")]
        if options["dry_run"]:
            self.stdout.write(f"{qs.count()} session(s) would be deleted")
            for model, label in one_time:
                self.stdout.write(f"{model.objects.filter(expires_at__lte=now).count()} {label} would be deleted")
            return
        for model, label in one_time:
            expired = model.objects.filter(expires_at__lte=now).order_by()
            done = 0
            while ids := list(expired.values_list("pk", flat=True)[:batch]):
                done += model.objects.filter(pk__in=ids).delete()[0]
            self.stdout.write(f"{done} {label} deleted")
        total = 0
        while True:
            ids = list(qs.values_list("pk", flat=True)[:batch])
            if not ids:
                break
            with transaction.atomic():
                # Children first: a single DELETE, so the session delete stays small.
                RotatedRefreshToken.objects.filter(session_id__in=ids).delete()
                AuthSession.objects.filter(pk__in=ids).delete()
            total += len(ids)
            if options["sleep"]:
                time.sleep(options["sleep"])
        self.stdout.write(f"{total} session(s) deleted")
