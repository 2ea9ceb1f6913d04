from django.contrib import admin

from apps.core.admin import ReadOnlyAdmin, ReadOnlyTabularInline

from .models import Reservation, ReservationSeat


class ReservationSeatInline(ReadOnlyTabularInline):
    model = ReservationSeat
    fields = ["session_seat", "price", "is_active"]


@admin.register(Reservation)
class ReservationAdmin(ReadOnlyAdmin):
    """Read-only: reservations change only through the booking services, under their locks."""

    list_display = ["id", "user", "session", "status", "expires_at", "total", "created_at"]
    list_filter = ["status", "created_at", "session__room__cinema"]
    search_fields = ["id", "user__email"]
    list_select_related = ["user", "session__movie", "session__room__cinema"]
    date_hierarchy = "created_at"
    inlines = [ReservationSeatInline]
