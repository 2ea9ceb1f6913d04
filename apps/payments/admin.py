from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.db.models import Count, Q
from django.template.response import TemplateResponse
from django.urls import path
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from apps.bookings import selectors as booking_selectors
from apps.bookings import services as booking_services
from apps.core.admin import (
    AutocompleteFilter,
    AutocompleteFilterMedia,
    ReadOnlyAdmin,
    ReadOnlyTabularInline,
    SortedRelatedFilter,
    short_datetime,
    short_id,
)
from apps.core.errors import ApplicationError
from apps.sessions.admin import SessionAdmin
from apps.sessions.models import Session

from . import door_admin, refunds, selectors
from .models import Payment, Sale, Ticket, WebhookEvent
from .refunds import REFUND_ANY_SALE
from .services import queue_task

# What a ticket's or a session seat's name reads (movie · cinema · room · start · seat).
SEAT_NAMES = [
    "session_seat__seat",
    "session_seat__session__movie",
    "session_seat__session__room__cinema",
]


class RefundActionMixin:
    """Actions that give money back need the refund permission, not only a view of the rows."""

    def has_refund_permission(self, request) -> bool:
        return request.user.has_perm(REFUND_ANY_SALE)


class TicketInline(ReadOnlyTabularInline):
    model = Ticket
    fields = ["code", "session_seat", "price", "voided_at"]

    def get_queryset(self, request):
        return super().get_queryset(request).select_related(*SEAT_NAMES)


@admin.register(Sale)
class SaleAdmin(AutocompleteFilterMedia, RefundActionMixin, ReadOnlyAdmin):
    """Sales are written only by the payment service; staff read and refund them."""

    list_display = ["reference", "user", "session", "total", "status", "paid", "refunded"]
    list_filter = [
        "status",
        "paid_at",
        ("session__room__cinema", SortedRelatedFilter),
        ("session", AutocompleteFilter),
    ]
    search_fields = ["id", "user__email", "tickets__code"]
    list_select_related = ["user", "session__movie", "session__room__cinema"]
    date_hierarchy = "paid_at"
    inlines = [TicketInline]
    actions = ["refund_sales"]

    @admin.display(description=_("sale"), ordering="id")
    def reference(self, sale: Sale) -> str:
        return short_id(sale.pk)

    @admin.display(description=_("paid at"), ordering="paid_at")
    def paid(self, sale: Sale) -> str:
        return short_datetime(sale.paid_at, sale.session.room.cinema.zone)

    @admin.display(description=_("refunded at"), ordering="refunded_at")
    def refunded(self, sale: Sale) -> str:
        return short_datetime(sale.refunded_at, sale.session.room.cinema.zone)

    @admin.action(description=_("Refund selected sales"), permissions=["refund"])
    def refund_sales(self, request, queryset) -> None:
        done = 0
        for sale in queryset:
            try:
                refunds.sale_refund(sale_id=sale.id, user=request.user)
            except ApplicationError as error:
                self.message_user(request, f"{sale}: {error.detail}", messages.WARNING)
            else:
                done += 1
        if done:
            self.message_user(
                request,
                _("%(n)d sale(s) refunded: tickets void, seats on sale again, money on its way.")
                % {"n": done},
                messages.SUCCESS,
            )


@admin.register(Ticket)
class TicketAdmin(AutocompleteFilterMedia, ReadOnlyAdmin):
    change_list_template = "admin/payments/ticket/change_list.html"
    list_display = [
        "short_code",
        "session_seat",
        "ticket_type",
        "price",
        "sale_reference",
        "state",
    ]
    list_filter = ["sale__paid_at", ("sale__session", AutocompleteFilter)]
    search_fields = ["code", "sale__user__email"]
    list_select_related = SEAT_NAMES

    @admin.display(description=_("code"), ordering="code")
    def short_code(self, ticket: Ticket) -> str:
        return short_id(ticket.code)

    @admin.display(description=_("sale"), ordering="sale_id")
    def sale_reference(self, ticket: Ticket) -> str:
        return short_id(ticket.sale_id)

    @admin.display(description=_("state"), ordering="checked_in_at")
    def state(self, ticket: Ticket) -> str:
        if ticket.voided_at:
            return _("void")
        if ticket.checked_in_at:
            zone = ticket.session_seat.session.room.cinema.zone
            return _("in at %(time)s") % {"time": short_datetime(ticket.checked_in_at, zone)}
        return _("valid")

    def get_urls(self):
        scan = self.admin_site.admin_view(lambda request: door_admin.scan_view(self, request))
        return [path("scan/", scan, name="payments_ticket_scan"), *super().get_urls()]

    def changelist_view(self, request, extra_context=None):
        may_scan = request.user.has_perm(door_admin.CHECK_IN)
        extra_context = {**(extra_context or {}), "may_scan": may_scan}
        return super().changelist_view(request, extra_context)


@admin.register(Payment)
class PaymentAdmin(RefundActionMixin, ReadOnlyAdmin):
    """Payments move only through their lifecycle; staff see where each one is and take over the
    refunds automation gave up on."""

    list_display = [
        "reference",
        "user",
        "amount",
        "method",
        "status",
        "refund_reason",
        "needs_attention",
        "created",
    ]
    list_filter = ["needs_attention", "status", "provider", "method", "refund_reason", "created_at"]
    search_fields = ["id", "user__email", "provider_reference", "idempotency_key"]
    list_select_related = ["user"]
    actions = ["retry_refunds"]

    @admin.display(description=_("payment"), ordering="id")
    def reference(self, payment: Payment) -> str:
        return short_id(payment.pk)

    @admin.display(description=_("created at"), ordering="created_at")
    def created(self, payment: Payment) -> str:
        return short_datetime(payment.created_at)

    @admin.action(description=_("Retry the refund of selected payments"), permissions=["refund"])
    def retry_refunds(self, request, queryset) -> None:
        due = queryset.filter(status="succeeded", refund_requested_at__isnull=False)
        ids = list(due.values_list("id", flat=True))
        due.update(needs_attention=False, attention_reason="", refund_attempts=0)
        for payment_id in ids:
            queue_task("apps.payments.tasks.refund_payment", str(payment_id))
        self.message_user(
            request, _("%(n)d refund(s) queued again.") % {"n": len(ids)}, messages.SUCCESS
        )


