from django.conf import settings
from django.contrib import admin, messages
from django.db.models import Count
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _

from apps.core.admin import ServiceErrorsAsMessages

from . import selectors, services
from .forms import RoomForm, fits_grid
from .models import Cinema, Room, SeatCategory

# One character after each label in the layout drawing; standard seats have none.
_LAYOUT_MARKS = {
    SeatCategory.WHEELCHAIR: "♿",
    SeatCategory.COMPANION: "+",
    SeatCategory.BLOCKED: "✕",
}


class RoomInline(admin.TabularInline):
    model = Room
    extra = 0
    fields = ["name"]
    show_change_link = True


@admin.register(Cinema)
class CinemaAdmin(admin.ModelAdmin):
    list_display = ["name", "city", "timezone", "room_count"]
    list_filter = ["city"]
    search_fields = ["name", "city"]
    inlines = [RoomInline]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(room_total=Count("rooms"))

    @admin.display(description=_("rooms"), ordering="room_total")
    def room_count(self, obj: Cinema) -> int:
        return obj.room_total


@admin.register(Room)
class RoomAdmin(ServiceErrorsAsMessages, admin.ModelAdmin):
    """A room and its seats on one page: the layout editor sends the whole grid in one field,
    and the rooms services write it."""

    form = RoomForm
    list_display = ["name", "cinema", "seat_count"]
    list_filter = ["cinema__city", "cinema"]
    search_fields = ["name", "cinema__name"]
    list_select_related = ["cinema"]
    fields = ["cinema", "name", "rows", "seats_per_row", "cells", "seat_lists", "labels"]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(seat_total=Count("seats"))

    def get_fields(self, request, obj=None) -> list[str]:
        if obj is None:
            return list(self.fields)
        if not fits_grid(obj):
            # Seats made through the API that no grid draws (rows past Z): shown, not edited.
            return ["cinema", "name", "seat_layout"]
        # The drawing of the saved seats, under the editor.
        return [*self.fields, "seat_layout"]

    def get_readonly_fields(self, request, obj=None) -> list[str]:
        # A room's sessions are in its cinema's time zone: it stays in its cinema.
        return ["cinema", "seat_layout"] if obj else []

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change, **kwargs)
        form.layout_fixed = obj is not None and self.layout_fixed(obj)
        return form

    def layout_fixed(self, room: Room) -> bool:
        """Whether sessions sell the room's seats, so that only their categories may change.
        Sessions build on rooms: their app answers (see apps/sessions/admin.py)."""
        return False

    def save_model(self, request, obj: Room, form: RoomForm, change: bool) -> None:
        layout = form.layout
        if not change:
            assert layout is not None  # the form is valid only with a layout
            obj.pk = services.room_create(
                cinema=obj.cinema,
                name=obj.name,
                positions=layout.positions,
                categories=layout.categories,
                labels=layout.labels,
            ).pk
            return
        if "name" in form.changed_data:
            services.room_rename(room=obj, name=obj.name)
        if layout is not None:
            services.room_layout_update(
                room=obj,
                positions=layout.positions,
                categories=layout.categories,
                labels=layout.labels,
                layout_fixed=form.layout_fixed,
            )

    def response_add(self, request, obj: Room, post_url_continue=None):
        self._warn_if_too_small(request, obj)
        return super().response_add(request, obj, post_url_continue)

    def response_change(self, request, obj: Room):
        self._warn_if_too_small(request, obj)
        return super().response_change(request, obj)

    def _warn_if_too_small(self, request, room: Room) -> None:
        sellable = selectors.room_sellable_seat_count(room)
        if sellable < settings.MIN_SEATS_PER_SESSION:
            self.message_user(
                request,
                _(
                    "%(room)s has %(count)d seats for sale; a session needs at least %(min)d. "
                    "No session can be scheduled in it until it has more."
                )
                % {"room": room, "count": sellable, "min": settings.MIN_SEATS_PER_SESSION},
                messages.WARNING,
            )

    @admin.display(description=_("seats"), ordering="seat_total")
    def seat_count(self, obj: Room) -> int:
        return obj.seat_total

    @admin.display(description=_("seat layout"))
    def seat_layout(self, obj: Room) -> str:
        """The room as the audience sees it: one line per row, screen on top."""
        if not obj.pk:
            return "-"
        rows: dict[str, list[str]] = {}
        for seat in obj.seats.order_by("row", "number"):
            mark = _LAYOUT_MARKS.get(seat.category, " ")
            rows.setdefault(seat.row, []).append(f"[{seat.label:>4}{mark}]")
        lines = format_html_join(
            "",
            "<div style='font-family:monospace;white-space:nowrap'>{}</div>",
            ((" ".join(cells),) for cells in rows.values()),
        )
        legend = ", ".join(
            f"{mark} {SeatCategory(category).label}" for category, mark in _LAYOUT_MARKS.items()
        )
        return format_html(
            "<div style='font-family:monospace;text-align:center'>━━━ {} ━━━</div>{}"
            "<div style='margin-top:.5em'>{}</div>",
            _("screen"),
            lines,
            legend,
        )
