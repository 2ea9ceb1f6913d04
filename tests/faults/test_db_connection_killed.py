"""Fault: PostgreSQL terminates the app's connection in the middle of a reservation, while its
transaction holds the seat row locks. The request fails cleanly and fast (problem+json 5xx),
nothing of it is left behind (rows, outbox, Idempotency-Key, Redis seat keys), and the next
request succeeds."""

from __future__ import annotations

import threading
import time

import pytest
from django.db import OperationalError, connection, connections, transaction

from apps.api.models import IdempotencyKey
from apps.bookings import event_types as booking_events
from apps.bookings.locks import seat_key
from apps.bookings.models import Reservation, ReservationSeat
from apps.events import outbox
from apps.events.models import OutboxEvent
from apps.sessions.models import SessionSeat
from tests.conftest import client_for
from tests.factories import UserFactory, make_session

pytestmark = pytest.mark.django_db(transaction=True)

PROBLEM = "application/problem+json"


def _terminate_when_ready(ready: threading.Event, done: threading.Event, found: dict) -> None:
    """From another connection: prove the reservation's transaction holds the seat rows, then
    terminate its backend."""
    try:
        assert ready.wait(10), "the reservation never reached its transaction"
        with transaction.atomic():
            try:
                with connection.cursor() as cursor:
                    cursor.execute(
                        f"SELECT id FROM {SessionSeat._meta.db_table} "  # noqa: S608
                        "WHERE id = ANY(%s) FOR UPDATE NOWAIT",
                        [found["seats"]],
                    )
                found["seats_locked"] = False
            except OperationalError:
                found["seats_locked"] = True  # 55P03: the request's transaction holds them
                transaction.set_rollback(True)
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_terminate_backend(%s)", [found["pid"]])
            found["terminated"] = cursor.fetchone()[0]
    finally:
        done.set()
        connections.close_all()


def test_connection_terminated_mid_reservation_fails_cleanly_and_the_retry_succeeds(
    private_redis, monkeypatch
):
    session = make_session()
    seats = list(session.seats.order_by("id").values_list("id", flat=True)[:3])
    user = UserFactory()
    api = client_for(user)
    api.raise_request_exception = False  # answer like a server would: with the 500 handler
    key = {"HTTP_IDEMPOTENCY_KEY": "retry-after-db-failure"}

    ready, done = threading.Event(), threading.Event()
    found: dict = {"seats": seats}
    emit = outbox.emit

    def emit_while_connection_dies(*args, **kwargs):
        """Inside the reservation's transaction, after the seats were locked and the rows
        written: let the other thread kill this connection, then go on writing."""
        if "pid" not in found:
            found["pid"] = connection.connection.info.backend_pid
            ready.set()
            done.wait(10)
        return emit(*args, **kwargs)

    monkeypatch.setattr(outbox, "emit", emit_while_connection_dies)
    killer = threading.Thread(target=_terminate_when_ready, args=(ready, done, found))
    killer.start()
    started = time.monotonic()
    response = api.post("/api/v1/reservations", {"session": session.id, "seats": seats}, **key)
    elapsed = time.monotonic() - started
    killer.join(10)
    monkeypatch.setattr(outbox, "emit", emit)

    assert found.get("seats_locked") is True
    assert found.get("terminated") is True
    # Failed cleanly: a problem document, quickly, not a hang.
    assert 500 <= response.status_code < 600, response.content
    assert response["Content-Type"] == PROBLEM
    assert response.json()["status"] == response.status_code
    assert elapsed < 5, elapsed
    print(
        f"\nterminated mid-reservation -> {response.status_code} {response.json()['code']} "
        f"in {elapsed:.2f} s"
    )

    # Nothing half-written: no reservation, seat, outbox row or idempotency record...
    assert not Reservation.objects.exists()
    assert not ReservationSeat.objects.exists()
    assert not OutboxEvent.objects.exists()
    assert not IdempotencyKey.objects.exists()
    # ... and the Redis fast path lets go of the seats.
    redis = private_redis.client()
    assert [redis.exists(seat_key(session.id, seat)) for seat in seats] == [0, 0, 0]

    # The next request (the client's retry, same Idempotency-Key) succeeds on a new connection.
    retry = api.post("/api/v1/reservations", {"session": session.id, "seats": seats}, **key)
    assert retry.status_code == 201, retry.content
    assert retry.get("Idempotent-Replayed") is None
    reservation = Reservation.objects.get()
    assert str(reservation.id) == retry.json()["id"]
    assert sorted(reservation.seats.values_list("session_seat_id", flat=True)) == seats
    assert OutboxEvent.objects.filter(type=booking_events.RESERVATION_CREATED).count() == 1
    assert all(redis.get(seat_key(session.id, seat)) == str(reservation.id) for seat in seats)
