"""The public, HTTP-free Python API: issue, rotate, verify and revoke sessions."""

from __future__ import annotations

from .access_tokens import decode_access_token, encode_access_token
from .claims import profile, user_claims
from .sessions import (
    issue_session,
    revoke_all_sessions,
    revoke_session,
    revoke_session_by_id,
    revoke_session_by_refresh_token,
    rotate_refresh_token,
)
from .verification import TokenUser, authenticate_access_token

__all__ = [
    "TokenUser",
    "authenticate_access_token",
    "decode_access_token",
    "encode_access_token",
    "issue_session",
    "profile",
    "revoke_all_sessions",
    "revoke_session",
    "revoke_session_by_id",
    "revoke_session_by_refresh_token",
    "rotate_refresh_token",
    "user_claims",
]
