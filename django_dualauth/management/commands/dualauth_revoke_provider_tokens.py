"""Retry the provider-token revocations that failed (Apple down when a link or an account was deleted).

A deleted link's Apple refresh token is queued (``ProviderTokenRevocation``) in the deleting
transaction and sent after the commit; one that could not be sent stays queued, with its
attempts and last error. Run this from cron (hourly, say) until the queue is empty. A token
Apple refuses (already revoked, foreign) is dropped: there is nothing left to revoke.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from ...models import ProviderTokenRevocation
from ...services import social_tokens


class Command(BaseCommand):
    help = ("Send the provider-token revocations (Apple's auth/revoke) still queued because the provider "
            "could not be reached. Prints how many were done and how many remain queued.")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--older-than", type=int, default=60, metavar="SECONDS",
                            help="only revocations queued at least this long ago, so that one a request is "
                                 "still sending is left alone (default 60)")
        parser.add_argument("--dry-run", action="store_true", help="print how many are queued, send nothing")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["older_than"] < 0:
            raise CommandError("--older-than must not be negative.")
        if options["dry_run"]:
            self.stdout.write(f"{ProviderTokenRevocation.objects.count()} revocation(s) queued")
            return
        done, pending = social_tokens.retry_pending(older_than=timedelta(seconds=options["older_than"]))
        self.stdout.write(f"{done} revocation(s) done, {pending} still queued")
