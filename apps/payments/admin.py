from django.contrib import admin

from apps.core.admin import ReadOnlyAdmin, ReadOnlyTabularInline

from .models import Payment, Sale, Ticket


class TicketInline(ReadOnlyTabularInline):
    model = Ticket
    fields = ["code", "session_seat", "price"]


@admin.register(Sale)
class SaleAdmin(ReadOnlyAdmin):
    """Sales are written only by the payment service; staff read them."""

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
