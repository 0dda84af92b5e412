"""Admin for sessions: list, search, filter and revoke. No token digest is ever shown.

Every revocation goes through the service layer, so ``session_revoked`` fires and the
cache-mode revocation markers are published. Projects add "Revoke all sessions" to their
own user admin with :class:`RevokeSessionsUserAdminMixin` (no monkeypatching here).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.db.models import Q, QuerySet
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from .models import AccountState, AuthSession, LinkedAccount, MagicLink, ProviderTokenRevocation, SMSDevice
from .models.sessions import RevocationReason
from .services import revoke_all_sessions, revoke_session, social_tokens
from .services import staff as staff_actions
from .services.twofactor import reset_two_factor

if TYPE_CHECKING:  # generic in django-stubs only: Django's admin classes take no type arguments at run time
    _SessionAdmin = admin.ModelAdmin[AuthSession]
    _SessionInline = admin.TabularInline[AuthSession, Any]
    _StateInline = admin.StackedInline[AccountState, Any]
    _StateAdmin = admin.ModelAdmin[AccountState]
    _MagicLinkAdmin = admin.ModelAdmin[MagicLink]
    _SMSDeviceAdmin = admin.ModelAdmin[SMSDevice]
    _LinkedAccountAdmin = admin.ModelAdmin[LinkedAccount]
    _RevocationAdmin = admin.ModelAdmin[ProviderTokenRevocation]
else:
    _SessionAdmin = _StateAdmin = _MagicLinkAdmin = _SMSDeviceAdmin = _LinkedAccountAdmin = admin.ModelAdmin
    _RevocationAdmin = admin.ModelAdmin
    _SessionInline, _StateInline = admin.TabularInline, admin.StackedInline

__all__ = ["AccountStateAdmin", "AccountStateInline", "AuthSessionAdmin", "AuthSessionInline", "LinkedAccountAdmin",
           "ProviderTokenRevocationAdmin", "RevokeSessionsUserAdminMixin"]


def _user_search_fields(prefix: str) -> tuple[str, ...]:
    """Search on the user model's username and e-mail fields, whatever they are called."""
    model = get_user_model()
    names = dict.fromkeys([model.USERNAME_FIELD, model.get_email_field_name()])
    field_names = {f.name for f in model._meta.get_fields()}
    return tuple(f"{prefix}{name}" for name in names if name in field_names)

_DISPLAY_FIELDS = ("id", "user", "delivery", "auth_methods", "created_at", "last_used_at",
                   "expires_at", "absolute_expires_at", "ip_address", "user_agent", "generation",
                   "revoked_at", "revoked_reason", "revoked_by")
#: Where the admin's revocations are recorded (the LogEntry message; the staff API says "staff API").
_FROM_ADMIN = "Django admin"
#: The device column's width in characters (the full User-Agent is its tooltip and on the detail page).
DEVICE_CHARS = 40


def _short(value: Any) -> str:
    """A list column's time, to the minute, in the current time zone: the admin's long dates made
    the list overflow a 1400 px window."""
    return "-" if value is None else timezone.localtime(value).strftime("%Y-%m-%d %H:%M")


def _revoked_from_admin(request: HttpRequest, revoked: list[AuthSession]) -> None:
    """The admin's History of each session (and the signal, the audit event) says who revoked it."""
    staff_actions.log_session_revocations(request.user, revoked, "", where=_FROM_ADMIN)  # type: ignore[arg-type]


class StateFilter(admin.SimpleListFilter):
    title = _("state")
    parameter_name = "state"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin[Any]) -> list[tuple[str, Any]]:
        return [("active", _("Active")), ("revoked", _("Revoked")), ("expired", _("Expired"))]

    def queryset(self, request: HttpRequest, queryset: QuerySet[AuthSession]) -> QuerySet[AuthSession]:
        now = timezone.now()
        if self.value() == "active":
            return queryset.filter(revoked_at__isnull=True, expires_at__gt=now,
                                   absolute_expires_at__gt=now)
        if self.value() == "revoked":
            return queryset.filter(revoked_at__isnull=False)
        if self.value() == "expired":
            return queryset.filter(Q(expires_at__lte=now) | Q(absolute_expires_at__lte=now),
                                   revoked_at__isnull=True)
        return queryset


