"""Delete expired sessions and sessions revoked long enough ago, in short batches walked by an index.

Sessions are walked by primary key (keyset pagination: each batch starts after the last key of
the previous one), so every batch reads at most ``--batch-size`` sessions through the primary
key's index, whatever the table holds, and the whole purge reads the table once. No index on an
expiry: it would take a new entry on every rotation (the hot path) to serve a daily job. Each
statement is short and commits on its own; the spent tokens of a batch go first,
``--batch-size`` rows per DELETE, through their ``session_id`` index.

Purged rows are deleted without model signals, so without the per-row ``post_delete`` receiver
(a cache write per session). Nothing needs it: a revoked session got its revocation marker when
it was revoked, and an unrevoked expired session is purged only once no access token of it can
still verify (in the common case, long before: an idle lifetime shorter than the access
lifetime, or a JWT leeway past the absolute expiry, postpone it to a later run). Until then it
stays, refused for refresh, exactly as it was.
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connections, router
from django.db.models import Model
from django.utils import timezone

from ...conf import dualauth_settings
from ...models import (
    AccountToken,
    AuthSession,
    LinkToken,
    LoginChallenge,
    MagicLink,
    OAuthNonce,
    OAuthState,
    PendingLink,
    RotatedRefreshToken,
)

# Between batches: measured on PostgreSQL beside a client refreshing in a loop, 0.05 s kept its
# median latency within about 10% of an idle database's, where no pause doubled it in some runs
# (bench/purge.py, docs/admin.md); a batch itself takes a few tens of milliseconds.
DEFAULT_PAUSE = 0.05


class Command(BaseCommand):
    help = ("Delete expired sessions and sessions revoked more than --revoked-days ago, with their "
            "spent refresh-token digests, and expired 2FA challenges, magic links, account tokens and "
            "sign-in nonces. "
            "Works in short batches (sessions walked by primary key, each statement its own "
            "transaction), so no lock is held for long and the purge can run beside live traffic. "
            "Prints totals and the duration; -v 2 also prints every batch, -v 0 nothing.")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--revoked-days", type=int, default=7, metavar="DAYS",
                            help="keep revoked sessions this many days, for audit; 0 deletes every "
                                 "revoked session (default 7)")
        parser.add_argument("--batch-size", type=int, default=1000, metavar="N",
                            help="sessions examined per batch, and rows per DELETE of spent tokens, "
                                 "2FA challenges, magic links and account tokens (default 1000)")
        parser.add_argument("--sleep", type=float, default=DEFAULT_PAUSE, metavar="SECONDS",
                            help="pause between batches, which leaves the database to live requests; "
                                 f"0 purges at full speed (default {DEFAULT_PAUSE})")
        parser.add_argument("--dry-run", action="store_true",
                            help="print how many rows of each kind would be deleted, delete nothing")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["revoked_days"] < 0 or options["batch_size"] < 1 or options["sleep"] < 0:
            raise CommandError("--revoked-days and --sleep must not be negative, --batch-size must be at least 1.")
        self.batch, self.pause, self.verbosity = options["batch_size"], options["sleep"], options["verbosity"]
        now = timezone.now()
        revoked_before = now - timedelta(days=options["revoked_days"])
        # Expired one-time credentials: useless, and they keep requesters' IP addresses.
        one_time: list[tuple[type[Model], str]] = [
            (LoginChallenge, "2FA challenge(s)"), (MagicLink, "magic link(s)"), (AccountToken, "account token(s)"),
            (OAuthNonce, "sign-in nonce(s)"), (OAuthState, "redirect-flow state(s)"),
            (PendingLink, "pending link(s)"), (LinkToken, "link token(s)")]
        if options["dry_run"]:
            doomed = AuthSession.objects.purgeable(revoked_before=revoked_before)
            self._say(1, f"{doomed.count()} session(s) would be deleted")
            for model, label in one_time:
                count = model._default_manager.filter(expires_at__lte=now).count()
                self._say(1, f"{count} {label} would be deleted")
            return
        started = time.monotonic()
        for model, label in one_time:
            done = self._purge_expired(model, label, now)
            self._say(1, f"{done} {label} deleted")
        sessions, spent, examined, batches = self._purge_sessions(now, revoked_before)
        self._say(1, f"{sessions} session(s) deleted")
        self._say(1, f"{spent} spent refresh token(s) deleted")
        self._say(1, f"{examined} session(s) examined in {batches} batch(es); "
                     f"done in {time.monotonic() - started:.2f} s")

    def _say(self, level: int, message: str) -> None:
        if self.verbosity >= level:
            self.stdout.write(message)

    def _progress(self, message: str) -> None:
        self._say(2, message)

    def _rest(self) -> None:
        if self.pause:
            time.sleep(self.pause)

    def _purge_expired(self, model: type[Model], label: str, now: datetime) -> int:
        """Delete ``model``'s expired rows, ``--batch-size`` per DELETE, through its expiry index."""
        expired = model._default_manager.filter(expires_at__lte=now).order_by("expires_at")
        done = 0
        while ids := list(expired.values_list("pk", flat=True)[:self.batch]):
            t0 = time.monotonic()
            # Model deletes: a challenge takes its second-factor magic links with it.
            deleted = model._default_manager.filter(pk__in=ids).delete()[0]
            done += len(ids)
            self._progress(f"  {label}: deleted {len(ids)} ({deleted} row(s) with cascades) "
                           f"in {time.monotonic() - t0:.3f} s")
            if len(ids) < self.batch:
                break
            self._rest()
        return done

    def _purge_sessions(self, now: datetime, revoked_before: datetime) -> tuple[int, int, int, int]:
        issued_for = dualauth_settings.REFRESH_REUSE_GRACE + dualauth_settings.ACCESS_TOKEN_LIFETIME
        leeway = dualauth_settings.JWT_LEEWAY
        sessions = spent = examined = batches = 0
        after: Any = None
        while True:
            t0 = time.monotonic()
            walk = AuthSession.objects.order_by("pk")
            if after is not None:
                walk = walk.filter(pk__gt=after)
            # Keyset page: the next --batch-size sessions by primary key, and which of them go.
            page = list(walk.values_list("pk", "expires_at", "absolute_expires_at", "revoked_at",
                                         "last_used_at")[:self.batch])
            if not page:
                break
            after = page[-1][0]
            batches += 1
            examined += len(page)
            ids = [pk for pk, expires, absolute, revoked, used in page
                   if (revoked is not None and revoked <= revoked_before)
                   or ((expires <= now or absolute <= now)
                       # Unrevoked: only once its last access token is dead. That one was issued
                       # at the last use or, by a grace retry, up to the grace later, and lives
                       # until min(issued + lifetime, absolute expiry) + leeway.
                       and (revoked is not None or min(used + issued_for, absolute) + leeway <= now))]
            batch_spent = self._delete_spent(ids) if ids else 0
            # Re-checked in the DELETE: only a purgeable row is ever deleted.
            batch_sessions = _delete_sessions(ids, now, revoked_before) if ids else 0
            sessions, spent = sessions + batch_sessions, spent + batch_spent
            self._progress(f"  sessions: batch {batches}: examined {len(page)}, deleted {batch_sessions} "
                           f"session(s) and {batch_spent} spent token(s) in {time.monotonic() - t0:.3f} s")
            if len(page) < self.batch:
                break
            self._rest()
        return sessions, spent, examined, batches

    def _delete_spent(self, session_ids: list[Any]) -> int:
        """Delete the spent tokens of ``session_ids``, at most ``--batch-size`` rows per DELETE."""
        rows = RotatedRefreshToken.objects.filter(session_id__in=session_ids).order_by()
        done = 0
        while ids := list(rows.values_list("pk", flat=True)[:self.batch]):
            # A single DELETE: nothing listens to this model's signals or references it.
            done += RotatedRefreshToken.objects.filter(pk__in=ids).delete()[0]
            if len(ids) < self.batch:
                break
        return done


def _delete_sessions(ids: list[Any], now: datetime, revoked_before: datetime) -> int:
    """One ``DELETE`` of the sessions ``ids`` that are purgeable, without loading them or sending
    model signals. Their spent tokens are already deleted."""
    meta = AuthSession._meta
    connection = connections[router.db_for_write(AuthSession)]
    qn = connection.ops.quote_name

    fields = {field.name: field for field in meta.concrete_fields}

    def col(name: str) -> str:
        column = fields[name].column
        if column is None:  # a concrete field always has one once its model class is built
            raise LookupError(name)
        return qn(column)

    def prep(name: str, value: Any) -> Any:
        return fields[name].get_db_prep_value(value, connection=connection)

    marks = ", ".join(["%s"] * len(ids))
    sql = (f"DELETE FROM {qn(meta.db_table)} WHERE {col('id')} IN ({marks}) "  # noqa: S608 - identifiers only
           f"AND ({col('expires_at')} <= %s OR {col('absolute_expires_at')} <= %s OR {col('revoked_at')} <= %s)")
    params = [*(prep("id", pk) for pk in ids), prep("expires_at", now), prep("absolute_expires_at", now),
              prep("revoked_at", revoked_before)]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return int(cursor.rowcount)
