from apps.core import events
from apps.core.consumers import EventConsumer, ReceivedEvent

from . import services


class SessionStatsConsumer(EventConsumer):
    """Per-session statistics, many events per database write."""

    queue = "cinema.stats"
    event_types = (
        events.RESERVATION_CREATED,
        events.RESERVATION_CANCELLED,
        events.RESERVATION_EXPIRED,
        events.PAYMENT_CONFIRMED,
    )
    batch_size = 200
    batch_interval_seconds = 1.0

    def handle_batch(self, received: list[ReceivedEvent]) -> None:
        services.apply_events(received)
