"""The workers' relay loop: woken by PostgreSQL when outbox rows commit, it publishes them over
one broker connection, with nobody calling the relay and nothing sent from the request."""

from __future__ import annotations

import pytest

from apps.events.models import OutboxEvent
from apps.events.relay import RelayLoop
from tests.events.helpers import events_listener, wait_until
from tests.events.test_outbox_relay import _scripted_story

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def relay_loop():
    loop = RelayLoop()
    loop.start()
    yield loop
    loop.stop()


def _collect(drain, into: list, count: int) -> bool:
    into.extend(drain())
    return len(into) >= count


def test_commits_are_published_as_they_are_notified(settings, relay_loop):
    # An hour between looks: only the notifications of the commits can wake the loop in time.
    settings.OUTBOX_RELAY_IDLE_SECONDS = 3600
    received: list = []
    with events_listener(settings.EVENTS_BROKER_URL) as drain:
        _scripted_story()  # 11 events in 7 transactions
        wait_until(lambda: _collect(drain, received, 11), timeout=20, what="11 events")

    ids = [message.payload["id"] for message in received]
    assert len(ids) == len(set(ids)) == 11
    assert not OutboxEvent.objects.filter(published_at__isnull=True).exists()


def test_rows_written_before_the_loop_started_go_out_first():
    from apps.bookings import services
    from tests.factories import UserFactory, make_session

    session = make_session()
    seat = session.seats.order_by("id").values_list("id", flat=True)[0]
    services.reservation_create(user=UserFactory(), session_id=session.id, seat_ids=[seat])
    assert OutboxEvent.objects.filter(published_at__isnull=True).count() == 1

    loop = RelayLoop()
    loop.start()
    try:
        wait_until(
            lambda: not OutboxEvent.objects.filter(published_at__isnull=True).exists(),
            timeout=20,
            what="the pending row published",
        )
    finally:
        loop.stop()
