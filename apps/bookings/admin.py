from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from apps.core.admin import (
    AutocompleteFilter,
    AutocompleteFilterMedia,
    ReadOnlyAdmin,
    ReadOnlyTabularInline,
    SortedRelatedFilter,
    short_datetime,
    short_id,
)

from .models import Reservation, ReservationSeat


class ReservationSeatInline(ReadOnlyTabularInline):
    model = ReservationSeat
    fields = ["session_seat", "price", "is_active"]

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .select_related(
                "session_seat__seat",
                "session_seat__session__movie",
                "session_seat__session__room__cinema",
            )
        )


@admin.register(Reservation)
class ReservationAdmin(AutocompleteFilterMedia, ReadOnlyAdmin):
    """Read-only: reservations change only through the booking services, under their locks."""

    list_display = ["reference", "user", "session", "status", "expires", "total"]
    list_filter = [
        "status",
        "created_at",
        ("session__room__cinema", SortedRelatedFilter),
        ("session", AutocompleteFilter),
    ]
    search_fields = ["id", "user__email"]
    list_select_related = ["user", "session__movie", "session__room__cinema"]
    date_hierarchy = "created_at"
    inlines = [ReservationSeatInline]

    @admin.display(description=_("reservation"), ordering="id")
    def reference(self, reservation: Reservation) -> str:
        return short_id(reservation.pk)

    @admin.display(description=_("expires at"), ordering="expires_at")
    def expires(self, reservation: Reservation) -> str:
        return short_datetime(reservation.expires_at, reservation.session.room.cinema.zone)
