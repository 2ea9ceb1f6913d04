from rest_framework import serializers

from apps.catalog.serializers import MovieSummarySerializer
from apps.rooms.serializers import CinemaSerializer

from .models import Sale, Ticket


class PaymentInputSerializer(serializers.Serializer):
    token = serializers.CharField(
        max_length=200,
        help_text="Card token from the payment provider. The test card `tok_declined` is declined.",
    )


class TicketSeatSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    label = serializers.CharField(source="seat.label")


class TicketSerializer(serializers.ModelSerializer):
    seat = TicketSeatSerializer(source="session_seat")

    class Meta:
        model = Ticket
        fields = ("id", "seat", "code", "price")
        read_only_fields = fields


class SaleSerializer(serializers.ModelSerializer):
    reservation = serializers.UUIDField(source="reservation_id")
    tickets = TicketSerializer(many=True)

    class Meta:
        model = Sale
        fields = ("id", "reservation", "tickets", "total", "paid_at")
        read_only_fields = fields


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
        fields = ("id", "session", "tickets", "total", "paid_at")
        read_only_fields = fields