@admin.action(description=_("Revoke selected sessions"), permissions=["change"])
def revoke_selected(modeladmin: admin.ModelAdmin[Any], request: HttpRequest, queryset: QuerySet[AuthSession]) -> None:
    revoked = [s for s in queryset.select_related("user")
               if revoke_session(s, reason=RevocationReason.ADMIN, revoked_by=request.user)]
    _revoked_from_admin(request, revoked)
    modeladmin.message_user(request, _("%d session(s) revoked.") % len(revoked), messages.SUCCESS)


@admin.register(AuthSession)
class AuthSessionAdmin(_SessionAdmin):
    list_display = ("user", "delivery", "state", "ip_address", "short_user_agent", "created",
                    "last_used", "expires")
    list_filter = (StateFilter, "delivery", "revoked_reason", "created_at")
    list_select_related = ("user",)
    ordering = ("-created_at",)
    date_hierarchy = "created_at"
    actions = [revoke_selected]
    fields = _DISPLAY_FIELDS
    readonly_fields = _DISPLAY_FIELDS
    raw_id_fields = ("user",)

    def get_search_fields(self, request: HttpRequest) -> tuple[str, ...]:
        return (*_user_search_fields("user__"), "ip_address", "user_agent", "=id")

    @admin.display(description=_("state"))
    def state(self, obj: AuthSession) -> str:
        if obj.revoked_at is not None:
            return f"revoked ({obj.revoked_reason})"
        return "active" if obj.is_active() else "expired"

    @admin.display(description=_("device"))
    def short_user_agent(self, obj: AuthSession) -> str:
        if len(obj.user_agent) <= DEVICE_CHARS:
            return obj.user_agent
        return format_html('<span title="{}">{}…</span>', obj.user_agent, obj.user_agent[:DEVICE_CHARS])

    @admin.display(description=_("created at"), ordering="created_at")
    def created(self, obj: AuthSession) -> str:
        return _short(obj.created_at)

    @admin.display(description=_("last used at"), ordering="last_used_at")
    def last_used(self, obj: AuthSession) -> str:
        return _short(obj.last_used_at)

    @admin.display(description=_("expires at"), ordering="expires_at")
    def expires(self, obj: AuthSession) -> str:
        return _short(obj.expires_at)

    @admin.display(description=_("revoked by"))
    def revoked_by(self, obj: AuthSession) -> str:
        """The staff member who revoked it, from the admin's History (the row keeps only the reason)."""
        staff_id = staff_actions.revokers([obj.pk]).get(str(obj.pk)) if obj.revoked_at else None
        if staff_id is None:
            return "-"
        member = get_user_model()._default_manager.filter(pk=staff_id).first()
        return str(member) if member is not None else f"deleted user {staff_id}"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def change_view(self, request: HttpRequest, object_id: str, form_url: str = "",
                    extra_context: dict[str, Any] | None = None) -> HttpResponse:
        # Every field is read-only: no Save buttons (the change permission is for the revoke action).
        context = {**(extra_context or {}), "show_save": False, "show_save_and_continue": False,
                   "show_save_and_add_another": False}
        return super().change_view(request, object_id, form_url, extra_context=context)

    def delete_model(self, request: HttpRequest, obj: AuthSession) -> None:
        if revoke_session(obj, reason=RevocationReason.ADMIN, revoked_by=request.user):
            _revoked_from_admin(request, [obj])
        super().delete_model(request, obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[AuthSession]) -> None:
        revoked = [s for s in queryset.select_related("user")
                   if revoke_session(s, reason=RevocationReason.ADMIN, revoked_by=request.user)]
        _revoked_from_admin(request, revoked)
        super().delete_queryset(request, queryset)


