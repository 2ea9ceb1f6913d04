"""Fault: RabbitMQ becomes unreachable (a proxy the test owns is stopped) while reservations and
payments go on through the API. No request fails; the outbox keeps every event, and when the
broker is back the relay publishes each one exactly once."""

from __future__ import annotations

import threading
import time
from collections import Counter

import pytest
from kombu.exceptions import OperationalError

from apps.events.models import OutboxEvent
from apps.events.relay import relay_outbox
from tests.concurrency import run_together
from tests.conftest import client_for
from tests.factories import UserFactory, make_room, make_session

pytestmark = pytest.mark.django_db(transaction=True)

CLIENTS = 4
SEATS_PER_CLIENT = 5
# A request never talks to the broker (the relay is woken by PostgreSQL), so nothing waits on it.
SLOWEST_REQUEST = 3.0


def test_broker_stopped_while_reserving_and_paying_then_every_event_published_once(
    broker_proxy, event_listener
):
    session = make_session(room=make_room(rows=4, seats_per_row=6))
    seats = list(session.seats.order_by("id").values_list("id", flat=True))
    clients = [client_for(user) for user in UserFactory.create_batch(CLIENTS)]

    # The broker is up: the first events go out through the proxy.
    warm_up = clients[0].post("/api/v1/reservations", {"session": session.id, "seats": [seats[-1]]})
    assert warm_up.status_code == 201, warm_up.content
    assert relay_outbox() == 1

    halfway = threading.Barrier(CLIENTS + 1)

    def client(index: int):
        api = clients[index]
        mine = seats[index * SEATS_PER_CLIENT : (index + 1) * SEATS_PER_CLIENT]

        def run() -> list[tuple[str, int, float]]:
            calls = []

            def call(kind: str, method, url: str, body: dict) -> dict:
                started = time.monotonic()
                response = method(url, body)
                calls.append((kind, response.status_code, time.monotonic() - started))
                return response.json() if response.content else {}

            for number, seat in enumerate(mine):
                if number == 2:
                    halfway.wait(timeout=30)  # the broker goes down here, mid-burst
                    halfway.wait(timeout=30)
                reservation = call(
                    "reserve",
                    api.post,
                    "/api/v1/reservations",
                    {"session": session.id, "seats": [seat]},
                )
                if number == len(mine) - 1:
                    call("cancel", api.delete, f"/api/v1/reservations/{reservation['id']}", {})
                else:
                    call(
                        "pay",
                        api.post,
                        f"/api/v1/reservations/{reservation['id']}/payment",
                        {"token": "tok_visa"},
                    )
            return calls

        return run

    def conductor() -> list:
        halfway.wait(timeout=30)
        broker_proxy.stop()
        halfway.wait(timeout=30)
        return []

    results = run_together([client(i) for i in range(CLIENTS)] + [conductor], timeout=60)

    for result in results:
        assert not isinstance(result, BaseException), result
    calls = [call for result in results for call in result]
    assert Counter((kind, status) for kind, status, _ in calls) == {
        ("reserve", 201): CLIENTS * SEATS_PER_CLIENT,
        ("pay", 201): CLIENTS * (SEATS_PER_CLIENT - 1),
        ("cancel", 204): CLIENTS,
    }
    slowest = max(duration for *_, duration in calls)
    assert slowest < SLOWEST_REQUEST

    # The broker is still down: the relay fails and nothing is lost or marked published.
    pending = OutboxEvent.objects.filter(published_at__isnull=True).count()
    # created + confirmed per paid seat; created + cancelled + released per cancelled seat
    assert pending == CLIENTS * ((SEATS_PER_CLIENT - 1) * 2 + 3)
    with pytest.raises(OperationalError):
        relay_outbox()
    assert OutboxEvent.objects.filter(published_at__isnull=True).count() == pending

    broker_proxy.start()
    assert relay_outbox() == pending
    assert relay_outbox() == 0

    # Through the real broker, every event of this test's outbox arrived exactly once.
    messages = event_listener()
    ids = Counter(message.payload["id"] for message in messages)
    outbox = {str(pk) for pk in OutboxEvent.objects.values_list("event_id", flat=True)}
    assert set(ids) == outbox
    assert set(ids.values()) == {1}, [i for i, n in ids.items() if n > 1]
    print(
        f"\n{len(calls)} requests, slowest {slowest:.2f} s; {pending} events waited for the "
        f"broker and were published once each"
    )
    assert Counter(message.payload["type"] for message in messages) == {
        "reservation.created": CLIENTS * SEATS_PER_CLIENT + 1,
        "payment.confirmed": CLIENTS * (SEATS_PER_CLIENT - 1),
        "reservation.cancelled": CLIENTS,
        "seat.released": CLIENTS,
    }


def test_the_relay_loop_rides_out_a_broker_outage(broker_proxy, event_listener, settings):
    """A worker's relay loop loses its broker connection mid-run: it keeps trying, and once the
    broker is back every event written meanwhile goes out exactly once."""
    from apps.bookings import services
    from apps.events.relay import RelayLoop
    from tests.events.helpers import wait_until

    settings.OUTBOX_RELAY_IDLE_SECONDS = 0.2  # the pause between attempts while it fails
    session = make_session()
    seats = list(session.seats.order_by("id").values_list("id", flat=True))
    buyer = UserFactory()
    loop = RelayLoop()
    loop.start()
    try:
        services.reservation_create(user=buyer, session_id=session.id, seat_ids=[seats[0]])
        wait_until(lambda: len(event_listener()) == 1, timeout=20, what="the first event")

        broker_proxy.stop()
        for seat in seats[1:6]:
            services.reservation_create(user=buyer, session_id=session.id, seat_ids=[seat])
        time.sleep(1)  # several failed attempts
        assert OutboxEvent.objects.filter(published_at__isnull=True).count() == 5

        broker_proxy.start()
        received: list = []
        wait_until(
            lambda: received.extend(event_listener()) or len(received) >= 5,
            timeout=30,
            what="the five events written during the outage",
        )
    finally:
        loop.stop()
    assert len({message.payload["id"] for message in received}) == len(received) == 5
    assert not OutboxEvent.objects.filter(published_at__isnull=True).exists()
