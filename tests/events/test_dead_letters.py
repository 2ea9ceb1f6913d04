"""Retries with growing backoff, dead-lettering after the last try, and the `dlq` command, against
a real Celery worker and RabbitMQ."""

from __future__ import annotations

import io
import itertools

import pytest
from django.core.management import CommandError, call_command

from apps.bookings import services as booking_services
from apps.events.dead_letters import list_dead_letters
from apps.events.models import OutboxEvent, ProcessedEvent
from tests.events.failing_consumer import (
    FAIL_FLAG,
    FlakyConsumer,
    attempt_times,
    processed_ids,
    store,
)
from tests.events.helpers import consumer_worker, peek, queue_state, wait_all_published, wait_until
from tests.factories import UserFactory, make_session

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

MAX_RETRIES = 3
BASE_SECONDS = 0.3
FLAKY = FlakyConsumer()
QUEUE = FLAKY.queue_name
DLQ = f"{QUEUE}.dlq"


@pytest.fixture(scope="module")
def flaky_worker(django_db_setup):
    """One worker for the module, running only the flaky consumer, with short backoff."""
    with consumer_worker(
        FLAKY, EVENT_MAX_RETRIES=str(MAX_RETRIES), EVENT_RETRY_BASE_SECONDS=str(BASE_SECONDS)
    ) as process:
        yield process


@pytest.fixture
def flaky_settings(settings):
    """The operator's `dlq` command knows the queues of the configured consumers."""
    settings.EVENT_CONSUMERS = ["tests.events.failing_consumer.FlakyConsumer"]
    return settings


def _failed_reservation_event() -> OutboxEvent:
    """Reserve a seat while the consumer fails, publish, and return the announced event."""
    session = make_session()
    reservation = booking_services.reservation_create(
        user=UserFactory(), session_id=session.id, seat_ids=[session.seats.order_by("id")[0].id]
    )
    event = OutboxEvent.objects.get(
        type="reservation.created", data__reservation_id=str(reservation.id)
    )
    wait_all_published()
    return event


def _dead_ids() -> list[str]:
    return [body["id"] for body, _ in peek(DLQ) if isinstance(body, dict)]


def _wait_dead(event_id: str) -> None:
    wait_until(lambda: event_id in _dead_ids(), timeout=20, interval=0.1, what="the dead letter")


def test_failing_event_is_retried_with_growing_backoff_then_dead_lettered_and_replayed(
    flaky_worker, flaky_settings
):
    store().set(FAIL_FLAG, "1")
    event = _failed_reservation_event()
    event_id = str(event.event_id)

    _wait_dead(event_id)

    times = attempt_times(event_id)
    assert len(times) == 1 + MAX_RETRIES
    gaps = [later - earlier for earlier, later in itertools.pairwise(times)]
    # retry n waits between d/2 and d, d = base * 2^(n-1): [0.15, 0.3], [0.3, 0.6], [0.6, 1.2]
    # A retry cannot come back before its delay, so each gap is at least d/2 (0.15 s first).
    for attempt, gap in enumerate(gaps, start=1):
        ceiling = BASE_SECONDS * 2 ** (attempt - 1)
        assert ceiling / 2 <= gap < ceiling + 1.0, gaps
    for previous, gap in itertools.pairwise(gaps):
        assert gap >= previous - 0.05, gaps

    [letter] = list_dead_letters(QUEUE)
    assert (letter.event_id, letter.event_type, letter.reason) == (
        event_id,
        "reservation.created",
        "rejected",
    )

    [(body, headers)] = peek(DLQ)
    assert body["id"] == event_id
    assert body["type"] == "reservation.created"
    assert headers["x-attempt"] == MAX_RETRIES  # the last retry's number, then rejected
    # RabbitMQ's record, most recent first: rejected by the main queue. (What it keeps of the
    # retry queue's expiries varies between RabbitMQ versions, so it is not asserted.)
    latest = headers["x-death"][0]
    assert (latest["queue"], latest["reason"]) == (QUEUE, "rejected")
    assert processed_ids() == []
    assert not ProcessedEvent.objects.filter(consumer=FLAKY.name, event_id=event_id).exists()

    # The fault is fixed; the operator replays the dead letter: processed once, queue empty.
    store().delete(FAIL_FLAG)
    out = io.StringIO()
    call_command("dlq", "replay", QUEUE, stdout=out)
    assert "replayed 1 message(s)" in out.getvalue()

    wait_until(lambda: processed_ids() == [event_id], timeout=10, what="the replayed event")
    assert ProcessedEvent.objects.filter(consumer=FLAKY.name, event_id=event_id).count() == 1
    assert len(attempt_times(event_id)) == 1 + MAX_RETRIES + 1
    assert queue_state(DLQ)[0] == 0
    assert queue_state(QUEUE)[0] == 0
    assert queue_state(f"{QUEUE}.retry")[0] == 0
    assert processed_ids() == [event_id]


def test_dlq_list_shows_the_dead_letter_and_purge_drops_it(flaky_worker, flaky_settings):
    store().set(FAIL_FLAG, "1")
    event = _failed_reservation_event()
    event_id = str(event.event_id)
    _wait_dead(event_id)

    out = io.StringIO()
    call_command("dlq", "list", QUEUE, stdout=out)
    listing = out.getvalue()
    assert event_id in listing
    assert "reservation.created" in listing
    assert "(rejected)" in listing
    assert f"1 message(s) in {DLQ}" in listing
    assert queue_state(DLQ)[0] == 1  # listing leaves the messages where they are

    out = io.StringIO()
    call_command("dlq", "purge", DLQ, stdout=out)  # the .dlq name is accepted too
    assert f"purged 1 message(s) from {DLQ}" in out.getvalue()
    assert queue_state(DLQ)[0] == 0
    assert processed_ids() == []
    assert len(attempt_times(event_id)) == 1 + MAX_RETRIES


@pytest.mark.parametrize("action", ["list", "replay", "purge"])
def test_dlq_refuses_an_unknown_queue(flaky_settings, action):
    with pytest.raises(CommandError, match=r"unknown queue 'cinema\.nope'"):
        call_command("dlq", action, "cinema.nope")