class AuthSessionInline(_SessionInline):
    """Read-only list of a user's sessions, for the project's ``UserAdmin``."""

    model = AuthSession
    fk_name = "user"
    extra = 0
    can_delete = False
    show_change_link = True
    fields = ("delivery", "ip_address", "user_agent", "created_at", "last_used_at", "revoked_at",
              "revoked_reason")
    readonly_fields = fields
    ordering = ("-created_at",)

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.action(description=_("Revoke all sessions of selected users"), permissions=["change"])
def revoke_all_user_sessions(modeladmin: admin.ModelAdmin[Any], request: HttpRequest, queryset: QuerySet[Any]) -> None:
    users = list(queryset)
    before = list(AuthSession.objects.filter(user__in=users, revoked_at__isnull=True).values_list("pk", flat=True))
    count = sum(revoke_all_sessions(u, reason=RevocationReason.ADMIN, revoked_by=request.user) for u in users)
    _revoked_from_admin(request, list(AuthSession.objects.select_related("user").filter(
        pk__in=before, revoked_reason=RevocationReason.ADMIN)))
    modeladmin.message_user(request, _("%d session(s) revoked.") % count, messages.SUCCESS)


@admin.action(description=_("Reset two-factor authentication of selected users"), permissions=["change"])
def reset_user_two_factor(modeladmin: admin.ModelAdmin[Any], request: HttpRequest, queryset: QuerySet[Any]) -> None:
    """Remove TOTP devices and recovery codes and revoke every session (a lost phone)."""
    users = list(queryset)
    for user in users:
        reset_two_factor(user, revoked_by=request.user)
    modeladmin.message_user(request, _("Two-factor authentication reset for %d user(s).") % len(users),
                            messages.SUCCESS)


@admin.action(description=_("Reset two-factor authentication"), permissions=["change"])
def reset_account_two_factor(modeladmin: admin.ModelAdmin[Any], request: HttpRequest,
                             queryset: QuerySet[AccountState]) -> None:
    reset_user_two_factor(modeladmin, request, get_user_model()._default_manager.filter(
        pk__in=queryset.values("user_id")))


class AccountStateInline(_StateInline):
    """The user's verification and 2FA state; 2FA itself is reset with the action, not edited."""

    model = AccountState
    can_delete = False
    fields = ("email_verified", "two_factor_enabled", "two_factor_required", "login_provider")
    readonly_fields = ("two_factor_enabled", "login_provider")


class RevokeSessionsUserAdminMixin:
    """Mix into your ``UserAdmin``: adds the sessions and account-state inlines and the
    "Revoke all sessions" and "Reset two-factor authentication" actions."""

    def get_actions(self, request: HttpRequest, action_location: Any = None) -> Any:
        # Django >= 6.1 passes action_location (change list or change form); older ones do not.
        extra = {} if action_location is None else {"action_location": action_location}
        actions = super().get_actions(request, **extra)  # type: ignore[misc]
        on_change_list = getattr(action_location, "name", "CHANGE_LIST") == "CHANGE_LIST"
        # Added after Django's permission filter, so apply the actions' permissions=["change"] here.
        if on_change_list and self.has_change_permission(request):  # type: ignore[attr-defined]
            for action in (revoke_all_user_sessions, reset_user_two_factor):
                actions[action.__name__] = (action, action.__name__,
                                            action.short_description)  # type: ignore[attr-defined]
        return actions

    def get_inlines(self, request: HttpRequest, obj: Any) -> Any:
        inlines = list(super().get_inlines(request, obj))  # type: ignore[misc]
        return [*inlines, AccountStateInline, AuthSessionInline] if obj is not None else inlines


@admin.register(AccountState)
class AccountStateAdmin(_StateAdmin):
    list_display = ("user", "email_verified", "two_factor_enabled", "two_factor_required")
    list_filter = ("email_verified", "two_factor_enabled", "two_factor_required")
    raw_id_fields = ("user",)
    readonly_fields = ("two_factor_enabled", "login_provider")
    actions = [reset_account_two_factor]

    def get_search_fields(self, request: HttpRequest) -> tuple[str, ...]:
        return _user_search_fields("user__")


@admin.register(MagicLink)
class MagicLinkAdmin(_MagicLinkAdmin):
    """Sent links, for support and audit: who, when, used or not. Never the token or its digest."""

    list_display = ("user", "purpose", "created_at", "expires_at", "consumed_at", "ip_address")
    list_filter = ("purpose", "created_at")
    list_select_related = ("user",)
    fields = ("user", "purpose", "created_at", "expires_at", "consumed_at", "ip_address")
    readonly_fields = fields
    ordering = ("-created_at",)

    def get_search_fields(self, request: HttpRequest) -> tuple[str, ...]:
        return (*_user_search_fields("user__"), "ip_address")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(SMSDevice)
