"""A test consumer that fails on purpose while a Redis flag is set (not a test module).

The worker runs it when EVENT_CONSUMERS names it. Each attempt appends its time to a Redis list
of the event; an attempt that succeeds pushes the event id to `flaky:processed` once its
transaction (with the consumer's record of the event) has committed.
"""

from __future__ import annotations

import time
import uuid

import redis
from django.conf import settings
from django.db import transaction

from apps.bookings import event_types as booking_events
from apps.bookings.models import Reservation
from apps.events.consumers import EventConsumer, ReceivedEvent

FAIL_FLAG = "flaky:fail"
PROCESSED = "flaky:processed"


def attempts_key(event_id: uuid.UUID | str) -> str:
    return f"flaky:attempts:{event_id}"


def store() -> redis.Redis:
    return redis.Redis.from_url(settings.REDIS_URL)


class FlakyConsumer(EventConsumer):
    queue = "cinema.flaky"
    event_types = (booking_events.RESERVATION_CREATED,)

    def handle(self, event: ReceivedEvent) -> None:
        if not Reservation.objects.filter(pk=event.data["reservation_id"]).exists():
            return  # another test run's event, come through the shared exchange
        r = store()
        r.rpush(attempts_key(event.id), repr(time.time()))
        if r.exists(FAIL_FLAG):
            raise RuntimeError(f"failing on purpose on {event.id}")
        transaction.on_commit(lambda: r.rpush(PROCESSED, str(event.id)))


def attempt_times(event_id: uuid.UUID | str) -> list[float]:
    return [float(value) for value in store().lrange(attempts_key(event_id), 0, -1)]


def processed_ids() -> list[str]:
    return [value.decode() for value in store().lrange(PROCESSED, 0, -1)]
