from django.contrib import admin

from .models import Reservation, ReservationSeat


class ReservationSeatInline(admin.TabularInline):
    model = ReservationSeat
    extra = 0
    fields = ["session_seat", "price", "is_active"]
    readonly_fields = fields
    can_delete = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Reservation)
class ReservationAdmin(admin.ModelAdmin):
    """Read-only: reservations change only through the booking services, under their locks."""

    list_display = ["id", "user", "session", "status", "expires_at", "total", "created_at"]
    list_filter = ["status", "created_at", "session__room__cinema"]
    search_fields = ["id", "user__email"]
    list_select_related = ["user", "session__movie", "session__room__cinema"]
    date_hierarchy = "created_at"
    inlines = [ReservationSeatInline]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