class SMSDeviceAdmin(_SMSDeviceAdmin):
    """Phones: number, verified or not, throttling state. The code digest is never shown;
    deleting a device removes the factor (the user adds a phone again)."""

    list_display = ("user", "number", "confirmed", "last_sent_at", "throttling_failure_count")
    list_filter = ("confirmed",)
    list_select_related = ("user",)
    fields = ("user", "name", "number", "confirmed", "last_sent_at", "code_expires_at",
              "throttling_failure_count", "throttling_failure_timestamp")
    readonly_fields = fields

    def get_search_fields(self, request: HttpRequest) -> tuple[str, ...]:
        return (*_user_search_fields("user__"), "number")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


@admin.register(LinkedAccount)
class LinkedAccountAdmin(_LinkedAccountAdmin):
    """Provider accounts linked to users, for support: read-only (a link is made by proof of the
    provider account, never by hand). Deleting one unlinks it; the user may then have no way to
    sign in left but a password reset."""

    list_display = ("user", "provider", "provider_account_id", "email", "linked_at", "last_used_at")
    list_filter = ("provider",)
    list_select_related = ("user",)
    fields = ("user", "provider", "provider_account_id", "email", "linked_at", "last_used_at")
    readonly_fields = fields
    ordering = ("-linked_at",)

    def get_search_fields(self, request: HttpRequest) -> tuple[str, ...]:
        return (*_user_search_fields("user__"), "provider_account_id", "email")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class FailedFilter(admin.SimpleListFilter):
    title = _("has failed")
    parameter_name = "failed"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin[Any]) -> list[tuple[str, Any]]:
        return [("yes", _("Yes")), ("no", _("No (not tried yet)"))]

    def queryset(self, request: HttpRequest,
                 queryset: QuerySet[ProviderTokenRevocation]) -> QuerySet[ProviderTokenRevocation]:
        if self.value() == "yes":
            return queryset.filter(attempts__gt=0)
        if self.value() == "no":
            return queryset.filter(attempts=0)
        return queryset


@admin.action(description=_("Retry now"), permissions=["delete"])
def retry_revocations(modeladmin: admin.ModelAdmin[Any], request: HttpRequest,
                      queryset: QuerySet[ProviderTokenRevocation]) -> None:
    """What ``dualauth_revoke_provider_tokens`` does, for the selected rows, at once. It needs the
    delete permission: a row the provider refuses for good is dropped."""
    outcomes = [social_tokens.send(pk) for pk in queryset.values_list("pk", flat=True)]
    counts = {name: outcomes.count(name) for name in ("revoked", "queued", "dropped")}
    modeladmin.message_user(
        request, _("%(revoked)d revoked, %(queued)d still queued, %(dropped)d dropped.") % counts,
        messages.SUCCESS if counts["queued"] == 0 else messages.WARNING)


#: The queue's columns. Never ``token``: not even sealed (a leaked key would open it).
_REVOCATION_FIELDS = ("provider", "client_id", "former_user_id", "created_at", "attempts", "last_attempt_at",
                      "last_error")


@admin.register(ProviderTokenRevocation)
class ProviderTokenRevocationAdmin(_RevocationAdmin):
    """The provider tokens (Apple's) still to revoke after their link was deleted while the
    provider was down, for operators: read-only, never the token. "Retry now" sends them;
    deleting one gives up on it (Django's delete, so it is in the History)."""

    list_display = _REVOCATION_FIELDS
    list_filter = ("provider", FailedFilter)
    search_fields = ("client_id", "=user_id", "last_error")
    ordering = ("created_at",)
    actions = [retry_revocations]
    fields = ("id", *_REVOCATION_FIELDS)
    readonly_fields = fields

    @admin.display(description=_("former user id"), ordering="user_id")
    def former_user_id(self, obj: ProviderTokenRevocation) -> str:
        return obj.user_id or "-"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
