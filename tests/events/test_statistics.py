"""Per-session statistics fed by the booking events: after a burst of concurrent activity they
equal the truth in the database; the staff endpoint; the pure batch arithmetic."""

from __future__ import annotations

import time
import uuid
from decimal import Decimal

import pytest
from django.db.models import Sum
from django.utils import timezone

from apps.bookings import event_types as booking_events
from apps.bookings import seat_map as seat_map_reads
from apps.bookings import services as booking_services
from apps.bookings.errors import SeatsUnavailable
from apps.bookings.models import Reservation, ReservationSeat
from apps.events.consumers import ReceivedEvent
from apps.events.models import OutboxEvent
from apps.payments import event_types as payment_events
from apps.payments import services as payment_services
from apps.payments.models import Sale, Ticket
from apps.sessions.models import Session
from apps.stats.consumers import SessionStatsConsumer
from apps.stats.models import SessionStats
from apps.stats.services import Delta, deltas_of
from tests.assertions import assert_problem
from tests.concurrency import run_together
from tests.conftest import client_for
from tests.events.helpers import (
    consumer_worker,
    distinct_session_ids,
    wait_all_published,
    wait_until,
)
from tests.factories import StaffFactory, UserFactory, make_session

STATS = SessionStatsConsumer()
# Six pairs of clients; the two of a pair want overlapping seats, so exactly one of them gets a
# hold, and whichever it is then does the pair's action.
PAIR_ACTIONS = ["pay", "pay", "cancel", "cancel", "hold", "hold"]


def url(session_id: int) -> str:
    return f"/api/v1/sessions/{session_id}/stats"


def truth(session: Session) -> dict:
    """The figures as the database has them, computed without the statistics."""
    now = timezone.now()
    active = ReservationSeat.objects.filter(reservation__session=session, is_active=True)
    sold = active.filter(reservation__status=Reservation.Status.CONFIRMED).count()
    assert sold == Ticket.objects.filter(session_seat__session=session).count()
    held = active.filter(
        reservation__status=Reservation.Status.PENDING, reservation__expires_at__gt=now
    ).count()
    revenue = Sale.objects.filter(session=session).aggregate(total=Sum("total"))["total"]
    total = session.seats.count()
    return {
        "seats_total": total,
        "seats_sold": sold,
        "seats_held": held,
        "seats_available": total - sold - held,
        "revenue": revenue or Decimal("0.00"),
    }


def figures(session: Session) -> dict:
    stats = SessionStats.objects.get(session=session)
    total = session.seats.count()
    return {
        "seats_total": total,
        "seats_sold": stats.seats_sold,
        "seats_held": stats.seats_held,
        "seats_available": total - stats.seats_sold - stats.seats_held,
        "revenue": stats.revenue,
    }


def stats_events_of(session: Session) -> int:
    """How many events of the session the statistics consumer takes."""
    return OutboxEvent.objects.filter(
        type__in=STATS.event_types, data__session_id=session.id
    ).count()


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_statistics_after_a_burst_of_concurrent_activity_equal_the_database(settings):
    distinct_session_ids()
    session = make_session()  # 20 seats
    seats = list(session.seats.order_by("id").values_list("id", flat=True))
    assert len(seats) == 20

    # Two holds that will run out: one on a seat the burst wants, one on seats nobody wants.
    settings.RESERVATION_TTL_SECONDS = 1
    short = [
        booking_services.reservation_create(user=UserFactory(), session_id=session.id, seat_ids=ids)
        for ids in ([seats[0]], [seats[18], seats[19]])
    ]
    settings.RESERVATION_TTL_SECONDS = 120

    with consumer_worker(STATS):
        wait_until(
            lambda: timezone.now() > max(r.expires_at for r in short),
            timeout=5,
            what="the short holds' deadline",
        )

        users = [UserFactory() for _ in range(2 * len(PAIR_ACTIONS))]

        def client(index: int):
            pair, side = divmod(index, 2)
            wanted = seats[3 * pair + side : 3 * pair + side + 2]
            try:
                reservation = booking_services.reservation_create(
                    user=users[index], session_id=session.id, seat_ids=wanted
                )
            except SeatsUnavailable:
                return "lost"
            action = PAIR_ACTIONS[pair]
            if action == "pay":
                payment = payment_services.payment_start(
                    reservation_id=reservation.id, user=users[index], token="tok_visa"
                )
                if payment.status != "succeeded" or getattr(payment, "sale", None) is None:
                    return f"not sold: {payment.status}"
            elif action == "cancel":
                booking_services.reservation_cancel(
                    reservation_id=reservation.id, user=users[index]
                )
            return action

        outcomes = run_together([lambda i=i: client(i) for i in range(len(users))])
        for pair, action in enumerate(PAIR_ACTIONS):
            assert sorted(outcomes[2 * pair : 2 * pair + 2]) == sorted([action, "lost"]), outcomes

        # The sweeper expires whatever overdue hold the burst did not already take over.
        assert booking_services.expire_overdue_reservations() in (1, 2)
        statuses = {
            status: Reservation.objects.filter(session=session, status=status).count()
            for status in Reservation.Status.values
        }
        assert statuses == {
            "pending": 2,
            "confirmed": 2,
            "cancelled": 2,
            "expired": 2,
            "refunded": 0,
        }

        # The worker's relay loop may hold some rows in its own batch: wait for both relays.
        wait_all_published()
        expected_events = stats_events_of(session)
        assert expected_events == 8 + 2 + 2 + 2  # created, paid, cancelled, expired

        def applied() -> bool:
            stats = SessionStats.objects.filter(session=session).first()
            return stats is not None and stats.events_applied >= expected_events

        wait_until(applied, timeout=20, interval=0.1, what="the statistics to catch up")
        settled = figures(session)
        time.sleep(STATS.batch_interval_seconds + 0.3)  # one more flush: nothing else comes
        assert figures(session) == settled
        assert SessionStats.objects.get(session=session).events_applied == expected_events

    expected = truth(session)
    assert expected == {
        "seats_total": 20,
        "seats_sold": 4,
        "seats_held": 4,
        "seats_available": 12,
        "revenue": Decimal("100.00"),
    }
    assert settled == expected
    seat_map = seat_map_reads.seat_map(session)
    assert sum(entry.status == "available" for entry in seat_map) == expected["seats_available"]

    response = client_for(StaffFactory()).get(url(session.id))
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["session"] == session.id
    assert body["updated_at"] is not None
    assert {key: body[key] for key in expected} == {**expected, "revenue": "100.00"}


