from django.contrib import admin
from django.contrib.auth.admin import UserAdmin

from haven.core.models import ApiToken, AuditEvent, Site, User


@admin.register(Site)
class SiteAdmin(admin.ModelAdmin[Site]):
    list_display = ["code", "name", "kind", "province"]
    list_filter = ["kind", "province"]
    search_fields = ["code", "name"]


@admin.register(User)
class HavenUserAdmin(UserAdmin[User]):
    list_display = ["username", "role", "site", "is_active"]
    list_filter = ["role", "site", "is_active"]
    fieldsets = (
        *(UserAdmin.fieldsets or ()),
        ("Haven", {"fields": ("role", "site", "assigned_sites")}),
    )


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
class ApiTokenAdmin(admin.ModelAdmin[ApiToken]):
    list_display = ["prefix", "user", "name", "created_at", "last_used_at", "revoked_at"]
    readonly_fields = ["token_hash", "prefix", "uuid"]
