from rest_framework import serializers

from .models import Reservation, ReservationSeat
from .selectors import effective_status


class ReservationInputSerializer(serializers.Serializer):
    session = serializers.IntegerField(min_value=1)
    seats = serializers.ListField(
        child=serializers.IntegerField(min_value=1),
        allow_empty=False,
        max_length=100,
        help_text="Session-seat ids from the seat map (at most MAX_SEATS_PER_RESERVATION, 10).",
    )


class ReservedSeatSerializer(serializers.ModelSerializer):
    id = serializers.IntegerField(source="session_seat_id")
    label = serializers.CharField(source="session_seat.seat.label")

    class Meta:
        model = ReservationSeat
        fields = ("id", "label")


class ReservationOutputSerializer(serializers.ModelSerializer):
    session = serializers.IntegerField(source="session_id")
    seats = ReservedSeatSerializer(many=True)
    status = serializers.SerializerMethodField()

    class Meta:
        model = Reservation
        fields = ("id", "session", "seats", "status", "expires_at", "total")
        read_only_fields = fields

    def get_status(self, reservation: Reservation) -> str:
        return effective_status(reservation)


class SeatMapEntrySerializer(serializers.Serializer):
    id = serializers.IntegerField(help_text="Session-seat id, used to reserve the seat.")
    label = serializers.CharField()
    row = serializers.CharField()
    number = serializers.IntegerField()
    status = serializers.ChoiceField(choices=["available", "held", "sold"])
