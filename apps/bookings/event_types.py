"""The events bookings emits (published to the `cinema.events` exchange, routing key = type)."""

RESERVATION_CREATED = "reservation.created"
RESERVATION_CANCELLED = "reservation.cancelled"
RESERVATION_EXPIRED = "reservation.expired"
RESERVATION_EXTENDED = "reservation.extended"
SEAT_RELEASED = "seat.released"
