"""The outbox and its relay against the real RabbitMQ: every change announced exactly once."""

from __future__ import annotations

import uuid
from collections import Counter
from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone
from kombu.exceptions import OperationalError

from apps.bookings import event_types as booking_events
from apps.bookings import services as booking_services
from apps.bookings.models import Reservation
from apps.events import outbox
from apps.events.models import OutboxEvent
from apps.events.relay import outbox_lag_seconds, prune_outbox, relay_outbox
from apps.payments import services as payment_services
from tests.concurrency import run_together
from tests.events.helpers import events_listener, reset_celery_pools
from tests.factories import UserFactory, make_session

pytestmark = pytest.mark.django_db(transaction=True)

DEAD_BROKER = "amqp://guest:guest@127.0.0.1:5699//"


@pytest.fixture
def listener(settings):
    """A private queue bound to every event of cinema.events; yields a function that drains it
    and returns the messages whose ids this test's outbox wrote (other runs may share the
    broker)."""
    with events_listener(settings.EVENTS_BROKER_URL) as drain:
        yield drain


@pytest.fixture
def celery_broker_down():
    """Point the Celery app (expiry tasks) at a dead broker for one test."""
    from cinema.celery import app

    live = app.conf.broker_url
    app.conf.broker_url = DEAD_BROKER
    reset_celery_pools(app)
    yield
    app.conf.broker_url = live
    reset_celery_pools(app)


def _scripted_story():
    """Reserve and cancel; reserve and let expire; reserve and pay. Returns the session."""
    session = make_session()
    seats = list(session.seats.order_by("id").values_list("id", flat=True))
    buyer = UserFactory()
    cancelled = booking_services.reservation_create(
        user=buyer, session_id=session.id, seat_ids=seats[0:2]
    )
    booking_services.reservation_cancel(reservation_id=cancelled.id, user=buyer)
    expired = booking_services.reservation_create(
        user=buyer, session_id=session.id, seat_ids=seats[2:5]
    )
    Reservation.objects.filter(pk=expired.id).update(expires_at=timezone.now())
    assert booking_services.expire_overdue_reservations() == 1
    paid = booking_services.reservation_create(
        user=buyer, session_id=session.id, seat_ids=seats[5:6]
    )
    payment = payment_services.payment_start(reservation_id=paid.id, user=buyer, token="tok_visa")
    assert payment.status == "succeeded"
    assert payment.sale.reservation_id == paid.id
    return session, buyer, (cancelled, expired, paid)


def test_a_scripted_story_publishes_exactly_the_expected_events(listener):
    session, buyer, (_cancelled, _expired, paid) = _scripted_story()

    assert relay_outbox() == 11
    messages = listener()

    assert Counter(m.payload["type"] for m in messages) == {
        "reservation.created": 3,
        "reservation.cancelled": 1,
        "reservation.expired": 1,
        "seat.released": 5,
        "payment.confirmed": 1,
    }
    ids = [m.payload["id"] for m in messages]
    assert len(set(ids)) == len(ids) == 11
    for message in messages:
        body = message.payload
        assert set(body) == {"id", "type", "occurred_at", "version", "data"}
        assert body["version"] == 1
        assert message.delivery_info["routing_key"] == body["type"]
        assert message.properties["delivery_mode"] == 2  # persistent
        assert message.properties["message_id"] == body["id"]
        assert body["data"]["session_id"] == session.id
    by_type = {m.payload["type"]: m.payload["data"] for m in messages}
    assert set(by_type["reservation.created"]) == {
        "reservation_id",
        "session_id",
        "user_id",
        "seat_ids",
        "expires_at",
        "total",
    }
    assert set(by_type["payment.confirmed"]) == {
        "reservation_id",
        "sale_id",
        "session_id",
        "user_id",
        "seat_ids",
        "total",
    }
    assert by_type["payment.confirmed"]["reservation_id"] == str(paid.id)
    assert by_type["payment.confirmed"]["user_id"] == buyer.id
    assert by_type["payment.confirmed"]["total"] == "25.00"
    assert set(by_type["reservation.cancelled"]) == {"reservation_id", "session_id", "seat_ids"}
    assert set(by_type["seat.released"]) == {"session_id", "seat_id", "reservation_id", "reason"}
    released = [m.payload["data"] for m in messages if m.payload["type"] == "seat.released"]
    assert Counter(d["reason"] for d in released) == {"cancelled": 2, "expired": 3}
    # All published, in the order they were written.
    assert not OutboxEvent.objects.filter(published_at__isnull=True).exists()
    seq_of = dict(OutboxEvent.objects.values_list("event_id", "seq"))
    seqs = [seq_of[uuid.UUID(i)] for i in ids]
    assert seqs == sorted(seqs)
    assert relay_outbox() == 0  # nothing is published twice


