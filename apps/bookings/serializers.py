from django.conf import settings
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_serializer
from rest_framework import serializers

from apps.api.representation import money, timestamp
from apps.rooms.models import SeatCategory
from apps.sessions.pricing import TicketType

from .models import Reservation, ReservationSeat
from .selectors import effective_status

# Two kinds of seat id, easy to mix up: a room's seats (`RoomSeat`, its layout) and a session's
# seats (`SessionSeat`, one per room seat and screening). Only the latter are reserved.
SESSION_SEAT_ID = (
    "Session-seat id: an `id` of `GET /api/v1/sessions/{id}/seats` (`SessionSeat`), not a room "
    "seat id (`RoomSeat`, from `GET /api/v1/rooms/{id}`)."
)


# What `seats` and `tickets` parse at most: a guard against huge bodies, above the real limit
# (`MAX_SEATS_PER_RESERVATION`, which the service checks, answering `too_many_seats`, and the
# schema states as `maxItems`: apps.bookings.openapi).
_MAX_LISTED = max(100, settings.MAX_SEATS_PER_RESERVATION)


class TicketChoiceSerializer(serializers.Serializer):
    seat = serializers.IntegerField(min_value=1, help_text=SESSION_SEAT_ID)
    type = serializers.ChoiceField(
        choices=TicketType.choices,
        default=TicketType.FULL,
        help_text="`half`: half price (meia-entrada), for buyers the law entitles to it.",
    )


class ReservationInputSerializer(serializers.Serializer):
    """`seats` (all full price) or `tickets` (a type per seat), not both."""

    session = serializers.IntegerField(min_value=1, help_text="Id of the session (screening).")
    seats = serializers.ListField(
        child=serializers.IntegerField(min_value=1, help_text=SESSION_SEAT_ID),
        allow_empty=False,
        max_length=_MAX_LISTED,
        required=False,
        help_text="Session-seat ids from `GET /api/v1/sessions/{id}/seats`, all full price; "
        "at most `MAX_SEATS_PER_RESERVATION` (`maxItems`), more is 400 `too_many_seats`.",
    )
    tickets = TicketChoiceSerializer(
        many=True,
        allow_empty=False,
        max_length=_MAX_LISTED,
        required=False,
        help_text="Instead of `seats`: each session seat with its ticket type; as many as "
        "`seats` allows.",
    )

    def validate(self, attrs: dict) -> dict:
        if ("seats" in attrs) == ("tickets" in attrs):
            raise serializers.ValidationError(
                _("Give either seats or tickets, not both."), code="seats_or_tickets"
            )
        tickets = attrs.pop("tickets", None)
        if tickets is not None:
            attrs["seats"] = [ticket["seat"] for ticket in tickets]
            attrs["half_price"] = [t["seat"] for t in tickets if t["type"] == TicketType.HALF]
        else:
            attrs["half_price"] = []
        return attrs


_TICKET_TYPES = frozenset(TicketType.values)


class ReservationQuerySerializer(serializers.Serializer):
    hold_seconds = serializers.IntegerField(
        required=False,
        help_text="For trying the flow by hand only: hold for this many seconds instead of "
        "`RESERVATION_TTL_SECONDS` (30 by default), from 1 up to `TRY_FLOW_HOLD_SECONDS_MAX` "
        "(600 by default; 0, as in production, refuses the parameter with "
        "`hold_seconds_not_allowed`). Outside the range: `hold_seconds_out_of_range`. The hold "
        "still ends at its `expires_at`, like any other.",
    )


def _positive_int(value: object) -> bool:
    return type(value) is int and value >= 1  # not bool, not float, not a numeric string


def reservation_input(data: object) -> dict | None:
    """`ReservationInputSerializer`'s validated data for a plainly well-formed request, or None
    when the request is anything else: then the serializer decides, so every error (and every
    input it coerces, such as "12" for 12) reads exactly as before. Building the serializer's
    fields anew for each request was a tenth of a rush's CPU; a property test holds the two to
    the same result."""
    if type(data) is not dict or len(data) != 2 or not _positive_int(data.get("session")):
        return None
    if "seats" in data:
        seats = data["seats"]
        if type(seats) is not list or not 1 <= len(seats) <= _MAX_LISTED:
            return None
        if not all(_positive_int(seat) for seat in seats):
            return None
        return {"session": data["session"], "seats": list(seats), "half_price": []}
    tickets = data.get("tickets")
    if type(tickets) is not list or not 1 <= len(tickets) <= _MAX_LISTED:
        return None
    seats, half_price = [], []
    for ticket in tickets:
        if type(ticket) is not dict or not _positive_int(ticket.get("seat")):
            return None
        kind = ticket.get("type", TicketType.FULL.value)
        if len(ticket) != ("type" in ticket) + 1 or type(kind) is not str:
            return None
        if kind not in _TICKET_TYPES:
            return None
        seats.append(ticket["seat"])
        if kind == TicketType.HALF:
            half_price.append(ticket["seat"])
    return {"session": data["session"], "seats": seats, "half_price": half_price}


class ReservedSeatSerializer(serializers.ModelSerializer):
    id = serializers.IntegerField(source="session_seat_id", help_text=SESSION_SEAT_ID)
    label = serializers.CharField(source="session_seat.seat.label")
    type = serializers.ChoiceField(source="ticket_type", choices=TicketType.choices)

    class Meta:
        model = ReservationSeat
        fields = ("id", "label", "type", "price")


class ReservationOutputSerializer(serializers.ModelSerializer):
    """The reservation as answered, for the OpenAPI schema; `reservation_data` writes it."""

    session = serializers.IntegerField(source="session_id")
    seats = ReservedSeatSerializer(many=True)
    status = serializers.SerializerMethodField()

    class Meta:
        model = Reservation
        fields = ("id", "session", "seats", "status", "expires_at", "total")
        read_only_fields = fields

    def get_status(self, reservation: Reservation) -> str:
        return effective_status(reservation)


@extend_schema_serializer(component_name="SessionSeat")
class SeatMapEntrySerializer(serializers.Serializer):
    """A seat of one session (screening), with its live status: its `id` is what
    `POST /api/v1/reservations` takes, and differs from the room seat's id."""

    id = serializers.IntegerField(
        help_text="Session-seat id, used to reserve the seat (`seats`, `tickets[].seat`)."
    )
    label = serializers.CharField()
    row = serializers.CharField()
    number = serializers.IntegerField()
    category = serializers.ChoiceField(choices=SeatCategory.choices)
    status = serializers.ChoiceField(
        choices=["available", "held", "sold", "blocked"],
        help_text="`blocked`: out of sale (category `blocked`), never reservable.",
    )


def reservation_data(reservation: Reservation) -> dict:
    """What `ReservationOutputSerializer` gives for a reservation whose seats are prefetched
    with their labels, built directly: the model serializer builds its fields anew on every
    use, a fifth of a reservation's CPU. A test holds the two to the same output."""
    return {
        "id": str(reservation.id),
        "session": reservation.session_id,
        "seats": [
            {
                "id": seat.session_seat_id,
                "label": seat.session_seat.seat.label,
                "type": seat.ticket_type,
                "price": money(seat.price),
            }
            for seat in reservation.seats.all()
        ],
        "status": effective_status(reservation),
        "expires_at": timestamp(reservation.expires_at),
        "total": money(reservation.total),
    }
