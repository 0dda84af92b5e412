"""Signals sent by the service layer (names in the past tense).

Besides these, logins send Django's ``user_logged_in`` / ``user_login_failed`` /
``user_logged_out``, so ``last_login`` and existing receivers keep working.
"""

from __future__ import annotations

from django.dispatch import Signal

__all__ = [
    "session_issued",
    "session_rotated",
    "session_revoked",
    "refresh_token_reused",
    "two_factor_enabled",
    "two_factor_disabled",
    "two_factor_failed",
    "recovery_codes_regenerated",
    "account_deleted",
    "account_reclaimed",
    "profile_updated",
    "social_account_linked",
    "social_account_unlinked",
    "provider_token_revoked",
    "staff_action",
]

#: A login created a session (one refresh-token family). kwargs: ``session``, ``user``.
session_issued = Signal()
#: A refresh token was rotated. kwargs: ``session``, ``user``, ``generation``.
session_rotated = Signal()
#: A session was revoked. kwargs: ``session``, ``user``, ``reason``, ``revoked_by`` (user or None).
session_revoked = Signal()
#: An already-rotated refresh token was presented; the family was revoked.
#: kwargs: ``session``, ``user``, ``ip_address``, ``user_agent``.
refresh_token_reused = Signal()

#: A TOTP device was confirmed (2FA is now on). kwargs: ``user``.
two_factor_enabled = Signal()
#: The user's factors were removed. kwargs: ``user``, ``revoked_by`` (admin or None),
#: ``reason`` ("disabled" by the user, "reset" by an administrator).
two_factor_disabled = Signal()
#: A wrong second-factor code followed a correct first factor (notify the user: someone
#: may know the password). kwargs: ``user``, ``method`` ("totp", "recovery-code"), ``ip_address``.
two_factor_failed = Signal()
#: A fresh set of recovery codes replaced the old one. kwargs: ``user``.
recovery_codes_regenerated = Signal()

#: An account was deleted: by its owner (``DELETE account``) or by staff (the staff API); every
#: session was revoked first and the user row is gone. kwargs: ``user_id``, ``email`` (the deleted
#: address, e.g. for a farewell mail), ``deleted_by`` (the staff user, or None for the owner).
account_deleted = Signal()

#: The first proof of control of an unverified address (a magic-link sign-in or a password
#: reset) reset what was set up before it: pre-account hijacking (docs/security.md). Sent after
#: commit, when anything was reset. kwargs: ``user``, ``reclaimed`` (a
#: :class:`~django_dualauth.services.first_proof.Reclaimed`: ``proof``, ``sessions``,
#: ``password``, ``totp``, ``recovery_codes``, ``phone``).
account_reclaimed = Signal()

#: ``PATCH profile`` saved the user's names. kwargs: ``user``, ``fields`` (the model fields
#: written, e.g. ``["first_name"]``; never their values).
profile_updated = Signal()

#: A provider account now signs a user in: at the first sign-in with it (``created`` tells a new
#: account), or linked by the user or by a verified address. Sent after commit. kwargs: ``user``,
#: ``provider``, ``provider_account_id``, ``created`` (the user account was created too), ``how``
#: ("sign_up", "session", "redirect", "verified_email", "mailbox"; "redirect": linked from a
#: session through the redirect flow).
social_account_linked = Signal()
#: The user removed a linked provider account. kwargs: ``user``, ``provider``, ``provider_account_id``.
social_account_unlinked = Signal()
#: A provider's refresh token (Apple's) kept for a linked account was sent for revocation after
#: the link or its user was deleted. Sent after the attempt, which runs after the commit.
#: kwargs: ``provider``, ``user_id`` (text; the user may be gone), ``revoked`` (False: it failed
#: and stays queued for ``dualauth_revoke_provider_tokens``), ``error`` (the failure's code or
#: kind, never the token; "" when revoked), ``attempts``.
provider_token_revoked = Signal()
#: A staff member changed something through the staff API (``admin/api/``) or revoked sessions
#: in the Django admin; the change is durable and a ``LogEntry`` records it. kwargs: ``staff``
#: (the user acting), ``action`` (``"user.deactivated"``, ``"user.reactivated"``, ``"user.deleted"``,
#: ``"user.2fa_required"``, ``"user.2fa_reset"``, ``"sessions.revoked"``), ``target_model`` (the
#: model class), ``target_ids`` (list of primary keys as strings), ``reason`` (the staff member's
#: text, possibly empty), ``details`` (a dict: counts, the new flag).
staff_action = Signal()
