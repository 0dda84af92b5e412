"""Delete expired sessions and sessions revoked long enough ago, in small batches."""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.db import transaction
from django.utils import timezone

from ...models import AuthSession, LoginChallenge, RotatedRefreshToken


class Command(BaseCommand):
    help = ("Delete expired sessions and sessions revoked more than --revoked-days ago, with "
            "their spent refresh-token digests, and expired 2FA challenges. Works in "
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
        challenges = LoginChallenge.objects.filter(expires_at__lte=timezone.now()).order_by()
        if options["dry_run"]:
            self.stdout.write(f"{qs.count()} session(s) would be deleted")
            self.stdout.write(f"{challenges.count()} 2FA challenge(s) would be deleted")
            return
        done = 0
        while ids := list(challenges.values_list("pk", flat=True)[:batch]):
            done += LoginChallenge.objects.filter(pk__in=ids).delete()[0]
        self.stdout.write(f"{done} 2FA challenge(s) deleted")
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