def test_an_event_exists_only_if_its_change_committed(listener):
    session = make_session()
    seat = session.seats.order_by("id").first()
    user = UserFactory()

    def reserve_then_fail() -> None:
        with transaction.atomic():
            booking_services.reservation_create(
                user=user, session_id=session.id, seat_ids=[seat.id]
            )
            raise RuntimeError("the request failed after reserving")

    with pytest.raises(RuntimeError):
        reserve_then_fail()

    assert not Reservation.objects.exists()
    assert not OutboxEvent.objects.exists()
    assert relay_outbox() == 0
    assert listener() == []


def test_emit_outside_a_transaction_is_refused():
    with pytest.raises(RuntimeError, match="inside the transaction"):
        outbox.emit(outbox.Event(booking_events.SEAT_RELEASED, {"session_id": 1}))


def test_broker_down_no_request_fails_and_every_event_arrives_once_when_it_is_back(
    settings, listener, user_api, celery_broker_down
):
    session = make_session()
    seats = list(session.seats.order_by("id").values_list("id", flat=True))
    live_url = settings.EVENTS_BROKER_URL
    settings.EVENTS_BROKER_URL = DEAD_BROKER

    responses = [
        user_api.post("/api/v1/reservations", {"session": session.id, "seats": [seat]})
        for seat in seats[:5]
    ]
    assert [r.status_code for r in responses] == [201] * 5
    cancel = user_api.delete(f"/api/v1/reservations/{responses[0].json()['id']}")
    assert cancel.status_code == 204
    with pytest.raises(OperationalError):
        relay_outbox()
    assert OutboxEvent.objects.filter(published_at__isnull=True).count() == 7
    assert outbox_lag_seconds() > 0

    settings.EVENTS_BROKER_URL = live_url
    assert relay_outbox() == 7
    assert relay_outbox() == 0

    messages = listener()
    assert len(messages) == 7
    assert len({m.payload["id"] for m in messages}) == 7
    assert Counter(m.payload["type"] for m in messages) == {
        "reservation.created": 5,
        "reservation.cancelled": 1,
        "seat.released": 1,
    }
    assert outbox_lag_seconds() == 0


def test_relays_running_at_once_never_publish_a_row_twice(listener):
    with transaction.atomic():
        outbox.emit(
            *(
                outbox.Event(booking_events.SEAT_RELEASED, {"session_id": 1, "seat_id": i})
                for i in range(300)
            )
        )

    counts = run_together([lambda: relay_outbox(batch_size=25) for _ in range(4)])

    assert sum(counts) == 300, counts
    messages = listener()
    assert len(messages) == 300
    assert len({m.payload["id"] for m in messages}) == 300
    assert not OutboxEvent.objects.filter(published_at__isnull=True).exists()


def test_prune_removes_only_old_published_events():
    with transaction.atomic():
        old, recent, pending = outbox.emit(
            *(
                outbox.Event(booking_events.SEAT_RELEASED, {"session_id": 1, "seat_id": i})
                for i in range(3)
            )
        )
    long_ago = timezone.now() - timedelta(days=30)
    OutboxEvent.objects.filter(pk=old.pk).update(published_at=long_ago)
    OutboxEvent.objects.filter(pk=recent.pk).update(published_at=timezone.now())

    assert prune_outbox() == 1

    assert set(OutboxEvent.objects.values_list("pk", flat=True)) == {recent.pk, pending.pk}
