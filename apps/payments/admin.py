from django.contrib import admin

from .models import Payment, Sale, Ticket


class ReadOnlyAdmin(admin.ModelAdmin):
    """Sales are written only by the payment service; staff read them."""

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


class TicketInline(admin.TabularInline):
    model = Ticket
    fields = ["code", "session_seat", "price"]
    readonly_fields = fields
    extra = 0

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Sale)
class SaleAdmin(ReadOnlyAdmin):
    list_display = ["id", "user", "session", "total", "paid_at"]
    list_filter = ["paid_at", "session__room__cinema", "session"]
    search_fields = ["id", "user__email", "tickets__code"]
    list_select_related = ["user", "session__movie", "session__room__cinema"]
    date_hierarchy = "paid_at"
    inlines = [TicketInline]


@admin.register(Ticket)
class TicketAdmin(ReadOnlyAdmin):
    list_display = ["code", "session_seat", "price", "sale"]
    list_filter = ["sale__paid_at", "sale__session"]
    search_fields = ["code", "sale__user__email"]
    list_select_related = ["session_seat__seat", "sale"]


@admin.register(Payment)
class PaymentAdmin(ReadOnlyAdmin):
    list_display = ["id", "user", "amount", "status", "provider", "created_at"]
    list_filter = ["status", "provider", "created_at"]
    search_fields = ["id", "user__email", "provider_reference"]
    list_select_related = ["user"]
