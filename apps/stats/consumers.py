from apps.bookings import event_types as booking_events
from apps.events.consumers import EventConsumer, ReceivedEvent
from apps.payments import event_types as payment_events

from . import services


class SessionStatsConsumer(EventConsumer):
    """Per-session statistics, many events per database write."""

    queue = "cinema.stats"
    event_types = (
        booking_events.RESERVATION_CREATED,
        booking_events.RESERVATION_CANCELLED,
        booking_events.RESERVATION_EXPIRED,
        payment_events.PAYMENT_CONFIRMED,
        payment_events.PAYMENT_REFUNDED,
    )
    batch_size = 200
    batch_interval_seconds = 1.0

    def handle_batch(self, received: list[ReceivedEvent]) -> None:
        services.apply_events(received)
