"""Fault: the Celery worker is SIGKILLed (with its prefork children) while it holds the expiry
tasks of pending reservations, waiting for their ETA. The unacknowledged tasks go back to
RabbitMQ; a new worker expires every hold once, releases its seats, and no consumer applies an
event twice."""

from __future__ import annotations

import time
import uuid

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from apps.bookings import event_types as booking_events
from apps.bookings import services
from apps.bookings.models import Reservation, ReservationSeat
from apps.bookings.seat_map import seat_map
from apps.events.models import OutboxEvent, ProcessedEvent
from apps.stats.models import SessionStats
from tests.events.helpers import distinct_session_ids, queue_state, wait_all_published, wait_until
from tests.factories import UserFactory, make_session
from tests.faults.workers import EXPIRY, STATS, fault_worker
from tests.processes import kill_group

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

TTL = 7
HOLDS = 6


def _ids(event_type: str, reservation_ids: list[str] | None = None) -> set[uuid.UUID]:
    rows = OutboxEvent.objects.filter(type=event_type)
    if reservation_ids is not None:
        rows = rows.filter(data__reservation_id__in=reservation_ids)
    return set(rows.values_list("event_id", flat=True))


def test_worker_killed_with_pending_eta_tasks_every_hold_expires_once(settings, task_queue):
    settings.RESERVATION_TTL_SECONDS = TTL
    distinct_session_ids()  # other runs' events reach our consumer queues: never our sessions
    session = make_session()
    seats = list(session.seats.order_by("id").values_list("id", flat=True))
    client = APIClient()
    client.force_authenticate(UserFactory())

    with fault_worker(task_queue) as first:
        ids = []
        for index in range(HOLDS):
            response = client.post(
                "/api/v1/reservations",
                {"session": session.id, "seats": seats[2 * index : 2 * index + 2]},
            )
            assert response.status_code == 201, response.content
            ids.append(response.json()["id"])
        deadline = min(Reservation.objects.filter(pk__in=ids).values_list("expires_at", flat=True))
        wait_all_published()
        created = _ids(booking_events.RESERVATION_CREATED)

        # The worker scheduled every expiry (the scheduler recorded each event) and took the
        # ETA tasks from the queue: they now wait, unacknowledged, inside the worker.
        wait_until(
            lambda: (
                ProcessedEvent.objects.filter(consumer=EXPIRY.name, event_id__in=created).count()
                == HOLDS
            ),
            timeout=TTL - 2,
            what="the expiry tasks to be scheduled",
        )
        wait_until(lambda: queue_state(task_queue)[0] == 0, timeout=2, what="the ETA tasks taken")
        assert timezone.now() < deadline, "too slow: the worker must die before the deadline"
        kill_group(first)
        killed_at = timezone.now()

    # Nothing ran the expiry; the tasks the dead worker held are back in the queue (one per group
    # of close deadlines: see expiry_groups). The new worker runs no sweeper, so only they can
    # expire the holds below.
    assert set(Reservation.objects.values_list("status", flat=True)) == {"pending"}
    wait_until(lambda: queue_state(task_queue)[0] >= 1, timeout=5, what="the tasks requeued")

    with fault_worker(task_queue):
        wait_until(
            lambda: Reservation.objects.filter(pk__in=ids, status="expired").count() == HOLDS,
            timeout=TTL + 20,
            what="the new worker to expire every hold",
        )
        # The sweeper (the safety net) finds nothing left to do.
        assert services.expire_overdue_reservations() == 0
        # The new worker's relay loop publishes the expiries; the statistics take every event.
        stats_events = len(_ids(booking_events.RESERVATION_CREATED, ids)) + len(
            _ids(booking_events.RESERVATION_EXPIRED, ids)
        )
        assert stats_events == 2 * HOLDS

        def stats_applied() -> bool:
            stats = SessionStats.objects.filter(session=session).first()
            return stats is not None and stats.events_applied >= stats_events

        wait_until(stats_applied, timeout=20, interval=0.1, what="the statistics to catch up")
        time.sleep(STATS.batch_interval_seconds + 0.5)  # one more flush: nothing else comes

    # Every overdue hold expired exactly once, after its deadline, and its seats are free.
    for reservation in Reservation.objects.filter(pk__in=ids):
        assert reservation.status == Reservation.Status.EXPIRED
        assert reservation.expires_at <= reservation.closed_at
        assert not ReservationSeat.objects.filter(reservation=reservation, is_active=True).exists()
        assert len(_ids(booking_events.RESERVATION_EXPIRED, [str(reservation.id)])) == 1
        assert len(_ids(booking_events.SEAT_RELEASED, [str(reservation.id)])) == 2
    assert {entry.status for entry in seat_map(session)} == {"available"}
    assert not OutboxEvent.objects.filter(published_at__isnull=True).exists()

    # No consumer applied an event twice.
    ours = set(OutboxEvent.objects.values_list("event_id", flat=True))
    for consumer, expected in ((EXPIRY, HOLDS), (STATS, 2 * HOLDS)):
        processed = list(
            ProcessedEvent.objects.filter(consumer=consumer.name, event_id__in=ours).values_list(
                "event_id", flat=True
            )
        )
        assert len(processed) == len(set(processed)) == expected, consumer.name
    stats = SessionStats.objects.get(session=session)
    assert (stats.seats_held, stats.seats_sold, stats.events_applied) == (0, 0, 2 * HOLDS)

    lag = max(
        (r.closed_at - r.expires_at).total_seconds() for r in Reservation.objects.filter(pk__in=ids)
    )
    early = (deadline - killed_at).total_seconds()
    print(
        f"\nkilled {early:.2f} s before the first deadline; the new worker expired all "
        f"{HOLDS} holds at most {lag:.2f} s after their deadline"
    )
