from django import forms
from django.contrib import admin
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from apps.catalog.models import Movie
from apps.core.admin import (
    AutocompleteFilter,
    AutocompleteFilterMedia,
    DeletesReadOnlyDependants,
    ReadOnlyTabularInline,
    ServiceErrorsAsMessages,
    SortedRelatedFilter,
    short_datetime,
)
from apps.core.errors import InvalidInput
from apps.rooms.models import Room

from . import services
from .models import Session


class LocalTimes:
    """A session's start and end as its cinema's clocks show them. Formatted here, because the
    admin would turn an aware value back into its own zone (settings.TIME_ZONE)."""

    @admin.display(description=_("starts at"), ordering="starts_at")
    def local_start(self, session: Session) -> str:
        return short_datetime(session.starts_at, session.room.cinema.zone) if session.pk else "-"

    @admin.display(description=_("ends at"), ordering="ends_at")
    def local_end(self, session: Session) -> str:
        return short_datetime(session.ends_at, session.room.cinema.zone) if session.pk else "-"


class SessionInline(LocalTimes, ReadOnlyTabularInline):
    """A room's or a movie's sessions, read-only: sessions are scheduled on their own page."""

    model = Session
    fields = ["movie", "room", "local_start", "price", "status"]
    ordering = ["-starts_at"]
    show_change_link = True

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("movie", "room__cinema")


class SessionAdminForm(forms.ModelForm):
    class Meta:
        model = Session
        fields = ["movie", "room", "starts_at", "price"]
        help_texts = {"starts_at": _("In the time zone of the room's cinema.")}
        # A text field read in the staff member's language: in a number field a browser may
        # drop the comma of "30,00" and send 3000 (seen in Chromium in pt-BR).
        localized_fields = ["price"]

    # A session starts at a wall-clock time of its cinema. The admin reads and shows times in
    # the zone it activates (settings.TIME_ZONE), and the add form learns the cinema only from
    # the room chosen in it, so activating the cinema's zone for the page cannot work there.
    # Instead the field holds the cinema's wall-clock time, and clean() places it in the zone of
    # the chosen room's cinema: one rule for adding, editing and moving to another cinema.

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            local = self.instance.local_starts_at
            self.initial["starts_at"] = timezone.make_naive(local, local.tzinfo)

    def clean(self) -> dict:
        data = super().clean()
        if self.errors:
            return data
        typed = timezone.make_naive(data["starts_at"])
        data["starts_at"] = timezone.make_aware(typed, data["room"].cinema.zone)
        try:
            services.session_validate(
                movie=data["movie"],
                room=data["room"],
                starts_at=data["starts_at"],
                excluding=self.instance if self.instance.pk else None,
            )
        except InvalidInput as error:
            # At the field the rule is about, as the API's problem details name it.
            field = error.field if error.field in self.fields else None
            self.add_error(field, forms.ValidationError(str(error.detail), code=error.code))
        return data


@admin.register(Session)
class SessionAdmin(
    AutocompleteFilterMedia,
    DeletesReadOnlyDependants,
    ServiceErrorsAsMessages,
    LocalTimes,
    admin.ModelAdmin,
):
    form = SessionAdminForm
    list_display = ["movie", "room", "local_start", "local_end", "price", "status"]
    list_filter = [
        "status",
        "starts_at",
        ("room__cinema", SortedRelatedFilter),
        ("room", AutocompleteFilter),
        ("movie", AutocompleteFilter),
    ]
    search_fields = ["movie__title_pt_br", "movie__title_en", "room__name", "room__cinema__name"]
    list_select_related = ["movie", "room__cinema"]
    date_hierarchy = "starts_at"
    autocomplete_fields = ["movie"]
    readonly_fields = ["local_end", "status", "created_at"]
    # Cancelling refunds the sales: the payments app serves this page with that action.

    def get_queryset(self, request):
        # Every name of a session (lists, the autocomplete of filters and forms) reads these.
        return super().get_queryset(request).select_related("movie", "room__cinema")

    def get_fields(self, request, obj=None) -> list[str]:
        fields = list(super().get_fields(request, obj))
        if obj is not None and not self.has_change_permission(request, obj):
            # Shown, not edited: the admin would show the stored start in its own zone.
            fields[fields.index("starts_at")] = "local_start"
        return fields

    def has_change_permission(self, request, obj=None) -> bool:
        allowed = super().has_change_permission(request, obj)
        return allowed and (obj is None or self.is_correctable(obj))

    def is_correctable(self, session: Session) -> bool:
        # Only until the first hold, which this app does not know about: the page that serves
        # sessions with their sales (payments) says when.
        return False

    def save_model(self, request, obj: Session, form, change: bool) -> None:
        created = services.session_create(
            movie=obj.movie, room=obj.room, starts_at=obj.starts_at, price=obj.price
        )
        obj.pk = created.pk


def room_layout_fixed(model_admin: admin.ModelAdmin, room: Room) -> bool:
    # Every session, a past or cancelled one too, copied the room's seats and its tickets name
    # them: from the first one on, only the seats' categories may change.
    return Session.objects.filter(room=room).exists()


# A movie's and a room's pages list their sessions, and a room's layout is fixed by them.
# Sessions build on catalog and rooms, so this is added here, to their admin classes, rather
# than imported by them.
for model, extra in ((Movie, {}), (Room, {"layout_fixed": room_layout_fixed})):
    model_admin = type(admin.site.get_model_admin(model))
    admin.site.unregister(model)
    admin.site.register(
        model,
        type(
            f"{model_admin.__name__}WithSessions",
            (model_admin,),
            {"inlines": [SessionInline, *model_admin.inlines], **extra},
        ),
    )
