"""Encrypt every stored provider token (Apple's refresh tokens) again under the first key of
``DUALAUTH_SOCIAL_TOKEN_KEYS``, the last step of a key rotation (docs/settings.md).

Rotation: put the new key first and keep the old ones after it (every key decrypts, the first
encrypts), deploy, run this command, then remove the old keys. Tokens no configured key opens are
counted and left alone; the command then exits with status 1, so a script does not go on to drop a
key that something still needs.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from ...services import social_tokens


class Command(BaseCommand):
    help = ("Re-encrypt the stored provider tokens (Apple refresh tokens, on linked accounts, queued "
            "revocations and pending links) under the first key of DUALAUTH_SOCIAL_TOKEN_KEYS, so "
            "that older keys can be removed. Prints what it did per table.")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--dry-run", action="store_true", help="count what would be resealed, write nothing")

    def handle(self, *args: Any, **options: Any) -> None:
        def progress(model: Any, done: int, total: int) -> None:
            self.stdout.write(f"{model._meta.label}: {done} of {total} resealed")

        count = social_tokens.reseal_all(dry_run=options["dry_run"], progress=progress)
        verb = "would be resealed" if options["dry_run"] else "resealed"
        self.stdout.write(f"{count.resealed} token(s) {verb}, {count.unreadable} under no configured key")
        if count.unreadable:
            self.stderr.write("Some tokens open under none of DUALAUTH_SOCIAL_TOKEN_KEYS: a key they need was "
                              "removed. Put it back (after the first) before removing any other.")
            raise SystemExit(1)
