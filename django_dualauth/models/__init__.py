from __future__ import annotations

from .accounts import AccountState, AccountToken, AccountTokenPurpose
from .email_claims import EmailClaim
from .passwordless import MagicLink, MagicLinkPurpose, SMSDevice
from .sessions import AuthSession, RotatedRefreshToken
from .social import (
    LinkedAccount,
    LinkToken,
    OAuthFlow,
    OAuthNonce,
    OAuthNoncePurpose,
    OAuthState,
    PendingLink,
    ProviderTokenRevocation,
)
from .twofactor import ChallengePurpose, LoginChallenge, RecoveryCode

__all__ = [
    "AccountState",
    "AccountToken",
    "AccountTokenPurpose",
    "AuthSession",
    "ChallengePurpose",
    "EmailClaim",
    "LinkToken",
    "LinkedAccount",
    "LoginChallenge",
    "MagicLink",
    "MagicLinkPurpose",
    "OAuthFlow",
    "OAuthNonce",
    "OAuthNoncePurpose",
    "OAuthState",
    "PendingLink",
    "ProviderTokenRevocation",
    "RecoveryCode",
    "RotatedRefreshToken",
    "SMSDevice",
]
