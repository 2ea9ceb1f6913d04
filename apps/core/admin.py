"""Admin building blocks shared by the apps."""

from django.contrib import admin, messages
from django.http import HttpResponseRedirect

from .errors import ApplicationError


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


class ServiceErrorsAsMessages:
    """Mix into a ModelAdmin whose save_model calls services. The service checks again, under
    its locks, what the form checked a moment ago; when someone else got there first, its
    application error becomes a message on the same page, and nothing was saved."""

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except ApplicationError as error:
            self.message_user(request, str(error.detail), messages.ERROR)
            return HttpResponseRedirect(request.get_full_path())


class DeletesReadOnlyDependants:
    """For a ModelAdmin whose rows own read-only rows (a ReadOnlyAdmin's, kept by a service) that
    go with them on delete. Django's delete page asks for the delete permission of every row a
    delete cascades to, and read-only rows have none, so it told even a superuser that they lack
    a permission, and hid the real obstacle, the protected rows, behind that. Rows that only
    follow their owner are no permission of their own: the page asks for none and names what
    protects the row, if anything does."""

    def get_deleted_objects(self, objs, request):
        to_delete, counts, perms_needed, protected = super().get_deleted_objects(objs, request)
        read_only = {
            str(model._meta.verbose_name)
            for model, model_admin in self.admin_site._registry.items()
            if isinstance(model_admin, ReadOnlyAdmin)
        }
        return to_delete, counts, perms_needed - read_only, protected
