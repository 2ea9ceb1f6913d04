"""Fault: RabbitMQ itself goes down and comes back (a private node the test owns, with
EVENTS_QUORUM_QUEUES on), by a crash (SIGKILL) or a clean restart, while reservations go on and a
worker consumes. Events that waited in the quorum queues come back with the node; events written
while it was down wait in the outbox and are published when it is back; every consumer applies
each event once and none is missing."""

from __future__ import annotations

import threading
import time
import uuid

import pytest
from django.db import connection
from kombu.exceptions import OperationalError

from apps.bookings import event_types as booking_events
from apps.bookings import services
from apps.events.broker import dlq_name, retry_name
from apps.events.consumers import EventConsumer
from apps.events.models import OutboxEvent, ProcessedEvent
from apps.events.relay import relay_outbox
from apps.stats.models import SessionStats
from tests.events.helpers import (
    declare_queues,
    delete_queues,
    purge_queues,
    queue_state,
    wait_until,
)
from tests.factories import UserFactory, make_room, make_session
from tests.faults.workers import CONSUMERS, STATS, consuming, fault_worker

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


@pytest.fixture
def quorum(settings, private_rabbitmq):
    """Quorum event queues on the private node, for this process and the workers it starts;
    holds outlive the test, so no expiry adds events to count. The queues stay on the node from
    one test to the next, emptied, as on a real broker; none is made just before a crash (a
    single RabbitMQ 3.10 node may bring a quorum queue declared a moment before it crashed back
    empty and without a leader)."""
    settings.EVENTS_QUORUM_QUEUES = True
    settings.RESERVATION_TTL_SECONDS = 600
    node = private_rabbitmq
    worker_env = {
        "CELERY_BROKER_URL": node.url,
        "EVENTS_BROKER_URL": node.url,
        "EVENTS_QUORUM_QUEUES": "true",
    }
    task_queue = f"{settings.EVENT_QUEUE_PREFIX}restart-{uuid.uuid4().hex[:8]}"
    for consumer in CONSUMERS:
        purge_queues(consumer)  # declared before the worker, which is watched consuming them
    return node, task_queue, worker_env


class Seats:
    """Holds one seat of a session per reservation, for one buyer."""

    def __init__(self) -> None:
        self.session = make_session(room=make_room(rows=10, seats_per_row=20))
        self.free = list(self.session.seats.order_by("id").values_list("id", flat=True))
        self.buyer = UserFactory()

    def reserve(self, count: int = 1) -> None:
        for _ in range(count):
            services.reservation_create(
                user=self.buyer, session_id=self.session.id, seat_ids=[self.free.pop(0)]
            )


def applied(consumer: EventConsumer) -> int:
    """How many of this test's events `consumer` recorded as processed."""
    ours = OutboxEvent.objects.values_list("event_id", flat=True)
    return ProcessedEvent.objects.filter(consumer=consumer.name, event_id__in=ours).count()


def pending() -> int:
    return OutboxEvent.objects.filter(published_at__isnull=True).count()


def assert_each_event_applied_once(seats: Seats, expected: int) -> None:
    """Every event reached both consumers once, none is left in the outbox, and the statistics
    (which add up only events not seen before) count each hold once."""
    wait_until(
        lambda: all(applied(consumer) == expected for consumer in CONSUMERS),
        timeout=30,
        what=f"both consumers to apply {expected} events",
    )
    # A delivery repeated after the restart would be applied by now: the statistics flush their
    # batch every second.
    time.sleep(STATS.batch_interval_seconds + 0.5)
    assert OutboxEvent.objects.count() == expected
    assert pending() == 0
    for consumer in CONSUMERS:
        assert applied(consumer) == expected, consumer.name
    stats = SessionStats.objects.get(session=seats.session)
    assert (stats.events_applied, stats.seats_held) == (expected, expected)


def type_probe(kind: str) -> EventConsumer:
    """A consumer whose queues are only declared, apart from those the restart tests use."""

    class TypeProbe(EventConsumer):
        queue = f"cinema.type-probe.{kind}"
        event_types = (booking_events.SEAT_RELEASED,)

    return TypeProbe()


