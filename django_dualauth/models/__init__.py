from __future__ import annotations

from .accounts import AccountState
from .sessions import AuthSession, RotatedRefreshToken

__all__ = ["AccountState", "AuthSession", "RotatedRefreshToken"]
