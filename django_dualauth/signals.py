"""Signals sent by the service layer (names in the past tense).

Besides these, logins send Django's ``user_logged_in`` / ``user_login_failed`` /
``user_logged_out``, so ``last_login`` and existing receivers keep working.
"""

from __future__ import annotations

from django.dispatch import Signal

__all__ = ["session_issued", "session_rotated", "session_revoked", "refresh_token_reused"]

#: A login created a session (one refresh-token family). kwargs: ``session``, ``user``.
session_issued = Signal()
#: A refresh token was rotated. kwargs: ``session``, ``user``, ``generation``.
session_rotated = Signal()
#: A session was revoked. kwargs: ``session``, ``user``, ``reason``, ``revoked_by`` (user or None).
session_revoked = Signal()
#: An already-rotated refresh token was presented; the family was revoked.
#: kwargs: ``session``, ``user``, ``ip_address``, ``user_agent``.
refresh_token_reused = Signal()