@pytest.mark.parametrize("quorum_queues", [True, False], ids=["quorum", "classic"])
def test_the_consumer_queues_are_declared_with_the_type_the_setting_asks_for(
    settings, private_rabbitmq, quorum_queues
):
    settings.EVENTS_QUORUM_QUEUES = quorum_queues
    expected = "quorum" if quorum_queues else "classic"
    probe = type_probe(expected)
    try:
        declare_queues(probe)
        types = private_rabbitmq.queue_types()
        arguments = private_rabbitmq.ctl("list_queues", "name", "arguments", "--no-table-headers")
    finally:
        delete_queues(probe)

    main = probe.queue_name
    for name in (main, retry_name(main), dlq_name(main)):
        assert types[name] == expected, name
    [main_arguments] = [line for line in arguments.splitlines() if line.startswith(f"{main}\t")]
    if quorum_queues:
        assert '{"x-dead-letter-strategy","at-least-once"}' in main_arguments
        assert '{"x-delivery-limit",20}' in main_arguments
    else:
        assert "x-dead-letter-strategy" not in main_arguments


def test_events_waiting_in_quorum_queues_survive_a_broker_crash(quorum):
    node, task_queue, worker_env = quorum
    seats = Seats()

    with fault_worker(task_queue, **worker_env):
        seats.reserve(3)
        wait_until(
            lambda: all(applied(consumer) == 3 for consumer in CONSUMERS),
            timeout=20,
            what="the first events applied",
        )

    # No consumer runs: what the relay publishes now waits in the queues, confirmed (on disk).
    seats.reserve(3)
    assert relay_outbox() == 3
    for consumer in CONSUMERS:
        assert queue_state(consumer.queue_name)[0] == 3

    node.kill()  # a crash: nothing written on the way out
    seats.reserve(3)  # requests go on; their events wait in the outbox
    with pytest.raises(OperationalError):
        relay_outbox()
    assert pending() == 3

    node.start()
    # A quorum queue answers once it has recovered its log, a moment after the node accepts
    # connections (it reports no messages until then).
    wait_until(
        lambda: all(queue_state(consumer.queue_name)[0] == 3 for consumer in CONSUMERS),
        timeout=30,
        interval=0.2,
        what="the waiting events back with the node",
    )
    with fault_worker(task_queue, **worker_env):
        assert_each_event_applied_once(seats, 9)


@pytest.mark.parametrize("how", ["stop", "kill"])
def test_a_broker_restart_mid_stream_loses_no_event(quorum, how):
    """`stop` is an operator's restart (rabbitmqctl stop), `kill` a crash (SIGKILL)."""
    node, task_queue, worker_env = quorum
    seats = Seats()
    restarted = threading.Event()

    def keep_reserving() -> None:
        """Reservations at a steady pace before, during and after the restart."""
        try:
            while not restarted.is_set():
                seats.reserve()
                time.sleep(0.1)
            seats.reserve(5)
        finally:
            connection.close()  # this thread's own

    with fault_worker(task_queue, **worker_env) as worker:
        seats.reserve(5)
        wait_until(lambda: applied(STATS) >= 1, timeout=20, what="the stream to flow")
        producer = threading.Thread(target=keep_reserving)
        producer.start()
        try:
            time.sleep(1)  # the relay and the consumers are busy with the stream
            getattr(node, how)()
            time.sleep(1)
            assert pending() > 0  # written while the broker is down
            node.start()
        finally:
            restarted.set()
            producer.join(timeout=30)
        assert not producer.is_alive()
        wait_until(
            lambda: consuming(worker, task_queue),
            timeout=60,
            interval=0.5,
            what="the worker to reconnect",
        )
        expected = OutboxEvent.objects.count()
        assert_each_event_applied_once(seats, expected)
        assert worker.poll() is None, "the worker died"
    print(f"\n{expected} events, each applied once by {len(CONSUMERS)} consumers")
