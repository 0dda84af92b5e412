"""Security events as log records on the ``django_dualauth.audit`` logger.

Each record's message is ``<event> key=value ...`` and its ``extra`` carries ``event`` and
``fields`` for structured handlers. Fields are identifiers only (user id, session id, IP,
reason, scope): never a token, code, password, digest or e-mail address. Route the logger
to your SIEM; it is silent (WARNING threshold of the root logger) unless configured.

Events: ``auth.login.succeeded``, ``auth.login.failed``, ``auth.ratelimit.exceeded``,
``auth.csrf.rejected``, ``auth.token.invalid``, ``auth.session.issued``,
``auth.session.revoked``, ``auth.refresh.reuse_detected``, ``auth.mfa.failed``,
``auth.mfa.enabled``, ``auth.mfa.disabled``, ``auth.password.changed``, ``auth.account.deleted``,
``auth.account.reclaimed`` (the first proof of an unverified address reset it),
``auth.staff.action`` (a staff member changed an account or revoked sessions: the staff id, the
action, the model and the ids; never the reason text), ``auth.database.unavailable``.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from django.dispatch import receiver

if TYPE_CHECKING:
    from .models import AuthSession

from .signals import (
    refresh_token_reused,
    session_issued,
    session_revoked,
    staff_action,
    two_factor_disabled,
    two_factor_enabled,
    two_factor_failed,
)

__all__ = ["logger", "record", "record_outage"]

logger = logging.getLogger("django_dualauth.audit")


def record(event: str, *, level: int = logging.INFO, **fields: object) -> None:
    """Log one security event. ``fields`` must not hold secrets (see the module docstring)."""
    if not logger.isEnabledFor(level):
        return
    text = " ".join(f"{k}={v}" for k, v in fields.items() if v is not None)
    logger.log(level, "%s %s", event, text, extra={"event": event, "fields": fields})


def record_outage(reason: str, path: str) -> None:
    """A request answered 503 because the database is down or locked.

    ``reason`` is the driver's error class and code, never its message (which may quote SQL)."""
    record("auth.database.unavailable", level=logging.WARNING, error=reason, path=repr(path[:200]))


def _pk(obj: object) -> str | None:
    return None if obj is None else str(getattr(obj, "pk", obj))


@receiver(session_issued, dispatch_uid="dualauth_audit_issued")
def _issued(sender: object, session: AuthSession, user: object, **kwargs: object) -> None:
    record("auth.session.issued", user=_pk(user), session=_pk(session), delivery=session.delivery,
           amr=",".join(session.auth_methods or []), ip=session.ip_address)


@receiver(session_revoked, dispatch_uid="dualauth_audit_revoked")
def _revoked(sender: object, session: object, user: object, reason: str, revoked_by: object = None,
             **kwargs: object) -> None:
    record("auth.session.revoked", user=_pk(user), session=_pk(session), reason=reason, by=_pk(revoked_by))


@receiver(refresh_token_reused, dispatch_uid="dualauth_audit_reuse")
def _reused(sender: object, session: object, user: object, ip_address: str | None = None, user_agent: str = "",
            **kwargs: object) -> None:
    record("auth.refresh.reuse_detected", level=logging.WARNING, user=_pk(user), family=_pk(session),
           ip=ip_address, ua=repr(user_agent[:120]))


@receiver(two_factor_failed, dispatch_uid="dualauth_audit_mfa_failed")
def _mfa_failed(sender: object, user: object, method: str, ip_address: str | None = None, **kwargs: object) -> None:
    record("auth.mfa.failed", level=logging.WARNING, user=_pk(user), method=method, ip=ip_address)


@receiver(two_factor_enabled, dispatch_uid="dualauth_audit_mfa_enabled")
def _mfa_enabled(sender: object, user: object, **kwargs: object) -> None:
    record("auth.mfa.enabled", user=_pk(user))


@receiver(two_factor_disabled, dispatch_uid="dualauth_audit_mfa_disabled")
def _mfa_disabled(sender: object, user: object, reason: str, revoked_by: object = None, **kwargs: object) -> None:
    record("auth.mfa.disabled", user=_pk(user), reason=reason, by=_pk(revoked_by))


@receiver(staff_action, dispatch_uid="dualauth_audit_staff_action")
def _staff_action(sender: object, staff: object, action: str, target_model: type[object], target_ids: list[str],
                  **kwargs: object) -> None:
    # The reason is free text a person typed (it may name someone): the LogEntry keeps it, the log does not.
    record("auth.staff.action", staff=_pk(staff), action=action,
           target=getattr(getattr(target_model, "_meta", None), "label_lower", None),
           ids=",".join(target_ids[:100]))
