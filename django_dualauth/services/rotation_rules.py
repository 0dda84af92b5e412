"""When a session may rotate its refresh token: the one statement of these rules.

The transaction of :mod:`.sessions` checks them on the locked instance (:func:`broken_rule`); the
one-statement rotation on PostgreSQL (``_seam.rotation_statement``) writes them into its SQL from
this same table, so a rule added here holds on both paths, and a rule it cannot write makes that
statement step aside (the transaction decides).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, NamedTuple

from ..types import Delivery

__all__ = ["Rule", "ROTATION_RULES", "broken_rule", "IS_NULL", "AFTER_NOW", "IS_DELIVERY", "IS_TRUE",
           "REVOKED", "INVALID", "INACTIVE_USER"]

# What a rule asks of its field.
IS_NULL = "is null"
AFTER_NOW = "after now"
IS_DELIVERY = "is the delivery the token came through"
IS_TRUE = "is true"

# What breaking it means (sessions maps these to SessionRevoked, RefreshTokenInvalid, and the
# revocation of every session of a deactivated user).
REVOKED = "revoked"
INVALID = "invalid"
INACTIVE_USER = "inactive user"


class Rule(NamedTuple):
    field: str  # an AuthSession field, or "user__<field>" of its user
    holds: str  # IS_NULL, AFTER_NOW, IS_DELIVERY or IS_TRUE
    refusal: str  # REVOKED, INVALID or INACTIVE_USER


#: In order: the first rule a session breaks decides the refusal.
ROTATION_RULES: tuple[Rule, ...] = (
    Rule("revoked_at", IS_NULL, REVOKED),
    Rule("expires_at", AFTER_NOW, INVALID),  # idle expiry
    Rule("absolute_expires_at", AFTER_NOW, INVALID),
    # A cookie family is refreshed only by cookie, a bearer family only by body.
    Rule("delivery", IS_DELIVERY, INVALID),
    Rule("user__is_active", IS_TRUE, INACTIVE_USER),
)


def _value(session: Any, field: str) -> Any:
    if field.startswith("user__"):
        return getattr(session.user, field.removeprefix("user__"))
    return getattr(session, field)


def _holds(rule: Rule, value: Any, presented_via: Delivery, now: datetime) -> bool:
    if rule.holds == IS_NULL:
        return value is None
    if rule.holds == AFTER_NOW:
        return bool(value > now)
    if rule.holds == IS_DELIVERY:
        return bool(value == presented_via)
    if rule.holds == IS_TRUE:
        return bool(value)
    raise ValueError(f"unknown rotation rule: {rule}")


def broken_rule(session: Any, presented_via: Delivery, now: datetime,
                rules: tuple[Rule, ...] | None = None) -> Rule | None:
    """The first of ``rules`` (:data:`ROTATION_RULES`) that ``session`` breaks for a token
    presented through ``presented_via`` at ``now``; None when it may rotate."""
    for rule in ROTATION_RULES if rules is None else rules:
        if not _holds(rule, _value(session, rule.field), presented_via, now):
            return rule
    return None
