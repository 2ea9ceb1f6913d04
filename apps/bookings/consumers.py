import uuid

from django.utils.dateparse import parse_datetime

from apps.core import events
from apps.core.consumers import EventConsumer, ReceivedEvent

from .tasks import schedule_expiry


class ExpirySchedulerConsumer(EventConsumer):
    """Queues each hold's expiry task for its deadline.

    Driven by `reservation.created` from the outbox rather than sent by the request itself, so the
    request never talks to the broker and the task is never lost when the broker is down.
    """

    queue = "cinema.expiry-scheduler"
    event_types = (events.RESERVATION_CREATED,)
    # One transaction per batch: under load the worker's event loop, which also fires the
    # expiry tasks at their deadlines, must not spend itself on one commit per hold.
    batch_size = 100
    batch_interval_seconds = 0.1

    def handle(self, event: ReceivedEvent) -> None:
        schedule_expiry(
            reservation_id=uuid.UUID(event.data["reservation_id"]),
            eta=parse_datetime(event.data["expires_at"]),
            strict=True,
        )
