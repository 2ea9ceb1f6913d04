from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from apps.api.representation import money, timestamp
from apps.catalog.serializers import MovieSummarySerializer
from apps.rooms.serializers import CinemaSerializer
from apps.sessions.pricing import TicketType

from .models import Payment, Sale, Ticket


class StrictCharField(serializers.CharField):
    """A string as sent: DRF's CharField would take 4242 and read it as "4242"."""

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class PaymentInputSerializer(serializers.Serializer):
    token = StrictCharField(
        max_length=200,
        help_text=(
            "What the payment provider gave the client for this payment. With the sandbox "
            "provider: `tok_declined` is declined, `tok_pix` is a PIX charge and `tok_3ds` a card "
            "that needs 3-D Secure (both settle later: 202), any other token is approved at once. "
            "With Stripe: a PaymentMethod id (`pm_…`), or `pix`."
        ),
    )


class SandboxInputSerializer(serializers.Serializer):
    outcome = serializers.ChoiceField(
        choices=["succeeded", "failed"],
        help_text="What the buyer does in their bank app or 3-D Secure page.",
    )


class TicketSeatSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    label = serializers.CharField(source="seat.label")


class TicketSerializer(serializers.ModelSerializer):
    seat = TicketSeatSerializer(source="session_seat")
    type = serializers.ChoiceField(source="ticket_type", choices=TicketType.choices)

    class Meta:
        model = Ticket
        fields = ("id", "seat", "code", "type", "price")
        read_only_fields = fields


class CheckinInputSerializer(serializers.Serializer):
    code = StrictCharField(max_length=64, help_text="The ticket's code, as its QR code encodes it.")


class CheckedInTicketSerializer(serializers.ModelSerializer):
    seat = TicketSeatSerializer(source="session_seat")
    session = serializers.IntegerField(source="sale.session_id")
    type = serializers.ChoiceField(source="ticket_type", choices=TicketType.choices)

    class Meta:
        model = Ticket
        fields = ("id", "code", "seat", "session", "type")
        read_only_fields = fields


class CheckinSerializer(serializers.Serializer):
    ticket = CheckedInTicketSerializer()
    checked_in_at = serializers.DateTimeField()


class SaleSerializer(serializers.ModelSerializer):
    reservation = serializers.UUIDField(source="reservation_id")
    tickets = TicketSerializer(many=True)

    class Meta:
        model = Sale
        fields = ("id", "reservation", "status", "tickets", "total", "paid_at", "refunded_at")
        read_only_fields = fields


def sale_data(sale: Sale) -> dict:
    """What `SaleSerializer` gives for a sale whose tickets hold their seats and labels, built
    directly: the nested model serializers build their fields anew on every use, a tenth of a
    payment's CPU. A test holds the two to the same output."""
    return {
        "id": str(sale.id),
        "reservation": str(sale.reservation_id),
        "status": str(sale.status),
        "tickets": [
            {
                "id": str(ticket.id),
                "seat": {"id": ticket.session_seat_id, "label": ticket.session_seat.seat.label},
                "code": ticket.code,
                "type": ticket.ticket_type,
                "price": money(ticket.price),
            }
            for ticket in sale.tickets.all()
        ],
        "total": money(sale.total),
        "paid_at": timestamp(sale.paid_at),
        "refunded_at": timestamp(sale.refunded_at),
    }


class PaymentSerializer(serializers.ModelSerializer):
    reservation = serializers.UUIDField(source="reservation_id")
    sale = serializers.SerializerMethodField()

    class Meta:
        model = Payment
        fields = (
            "id",
            "reservation",
            "status",
            "method",
            "amount",
            "currency",
            "next_action",
            "failure_reason",
            "sale",
            "created_at",
            "updated_at",
        )
        read_only_fields = fields

    @extend_schema_field(SaleSerializer(allow_null=True))
    def get_sale(self, payment: Payment) -> dict | None:
        sale = getattr(payment, "sale", None)
        return None if sale is None else SaleSerializer(sale).data


class PendingPaymentSerializer(serializers.Serializer):
    """A payment that settles later: what the buyer must do, and until when the seats wait."""

    id = serializers.UUIDField()
    status = serializers.CharField()
    method = serializers.CharField()
    amount = serializers.DecimalField(max_digits=10, decimal_places=2)
    expires_at = serializers.DateTimeField(help_text="The hold's deadline, extended once.")
    next_action = serializers.JSONField(
        help_text='`{"type": "pix", "copy_paste", "qr_svg_url"}` or `{"type": "redirect", "url"}`.'
    )


class SessionCancellationSerializer(serializers.Serializer):
    session = serializers.IntegerField()
    status = serializers.CharField()
    sales_to_refund = serializers.IntegerField()


class PurchaseRoomSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()


class PurchaseSessionSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    starts_at = serializers.DateTimeField()
    movie = MovieSummarySerializer()
    room = PurchaseRoomSerializer()
    cinema = CinemaSerializer(source="room.cinema")


class PurchaseSerializer(serializers.ModelSerializer):
    """A sale as the buyer's history shows it; the movie title is in the request's language."""

    session = PurchaseSessionSerializer()
    tickets = TicketSerializer(many=True)

    class Meta:
        model = Sale
        fields = ("id", "session", "status", "tickets", "total", "paid_at", "refunded_at")
        read_only_fields = fields
