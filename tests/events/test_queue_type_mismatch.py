"""A consumer queue that exists with the other type (classic vs quorum, EVENTS_QUORUM_QUEUES) is
refused loudly: the declaration says which queue and how to migrate it, and a worker facing one
stops at start-up instead of running without that consumer."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from apps.bookings import event_types as booking_events
from apps.events.broker import QueueMismatch, declare_consumer_queues, events_connection
from apps.events.consumers import EventConsumer, ReceivedEvent
from tests.events.helpers import WORKER_START_TIMEOUT, delete_queues, worker_task_queue
from tests.processes import celery_worker


class TypeProbe(EventConsumer):
    """A consumer of these tests only (the worker loads it by its dotted path)."""

    queue = "cinema.type-probe"
    event_types = (booking_events.SEAT_RELEASED,)

    def handle(self, event: ReceivedEvent) -> None:
        pass


PROBE = TypeProbe()


def declare(consumer: EventConsumer) -> None:
    with events_connection() as conn:
        declare_consumer_queues(conn.channel(), consumer.queue_name, consumer.event_types)


@pytest.fixture
def existing(request, settings) -> Iterator[bool]:
    """The probe's queues, declared as quorum queues or not (the parameter), deleted afterwards;
    yields the flag that made them."""
    settings.EVENTS_QUORUM_QUEUES = request.param
    delete_queues(PROBE)
    declare(PROBE)
    try:
        yield request.param
    finally:
        delete_queues(PROBE)


@pytest.mark.parametrize("existing", [False, True], ids=["classic", "quorum"], indirect=True)
def test_declaring_a_queue_as_the_other_type_fails_naming_the_queue_and_the_way_out(
    existing, settings, caplog
):
    caplog.set_level(logging.ERROR)
    settings.EVENTS_QUORUM_QUEUES = not existing
    wanted = "classic" if existing else "quorum"

    with pytest.raises(QueueMismatch) as refused:
        declare(PROBE)

    message = str(refused.value)
    assert f"'{PROBE.queue_name}.dlq' as a {wanted} queue" in message  # the first one declared
    assert "docs/operations.md" in message
    [logged] = [r.msg for r in caplog.records if isinstance(r.msg, dict)]
    assert (logged["event"], logged["queue"], logged["wanted"]) == (
        "event_queue_mismatch",
        f"{PROBE.queue_name}.dlq",
        wanted,
    )
    # The queues that were there are untouched, with the type they had.
    settings.EVENTS_QUORUM_QUEUES = existing
    declare(PROBE)


@pytest.mark.parametrize("existing", [False], ids=["classic"], indirect=True)
def test_a_worker_facing_a_queue_of_the_other_type_stops_and_says_why(existing, capfd):
    try:
        with celery_worker(
            queues=worker_task_queue(),
            EVENT_CONSUMERS=f"{__name__}.TypeProbe",
            EVENT_QUEUE_PREFIX=PROBE.queue_name.removesuffix(PROBE.queue),
            EVENTS_QUORUM_QUEUES="true",
            CINEMA_OUTBOX_RELAY="off",
        ) as process:
            process.wait(timeout=WORKER_START_TIMEOUT)
    finally:
        with events_connection() as conn:
            conn.default_channel.queue_delete(worker_task_queue())
            conn.default_channel.exchange_delete(worker_task_queue())

    assert process.returncode != 0
    output = capfd.readouterr()
    said = output.out + output.err
    assert "event_queue_mismatch" in said
    assert "Unrecoverable error: QueueMismatch" in said
    assert f"'{PROBE.queue_name}.dlq' as a quorum queue" in said
