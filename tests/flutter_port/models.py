"""The package's models and their ``fromJson``, with Dart's casts.

``json['x'] as String`` throws on a missing key or any non-string; ``as String?`` accepts a
missing key but throws on a number; ``as bool?`` throws on a string. :class:`DartTypeError`
stands for Dart's ``TypeError``: whatever the package does on one (``checkSession`` catches it
and signs the user out; ``getActiveSessions`` lets it reach the app) the port does too.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generic, TypeVar

__all__ = ["AuthResult", "AuthUser", "DartTypeError", "LoginResult", "SessionInfo", "TotpSetupData", "UiConfig",
           "as_bool_or_null", "as_list_of_strings_or_null", "as_map_or_null", "as_string", "as_string_or_null"]

T = TypeVar("T")
Json = dict[str, Any]


class DartTypeError(TypeError):
    """A failed Dart cast (``type 'int' is not a subtype of type 'String?'``)."""


def _dart_type(value: Any) -> str:
    return {bool: "bool", int: "int", float: "double", str: "String", list: "List<dynamic>",
            dict: "_Map<String, dynamic>", type(None): "Null"}.get(type(value), type(value).__name__)


def _fail(value: Any, wanted: str) -> DartTypeError:
    return DartTypeError(f"type '{_dart_type(value)}' is not a subtype of type '{wanted}' in type cast")


def as_string(value: Any) -> str:
    """``value as String``."""
    if not isinstance(value, str):
        raise _fail(value, "String")
    return value


def as_string_or_null(value: Any) -> str | None:
    """``value as String?``."""
    if value is not None and not isinstance(value, str):
        raise _fail(value, "String?")
    return value


def as_bool_or_null(value: Any) -> bool | None:
    """``value as bool?`` (a JSON ``1`` is an ``int`` in Dart, not a ``bool``)."""
    if value is not None and type(value) is not bool:
        raise _fail(value, "bool?")
    return value


def as_map_or_null(value: Any) -> Json | None:
    """``value as Map<String, dynamic>?``."""
    if value is not None and not isinstance(value, dict):
        raise _fail(value, "Map<String, dynamic>?")
    return value


def as_list_of_strings_or_null(value: Any) -> list[str] | None:
    """``(value as List<dynamic>?)?.cast<String>()``, its elements checked at once."""
    if value is None:
        return None
    if not isinstance(value, list):
        raise _fail(value, "List<dynamic>?")
    return [as_string(item) for item in value]


def _date_or_null(value: Any) -> datetime | None:
    """``value != null ? DateTime.tryParse(value as String) : null``."""
    if value is None:
        return None
    try:
        return datetime.fromisoformat(as_string(value))
    except ValueError:
        return None


@dataclass(frozen=True)
class AuthUser:
    """``AuthUser`` (``lib/src/auth_user.dart``): what ``GET me`` is read into."""

    sub: str
    email: str
    is_email_verified: bool
    id: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    name: str | None = None
    phone_number: str | None = None
    role: str | None = None
    login_provider: str | None = None
    is_totp_enabled: bool | None = None
    has_password: bool | None = None
    last_login: datetime | None = None
    metadata: Json | None = None
    roles: list[str] | None = None
    permissions: list[str] | None = None
    is_admin: bool | None = None

    @classmethod
    def from_json(cls, json: Json) -> AuthUser:
        verified = as_bool_or_null(json.get("isEmailVerified"))
        return cls(
            sub=as_string(json.get("sub")), email=as_string(json.get("email")),
            is_email_verified=False if verified is None else verified,
            id=as_string_or_null(json.get("id")), first_name=as_string_or_null(json.get("firstName")),
            last_name=as_string_or_null(json.get("lastName")), name=as_string_or_null(json.get("name")),
            phone_number=as_string_or_null(json.get("phoneNumber")), role=as_string_or_null(json.get("role")),
            login_provider=as_string_or_null(json.get("loginProvider")),
            is_totp_enabled=as_bool_or_null(json.get("isTotpEnabled")),
            has_password=as_bool_or_null(json.get("hasPassword")), last_login=_date_or_null(json.get("lastLogin")),
            metadata=as_map_or_null(json.get("metadata")), roles=as_list_of_strings_or_null(json.get("roles")),
            permissions=as_list_of_strings_or_null(json.get("permissions")),
            is_admin=as_bool_or_null(json.get("isAdmin")),
        )


@dataclass(frozen=True)
class SessionInfo:
    """``SessionInfo`` (``lib/src/models/session_info.dart``): one item of ``GET sessions``."""

    handle: str
    user_agent: str | None = None
    ip_address: str | None = None
    created_at: datetime | None = None
    last_active_at: datetime | None = None
    is_current: bool = False

    @classmethod
    def from_json(cls, json: Json) -> SessionInfo:
        current = as_bool_or_null(json.get("isCurrent"))
        return cls(handle=as_string(json.get("handle")), user_agent=as_string_or_null(json.get("userAgent")),
                   ip_address=as_string_or_null(json.get("ipAddress")),
                   created_at=_date_or_null(json.get("createdAt")),
                   last_active_at=_date_or_null(json.get("lastActiveAt")),
                   is_current=False if current is None else current)


def _flag(json: Json, key: str, default: bool) -> bool:
    value = as_bool_or_null(json.get(key))
    return default if value is None else value


@dataclass(frozen=True)
class UiConfig:
    """``UiConfig`` (``lib/src/models/ui_config.dart``): what ``GET ui/config`` is read into."""

    registration_enabled: bool = True
    magic_link_enabled: bool = False
    sms_enabled: bool = False
    totp_enabled: bool = False
    github_enabled: bool = False
    google_enabled: bool = False
    available_providers: list[str] = field(default_factory=list)
    extra: Json | None = None

    @classmethod
    def from_json(cls, json: Json) -> UiConfig:
        return cls(registration_enabled=_flag(json, "registrationEnabled", True),
                   magic_link_enabled=_flag(json, "magicLinkEnabled", False),
                   sms_enabled=_flag(json, "smsEnabled", False), totp_enabled=_flag(json, "totpEnabled", False),
                   github_enabled=_flag(json, "githubEnabled", False),
                   google_enabled=_flag(json, "googleEnabled", False),
                   available_providers=as_list_of_strings_or_null(json.get("availableProviders")) or [],
                   extra=as_map_or_null(json.get("extra")))


@dataclass(frozen=True)
class TotpSetupData:
    """``TotpSetupData`` (``lib/src/models/auth_result.dart``): the answer of ``2fa/setup``."""

    secret: str
    qr_code: str

    @classmethod
    def from_json(cls, json: Json) -> TotpSetupData:
        return cls(secret=as_string(json.get("secret")), qr_code=as_string(json.get("qrCode")))


@dataclass(frozen=True)
class AuthResult(Generic[T]):
    """``AuthResult<T>``: ``success`` with ``data``, or a failure with the ``error`` text."""

    success: bool
    data: T | None = None
    error: str | None = None
    error_code: str | None = None

    @classmethod
    def ok(cls, data: T | None = None) -> AuthResult[T]:
        return cls(success=True, data=data)

    @classmethod
    def failure(cls, error: str) -> AuthResult[T]:
        return cls(success=False, error=error)


@dataclass(frozen=True)
class LoginResult(AuthResult[AuthUser]):
    """``LoginResult``: signed in (``data`` is the user), a 2FA challenge, or a failure."""

    requires_2fa: bool = False
    requires_2fa_setup: bool = False
    temp_token: str | None = None
    available_methods: list[str] = field(default_factory=list)

    @classmethod
    def authenticated(cls, user: AuthUser) -> LoginResult:
        return cls(success=True, data=user)

    @classmethod
    def challenge(cls, temp_token: str, available_methods: list[str], requires_2fa_setup: bool) -> LoginResult:
        return cls(success=True, requires_2fa=True, requires_2fa_setup=requires_2fa_setup, temp_token=temp_token,
                   available_methods=available_methods)

    @classmethod
    def failed(cls, error: str) -> LoginResult:
        return cls(success=False, error=error)
