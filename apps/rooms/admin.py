from django.contrib import admin
from django.db.models import Count
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _

from .models import Cinema, Room, Seat, SeatCategory

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


class SeatInline(admin.TabularInline):
    model = Seat
    extra = 0
    fields = ["row", "number", "label", "category"]
    ordering = ["row", "number"]


@admin.register(Room)
class RoomAdmin(admin.ModelAdmin):
    list_display = ["name", "cinema", "seat_count"]
    list_filter = ["cinema__city", "cinema"]
    search_fields = ["name", "cinema__name"]
    list_select_related = ["cinema"]
    readonly_fields = ["seat_layout"]
    inlines = [SeatInline]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(seat_total=Count("seats"))

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
