"""Admin building blocks shared by the apps."""

from django.contrib import admin


class ReadOnlyAdmin(admin.ModelAdmin):
    """Rows that only a service writes, under its own locks and rules: staff read them here."""

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


class ReadOnlyTabularInline(admin.TabularInline):
    """Related rows shown on a parent's page, every listed field read-only, none added or
    removed from there."""

    extra = 0
    can_delete = False

    def get_readonly_fields(self, request, obj=None) -> list[str]:
        return list(self.fields or [])

    def has_add_permission(self, request, obj=None) -> bool:
        return False
