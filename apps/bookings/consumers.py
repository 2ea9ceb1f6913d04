from datetime import timedelta

from django.conf import settings
from django.utils.dateparse import parse_datetime

from apps.bookings import event_types as booking_events
from apps.events.consumers import EventConsumer, ReceivedEvent

from .expiry_groups import deadline_groups
from .tasks import schedule_expiry


class ExpirySchedulerConsumer(EventConsumer):
    """Queues the expiry tasks of new holds for their deadlines, one per group of holds whose
    deadlines fall within `EXPIRY_GROUP_SECONDS` of each other (see expiry_groups).

    Driven by `reservation.created` from the outbox rather than sent by the request itself, so the
    request never talks to the broker and the task is never lost when the broker is down.
    """

    queue = "cinema.expiry-scheduler"
    event_types = (booking_events.RESERVATION_CREATED,)
    # One transaction per batch: under load the worker's event loop, which also fires the
    # expiry tasks at their deadlines, must not spend itself on one commit per hold.
    batch_size = 100
    batch_interval_seconds = 0.1

    def handle_batch(self, events: list[ReceivedEvent]) -> None:
        holds = [
            (str(event.data["reservation_id"]), parse_datetime(event.data["expires_at"]))
            for event in events
        ]
        window = timedelta(seconds=settings.EXPIRY_GROUP_SECONDS)
        for group in deadline_groups(holds, window=window):
            schedule_expiry(reservation_ids=group.reservation_ids, eta=group.due, strict=True)
