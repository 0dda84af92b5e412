"""Recovery codes: the one-time backup of an authenticator app. No HTTP.

Codes are 16 characters from a Crockford-like alphabet (80 bits), shown once and stored as
keyed digests; each finishes one login, its row locked so two requests cannot both use it.
Who may replace the set (a current TOTP code) is decided in :mod:`.totp` and :mod:`.twofactor`.
"""

from __future__ import annotations

import re
import secrets
from datetime import datetime
from typing import TYPE_CHECKING

from django.utils import timezone

from ..conf import dualauth_settings
from ..crypto import digest, digests
from ..exceptions import DualAuthError, InvalidTwoFactorCode
from ..models import RecoveryCode
from . import proofs

if TYPE_CHECKING:
    from ..types import User

__all__ = ["RECOVERY_PURPOSE", "remove_recovery_codes", "replace_recovery_codes", "use_recovery_code"]

RECOVERY_PURPOSE = "recovery_code"
# Crockford-like alphabet: no 0/O or 1/I to misread. 16 characters = 80 bits.
_RECOVERY_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
_RECOVERY_RE = re.compile(r"\A[A-Z2-9]{16}\Z")


def _new_recovery_code() -> str:
    raw = "".join(secrets.choice(_RECOVERY_ALPHABET) for _ in range(16))
    return "-".join(raw[i:i + 4] for i in range(0, 16, 4))


def _normalise_recovery_code(code: object) -> str | None:
    if not isinstance(code, str) or len(code) > 64:
        return None
    value = re.sub(r"[\s-]", "", code).upper()
    return value if _RECOVERY_RE.match(value) else None


def replace_recovery_codes(user: User) -> list[str]:
    """Void the user's codes and store a fresh set; returns the raw codes (to show once)."""
    now = timezone.now()
    codes = [_new_recovery_code() for _ in range(dualauth_settings.RECOVERY_CODE_COUNT)]
    RecoveryCode.objects.filter(user=user).delete()
    RecoveryCode.objects.bulk_create([
        RecoveryCode(user=user, created_at=now,
                     digest=digest(_normalise_recovery_code(c) or "", RECOVERY_PURPOSE))
        for c in codes])
    return codes


def remove_recovery_codes(user: User) -> None:
    RecoveryCode.objects.filter(user=user).delete()


def use_recovery_code(user: User, code: object, now: datetime) -> DualAuthError | None:
    """Spend one unused code of ``user`` (row locked; call inside ``atomic``): ``None`` on
    success, else :class:`InvalidTwoFactorCode`. Passes the failure budget first."""
    proofs.attempt(user.pk)
    value = _normalise_recovery_code(code)
    if value is None:
        return InvalidTwoFactorCode()
    row = (RecoveryCode.objects.select_for_update()
           .filter(user=user, used_at__isnull=True, digest__in=digests(value, RECOVERY_PURPOSE))
           .first())
    if row is None:
        return InvalidTwoFactorCode()
    row.used_at = now
    row.save(update_fields=["used_at"])
    return None
