from __future__ import annotations

from .accounts import AccountState, AccountToken, AccountTokenPurpose
from .email_claims import EmailClaim
from .passwordless import MagicLink, MagicLinkPurpose, SMSDevice
from .sessions import AuthSession, RotatedRefreshToken
from .social import LinkedAccount, OAuthFlow, OAuthNonce, OAuthNoncePurpose, OAuthState
from .twofactor import ChallengePurpose, LoginChallenge, RecoveryCode

__all__ = [
    "AccountState",
    "AccountToken",
    "AccountTokenPurpose",
    "AuthSession",
    "ChallengePurpose",
    "EmailClaim",
    "LinkedAccount",
    "LoginChallenge",
    "MagicLink",
    "MagicLinkPurpose",
    "OAuthFlow",
    "OAuthNonce",
    "OAuthNoncePurpose",
    "OAuthState",
    "RecoveryCode",
    "RotatedRefreshToken",
    "SMSDevice",
]
