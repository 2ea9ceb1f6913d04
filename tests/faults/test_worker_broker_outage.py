"""Fault: RabbitMQ becomes unreachable for everyone (the app's relay, and the worker's
own connection, all go through a proxy the test stops) while the worker holds expiry tasks and a
half-filled statistics batch. The worker reconnects by itself; no event is lost, none is applied
twice, and every hold still expires through its ETA task."""

from __future__ import annotations

import time

import pytest
from django.utils import timezone
from kombu.exceptions import OperationalError
from rest_framework.test import APIClient

from apps.bookings import event_types as booking_events
from apps.bookings.models import Reservation
from apps.events.models import OutboxEvent, ProcessedEvent
from apps.events.relay import relay_outbox
from apps.stats.models import SessionStats
from tests.events.helpers import distinct_session_ids, wait_all_published, wait_until
from tests.factories import UserFactory, make_session
from tests.faults.workers import EXPIRY, STATS, consuming, fault_worker

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

TTL = 5
OUTAGE = 1.5


def test_worker_rides_out_a_broker_outage_without_losing_or_repeating_events(
    settings, broker_proxy, task_queue
):
    settings.RESERVATION_TTL_SECONDS = TTL
    distinct_session_ids()
    session = make_session()
    seats = list(session.seats.order_by("id").values_list("id", flat=True))
    client = APIClient()
    client.force_authenticate(UserFactory())
    url = settings.EVENTS_BROKER_URL  # the proxy

    def reserve(seat: int) -> str:
        response = client.post("/api/v1/reservations", {"session": session.id, "seats": [seat]})
        assert response.status_code == 201, response.content
        return response.json()["id"]

    def stats_applied() -> int:
        stats = SessionStats.objects.filter(session=session).first()
        return stats.events_applied if stats else 0

    with fault_worker(task_queue, CELERY_BROKER_URL=url, EVENTS_BROKER_URL=url) as worker:
        ids = [reserve(seats[0])]
        wait_all_published()
        wait_until(lambda: stats_applied() == 1, timeout=10, what="the first event applied")
        ids.append(reserve(seats[1]))
        wait_all_published()
        time.sleep(0.3)  # most likely still in the statistics batch (flushed every second)

        broker_proxy.stop()
        ids.append(reserve(seats[2]))  # requests go on; their events wait in the outbox
        with pytest.raises(OperationalError):
            relay_outbox()  # and the worker's loop fails the same way, retrying
        time.sleep(OUTAGE)
        broker_proxy.start()
        back = time.monotonic()
        ids.append(reserve(seats[3]))
        wait_until(
            lambda: consuming(worker, task_queue), timeout=30, interval=0.2, what="reconnection"
        )
        reconnected_after = time.monotonic() - back
        wait_all_published(timeout=30)

        # Every hold's expiry task was scheduled once and ran at its deadline, in the worker.
        wait_until(
            lambda: Reservation.objects.filter(pk__in=ids, status="expired").count() == 4,
            timeout=TTL + 20,
            what="every hold to expire",
        )
        assert timezone.now() >= max(
            Reservation.objects.filter(pk__in=ids).values_list("expires_at", flat=True)
        )
        # The statistics saw each created and expired event exactly once.
        wait_until(lambda: stats_applied() >= 8, timeout=20, what="the statistics to catch up")
        time.sleep(STATS.batch_interval_seconds + 0.5)
        assert worker.poll() is None, "the worker died"

    stats = SessionStats.objects.get(session=session)
    assert (stats.events_applied, stats.seats_held, stats.seats_sold) == (8, 0, 0)
    ours = set(OutboxEvent.objects.values_list("event_id", flat=True))
    for consumer, expected in ((EXPIRY, 4), (STATS, 8)):
        processed = ProcessedEvent.objects.filter(consumer=consumer.name, event_id__in=ours)
        assert processed.count() == expected, consumer.name
    assert not OutboxEvent.objects.filter(published_at__isnull=True).exists()
    for reservation in Reservation.objects.filter(pk__in=ids):
        assert reservation.closed_at >= reservation.expires_at
        expired = OutboxEvent.objects.filter(
            type=booking_events.RESERVATION_EXPIRED, data__reservation_id=str(reservation.id)
        )
        assert expired.count() == 1
    print(f"\nthe worker consumed again {reconnected_after:.1f} s after the broker came back")
