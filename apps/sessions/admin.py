from django import forms
from django.contrib import admin

from apps.catalog.models import Movie
from apps.core.admin import ReadOnlyTabularInline
from apps.core.errors import ApplicationError
from apps.rooms.models import Room

from . import services
from .models import Session


class SessionInline(ReadOnlyTabularInline):
    """A room's or a movie's sessions, read-only: sessions are scheduled on their own page."""

    model = Session
    fields = ["movie", "room", "starts_at", "price", "status"]
    ordering = ["-starts_at"]
    show_change_link = True

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("movie", "room__cinema")


class SessionAdminForm(forms.ModelForm):
    class Meta:
        model = Session
        fields = ["movie", "room", "starts_at", "price"]

    def clean(self) -> dict:
        data = super().clean()
        if self.errors:
            return data
        try:
            services.session_validate(
                movie=data["movie"], room=data["room"], starts_at=data["starts_at"]
            )
        except ApplicationError as error:
            raise forms.ValidationError(str(error.detail), code=error.code) from error
        return data


@admin.register(Session)
class SessionAdmin(admin.ModelAdmin):
    form = SessionAdminForm
    list_display = ["movie", "room", "starts_at", "ends_at", "price", "status"]
    list_filter = ["status", "starts_at", "room__cinema", "room", "movie"]
    search_fields = ["movie__title_pt_br", "movie__title_en", "room__name", "room__cinema__name"]
    list_select_related = ["movie", "room__cinema"]
    date_hierarchy = "starts_at"
    autocomplete_fields = ["movie"]
    readonly_fields = ["ends_at", "status", "created_at"]
    # Cancelling refunds the sales: the payments app serves this page with that action.

    def has_change_permission(self, request, obj=None) -> bool:
        # Seats are copied from the room at creation: an edited session would drift from them.
        return obj is None and super().has_change_permission(request, obj)

    def save_model(self, request, obj: Session, form, change: bool) -> None:
        created = services.session_create(
            movie=obj.movie, room=obj.room, starts_at=obj.starts_at, price=obj.price
        )
        obj.pk = created.pk


# A movie's and a room's pages list their sessions. Sessions build on catalog and rooms, so the
# inline is added here, to their admin classes, rather than imported by them.
for model in (Movie, Room):
    model_admin = type(admin.site.get_model_admin(model))
    admin.site.unregister(model)
    admin.site.register(
        model,
        type(
            f"{model_admin.__name__}WithSessions",
            (model_admin,),
            {"inlines": [SessionInline, *model_admin.inlines]},
        ),
    )