@admin.register(WebhookEvent)
class WebhookEventAdmin(ReadOnlyAdmin):
    list_display = ["event_id", "provider", "type", "payment_id", "outcome", "received_at"]
    list_filter = ["provider", "type", "outcome", "received_at"]
    search_fields = ["event_id", "payment_id", "reference"]


# Sessions are scheduled in the sessions app; cancelling one refunds its sales, which only this
# app can do, so the session page is served from here with that action and its progress.
admin.site.unregister(Session)


@admin.register(Session)
class SessionWithSalesAdmin(SessionAdmin):
    actions = ["cancel_sessions"]
    list_display = [*SessionAdmin.list_display, "refund_progress"]
    readonly_fields = [*SessionAdmin.readonly_fields, "refund_progress", "door"]

    def get_queryset(self, request):
        # Django leaves Meta.ordering out of a query that aggregates, and the autocomplete of
        # sessions pages through this queryset: unordered, a page could repeat or skip one.
        return (
            super()
            .get_queryset(request)
            .annotate(
                sales_paid=Count("sales", filter=Q(sales__status="paid")),
                sales_refunded=Count("sales", filter=Q(sales__status="refunded")),
            )
            .order_by("starts_at", "id")
        )

    @admin.display(description=_("refunds"))
    def refund_progress(self, session: Session) -> str:
        paid = getattr(session, "sales_paid", None)
        refunded = getattr(session, "sales_refunded", None)
        if paid is None:
            return "-"
        if session.status != Session.Status.CANCELLED:
            return _("%(paid)d sale(s)") % {"paid": paid}
        return _("%(refunded)d of %(total)d sale(s) refunded") % {
            "refunded": refunded,
            "total": paid + refunded,
        }

    @admin.display(description=_("at the door"))
    def door(self, session: Session) -> str:
        if session.pk is None:
            return "-"
        return format_html(
            '{} · <a href="{}">{}</a>',
            door_admin.checked_in_summary(session.pk),
            door_admin.scan_url(),
            _("scan tickets"),
        )

    def is_correctable(self, session: Session) -> bool:
        return session.status == Session.Status.SCHEDULED and not (
            booking_selectors.session_ever_held(session.pk)
        )

    def save_model(self, request, obj: Session, form, change: bool) -> None:
        if not change:
            super().save_model(request, obj, form, change)
            return
        booking_services.session_correct(
            session_id=obj.pk,
            movie=obj.movie,
            room=obj.room,
            starts_at=obj.starts_at,
            price=obj.price,
        )

    def has_cancel_permission(self, request) -> bool:
        return request.user.has_perm("screenings.cancel_session")

    @admin.action(
        description=_("Cancel selected sessions and refund their sales"), permissions=["cancel"]
    )
    def cancel_sessions(self, request, queryset) -> TemplateResponse | None:
        sessions = list(queryset.select_related("movie", "room__cinema"))
        sold = selectors.sold_by_session([session.pk for session in sessions])
        to_cancel = [s for s in sessions if s.status != Session.Status.CANCELLED]
        if request.POST.get("post") != "yes":
            return self._cancel_confirmation(request, sessions, to_cancel, sold)
        for session in sessions:
            if session not in to_cancel:
                self.message_user(
                    request,
                    _("%(session)s was already cancelled.") % {"session": session},
                    messages.WARNING,
                )
        if not to_cancel:
            return None
        sales = sum(refunds.session_cancel(session_id=session.pk) for session in to_cancel)
        self.message_user(
            request,
            _(
                "%(sessions)d session(s) cancelled. %(sales)d sale(s) with %(tickets)d ticket(s) "
                "are being refunded, and their buyers are e-mailed."
            )
            % {
                "sessions": len(to_cancel),
                "sales": sales,
                "tickets": sum(sold[session.pk].tickets for session in to_cancel),
            },
            messages.SUCCESS,
        )
        return None

    def _cancel_confirmation(
        self,
        request,
        sessions: list[Session],
        to_cancel: list[Session],
        sold: dict[int, selectors.Sold],
    ) -> TemplateResponse:
        """Before anything is cancelled: what each session has sold, and that it is refunded."""
        rows = [
            _("%(session)s: %(tickets)d ticket(s) sold in %(sales)d sale(s).")
            % {"session": s, "tickets": sold[s.pk].tickets, "sales": sold[s.pk].sales}
            for s in to_cancel
        ]
        tickets = sum(sold[session.pk].tickets for session in to_cancel)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": _("Cancel sessions"),
            "rows": rows,
            "summary": _(
                "%(tickets)d ticket(s) have been sold for these sessions. Cancelling refunds "
                "every sale in full and e-mails the buyers; the seats are not sold again."
            )
            % {"tickets": tickets},
            "already_cancelled": [s for s in sessions if s not in to_cancel],
            "selected": sessions,
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        }
        return TemplateResponse(request, "admin/payments/session_cancel_confirmation.html", context)
