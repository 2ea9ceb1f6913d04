"""Admin building blocks shared by the apps."""

from datetime import datetime, tzinfo

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.widgets import AutocompleteSelect
from django.http import HttpResponseRedirect
from django.utils import formats, timezone

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


def short_datetime(value: datetime | None, zone: tzinfo | None = None) -> str:
    """A time as a list column shows it, 05/12/2026 19:30 (not "5 de Dezembro de 2026 às
    19:30"): in `zone` (a cinema's) if given, else in the admin's."""
    if value is None:
        return "-"
    return formats.date_format(timezone.localtime(value, zone), "SHORT_DATETIME_FORMAT")


def short_id(value) -> str:
    """The first 8 characters of a UUID: enough to tell rows apart on a screen, and what the
    admin's search finds them by."""
    return str(value)[:8]


class SortedRelatedFilter(admin.RelatedFieldListFilter):
    """A related-field filter listing its choices in alphabetical order, not by id."""

    def field_choices(self, field, request, model_admin):
        choices = super().field_choices(field, request, model_admin)
        return sorted(choices, key=lambda choice: str(choice[1]).casefold())


class AutocompleteFilter(admin.RelatedFieldListFilter):
    """A related-field filter that searches as one types, with the admin's own autocomplete,
    instead of listing every row: for rooms, movies and sessions, which are too many to list.
    The related model's admin needs `search_fields`; the ModelAdmin, `AutocompleteFilterMedia`."""

    template = "admin/core/autocomplete_filter.html"

    def field_choices(self, field, request, model_admin):
        # Nothing listed: the widget asks for what matches the typed text.
        return []

    def has_output(self) -> bool:
        return True

    def choices(self, changelist):
        # Only "All", to clear the filter; the widget shows the chosen row.
        yield from list(super().choices(changelist))[:1]

    def widget(self, model_admin) -> str:
        related = self.field.remote_field.model
        chosen = self.lookup_val[-1] if self.lookup_val else None
        choice = forms.ModelChoiceField(
            queryset=related._default_manager.all(),
            required=False,
            widget=AutocompleteSelect(self.field, model_admin.admin_site),
        )
        return choice.widget.render(
            self.lookup_kwarg,
            chosen,
            attrs={"class": "autocomplete-filter", "id": f"filter_{self.field_path}"},
        )

    def __init__(self, field, request, params, model, model_admin, field_path):
        super().__init__(field, request, params, model, model_admin, field_path)
        self.widget_html = self.widget(model_admin)


class AutocompleteFilterMedia:
    """For a ModelAdmin with an AutocompleteFilter: the changelist loads its scripts."""

    @property
    def media(self):
        return (
            super().media
            + AutocompleteSelect(None, None).media
            # After jquery.init.js, which gives it django.jQuery.
            + forms.Media(js=["admin/js/jquery.init.js", "admin/core/autocomplete_filter.js"])
        )