# --- the staff endpoint ---------------------------------------------------------------------


@pytest.mark.django_db
def test_stats_need_a_logged_in_user(api, session):
    assert_problem(api.get(url(session.id)), 401, "not_authenticated")


@pytest.mark.django_db
def test_stats_are_for_staff_only(user_api, session):
    assert_problem(user_api.get(url(session.id)), 403, "permission_denied")


@pytest.mark.django_db
def test_stats_of_an_unknown_session_are_404(staff_api, session):
    assert_problem(staff_api.get(url(session.id + 1000)), 404, "not_found")


@pytest.mark.django_db
def test_stats_of_a_session_without_events_are_zero(staff_api, session):
    response = staff_api.get(url(session.id))
    assert response.status_code == 200
    assert response.json() == {
        "session": session.id,
        "seats_total": 20,
        "seats_sold": 0,
        "seats_held": 0,
        "seats_available": 20,
        "revenue": "0.00",
        "updated_at": None,
    }


# --- the batch arithmetic -------------------------------------------------------------------


def _event(event_type: str, **data) -> ReceivedEvent:
    return ReceivedEvent(id=uuid.uuid4(), type=event_type, occurred_at="", data=data)


def test_deltas_of_a_batch_are_the_net_change_per_session():
    batch = [
        _event(booking_events.RESERVATION_CREATED, session_id=1, seat_ids=[1, 2, 3], total="75.00"),
        _event(booking_events.RESERVATION_CREATED, session_id=1, seat_ids=[4, 5], total="50.00"),
        _event(payment_events.PAYMENT_CONFIRMED, session_id=1, seat_ids=[4, 5], total="50.00"),
        _event(booking_events.RESERVATION_CANCELLED, session_id=1, seat_ids=[1, 2, 3]),
        _event(booking_events.RESERVATION_CREATED, session_id="2", seat_ids=[7], total="30.00"),
        _event(booking_events.RESERVATION_EXPIRED, session_id=2, seat_ids=[7]),
        _event(booking_events.RESERVATION_CREATED, session_id=3, seat_ids=[9, 10], total="40.50"),
        _event(payment_events.PAYMENT_CONFIRMED, session_id=3, seat_ids=[9, 10], total="40.50"),
        _event(payment_events.PAYMENT_CONFIRMED, session_id=3, seat_ids=[11], total="0.25"),
    ]
    assert deltas_of(batch) == {
        1: Delta(held=0, sold=2, revenue=Decimal("50.00"), events=4),
        2: Delta(held=0, sold=0, revenue=Decimal("0"), events=2),
        3: Delta(held=-1, sold=3, revenue=Decimal("40.75"), events=3),
    }
    assert deltas_of([]) == {}


def test_a_refund_takes_its_seats_and_revenue_back_and_a_late_one_takes_nothing():
    batch = [
        _event(payment_events.PAYMENT_CONFIRMED, session_id=1, seat_ids=[4, 5], total="50.00"),
        _event(
            payment_events.PAYMENT_REFUNDED,
            session_id=1,
            seat_ids=[4, 5],
            sale_id="s-1",
            amount="50.00",
        ),
        # Paid after the hold ended: never sold, nothing to take back.
        _event(
            payment_events.PAYMENT_REFUNDED, session_id=2, seat_ids=[], sale_id=None, amount="30.00"
        ),
    ]

    assert deltas_of(batch) == {
        1: Delta(held=-2, sold=0, revenue=Decimal("0.00"), events=2),
        2: Delta(held=0, sold=0, revenue=Decimal("0"), events=1),
    }
