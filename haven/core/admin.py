"""The admin: sites, users and device tokens. Every change made here is audited like any other
write, in the admin's own transaction. Households and persons are not in the admin: their reads
must be audited and scoped, which the registry's pages do."""

from typing import Any, TypeVar

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin
from django.db.models import Model, QuerySet
from django.http import HttpRequest
from django_otp.plugins.otp_totp.models import TOTPDevice

from haven.core import audit
from haven.core.actions import revoke_api_token
from haven.core.models import ApiToken, AuditEvent, Site, User
from haven.core.second_factor import reset_second_factor
from haven.core.signin import AdminSignInForm

# The admin's sign-in is throttled like Haven's own (haven.core.login_security).
admin.site.login_form = AdminSignInForm
# django-otp's own device admin would show every user's secret key and change devices without an
# audit row; a device is reset by the audited action on the user below (or `haven otp reset`).
if admin.site.is_registered(TOTPDevice):
    admin.site.unregister(TOTPDevice)


def _record(request: HttpRequest, action: str, obj: Model, message: Any) -> None:
    user = request.user if isinstance(request.user, User) else None
    audit.record(
        user=user,
        action=f"{obj._meta.model_name}.{action}",
        object_type=str(obj._meta.model_name),
        object_uuid=getattr(obj, "uuid", None),
        site=obj if isinstance(obj, Site) else None,
        detail={"via": "admin", "pk": obj.pk, "object": str(obj), "change": str(message)},
    )


M = TypeVar("M", bound=Model)


class AuditedAdmin(admin.ModelAdmin[M]):
    """Writes an AuditEvent beside Django's own admin log entry for every add, change, delete."""

    def log_addition(self, request: HttpRequest, obj: M, message: Any) -> Any:
        _record(request, "add", obj, message)
        return super().log_addition(request, obj, message)

    def log_change(self, request: HttpRequest, obj: M, message: Any) -> Any:
        _record(request, "change", obj, message)
        return super().log_change(request, obj, message)

    def log_deletions(self, request: HttpRequest, queryset: QuerySet[M]) -> Any:
        for obj in queryset:
            _record(request, "delete", obj, "deleted")
        return super().log_deletions(request, queryset)


@admin.register(Site)
class SiteAdmin(AuditedAdmin[Site]):
    list_display = ["code", "name", "kind", "province"]
    list_filter = ["kind", "province"]
    search_fields = ["code", "name"]


@admin.register(User)
class HavenUserAdmin(UserAdmin[User], AuditedAdmin[User]):
    list_display = ["username", "role", "site", "is_active"]
    list_filter = ["role", "site", "is_active"]
    fieldsets = (
        *(UserAdmin.fieldsets or ()),
        ("Haven", {"fields": ("role", "site", "assigned_sites")}),
    )
    actions = ["reset_second_factor"]

    @admin.action(description="Reset the second factor (the user enrols a new authenticator)")
    def reset_second_factor(self, request: HttpRequest, queryset: QuerySet[User]) -> None:
        acting_user = request.user if isinstance(request.user, User) else None
        for user in queryset:
            reset_second_factor(user=user, acting_user=acting_user, via="admin")


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin[AuditEvent]):
    """Read-only: the audit log is never edited."""

    list_display = ["at", "user", "action", "object_type", "object_uuid", "record_site"]
    list_filter = ["action"]

    def has_add_permission(self, request: object) -> bool:
        return False

    def has_change_permission(self, request: object, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: object, obj: object = None) -> bool:
        return False


@admin.register(ApiToken)
class ApiTokenAdmin(AuditedAdmin[ApiToken]):
    """Tokens are made by `haven token create` (the secret is shown once); here they are revoked."""

    list_display = ["prefix", "user", "name", "created_at", "last_used_at", "revoked_at"]
    readonly_fields = [
        "uuid",
        "user",
        "name",
        "token_hash",
        "prefix",
        "created_at",
        "last_used_at",
        "revoked_at",
    ]
    actions = ["revoke"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    @admin.action(description="Revoke the selected tokens")
    def revoke(self, request: HttpRequest, queryset: QuerySet[ApiToken]) -> None:
        user = request.user if isinstance(request.user, User) else None
        for token in queryset.filter(revoked_at__isnull=True):
            revoke_api_token(token=token, acting_user=user)
