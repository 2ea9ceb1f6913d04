"""Payment against expiry, and payment against payment, with real concurrent transactions."""

from __future__ import annotations

import random
import time
from datetime import timedelta

import pytest
from django.utils import timezone

from apps.bookings import services as booking_services
from apps.bookings.errors import (
    ReservationAlreadyConfirmed,
    ReservationExpired,
    SeatsUnavailable,
)
from apps.bookings.models import Reservation, ReservationSeat
from apps.payments import services
from apps.payments.errors import PaymentInProgress
from apps.payments.models import FakeProviderPayment, Payment, Sale, Ticket
from apps.payments.refunds import payment_refund_at_provider
from tests.concurrency import run_together
from tests.factories import UserFactory, hold, make_session

pytestmark = pytest.mark.django_db(transaction=True)

ROUNDS = 40


def _sale_of(payment: Payment) -> Sale | None:
    return Sale.objects.filter(payment=payment).first()


def _assert_refunded_late(payment: Payment) -> None:
    """A success that came after the hold ended: no sale, a refund requested, and once the
    queued task has run (here by hand: no worker), the money is back."""
    payment.refresh_from_db()
    assert _sale_of(payment) is None
    assert (payment.status, payment.refund_reason) == ("succeeded", "late")
    assert payment.refund_requested_at is not None
    assert payment_refund_at_provider(payment_id=payment.id) is True
    payment.refresh_from_db()
    assert payment.status == Payment.Status.REFUNDED


def _assert_consistent(reservation_id) -> str:
    """Sold with a sale and tickets, or expired with its seats free: never both, never half."""
    reservation = Reservation.objects.get(pk=reservation_id)
    seats = ReservationSeat.objects.filter(reservation=reservation)
    sale = Sale.objects.filter(reservation=reservation).first()
    if reservation.status == Reservation.Status.CONFIRMED:
        assert sale is not None
        assert sale.total == reservation.total
        assert Ticket.objects.filter(sale=sale).count() == seats.count()
        assert all(seat.is_active for seat in seats)
    else:
        assert reservation.status == Reservation.Status.EXPIRED, reservation.status
        assert sale is None
        assert not seats.filter(is_active=True).exists()
        assert not Ticket.objects.filter(
            session_seat_id__in=seats.values("session_seat_id")
        ).exists()
    return reservation.status


@pytest.mark.slow
def test_payment_racing_expiry_at_the_deadline_ends_sold_or_expired_never_both():
    session = make_session()
    seat_ids = list(session.seats.order_by("id").values_list("id", flat=True))
    buyer, rival = UserFactory(), UserFactory()
    rng = random.Random(11)
    outcomes = {"confirmed": 0, "expired": 0}

    for round_number in range(ROUNDS):
        seats = seat_ids[(round_number % 10) * 2 : (round_number % 10) * 2 + 2]
        reservation = hold(buyer, session, seat_ids=seats)
        # Put the deadline a few milliseconds either side of the moment the racers start.
        Reservation.objects.filter(pk=reservation.id).update(
            expires_at=timezone.now() + timedelta(milliseconds=rng.randint(20, 250))
        )
        time.sleep(rng.uniform(0, 0.15))

        results = run_together(
            [
                lambda r=reservation: services.payment_start(
                    reservation_id=r.id, user=buyer, token="tok_visa"
                ),
                lambda r=reservation: booking_services.reservation_expire(reservation_id=r.id),
                booking_services.expire_overdue_reservations,
                lambda s=seats: hold(rival, session, seat_ids=s),
            ]
        )
        payment, _expiry, _sweep, rival_hold = results
        # Sold, refused before charging, or charged too late (and so refunded): nothing else.
        assert isinstance(payment, Payment | ReservationExpired), payment
        assert isinstance(rival_hold, Reservation | SeatsUnavailable), rival_hold
        # Nothing sneaks through the invariants whatever the interleaving.
        booking_services.expire_overdue_reservations()
        status = _assert_consistent(reservation.id)
        outcomes[status] += 1
        attempts = Payment.objects.filter(reservation=reservation)
        if isinstance(payment, ReservationExpired):
            assert status == "expired"
            assert not attempts.exists()  # refused before the provider was called
        elif _sale_of(payment) is not None:
            assert payment.status == Payment.Status.SUCCEEDED
            assert payment.sale == _sale_of(payment)
            assert status == "confirmed"
            assert isinstance(rival_hold, SeatsUnavailable)
        else:
            assert status == "expired"
            _assert_refunded_late(payment)
        if not isinstance(payment, ReservationExpired):
            assert list(attempts) == [payment]
        if isinstance(rival_hold, Reservation):
            assert status == "expired"
            booking_services.reservation_cancel(reservation_id=rival_hold.id, user=rival)
        else:
            Reservation.objects.filter(user=rival, status="pending").delete()
        # Free the seats for the next round that uses them.
        if status == "confirmed":
            Ticket.objects.filter(sale__reservation=reservation).delete()
            ReservationSeat.objects.filter(reservation=reservation).update(is_active=False)

    # Both outcomes really happened: the test raced at the deadline, not beside it.
    assert outcomes["confirmed"] > 0, outcomes
    assert outcomes["expired"] > 0, outcomes


def test_two_payments_of_one_reservation_at_once_make_one_sale():
    session = make_session()
    buyer = UserFactory()
    seats = list(session.seats.order_by("id").values_list("id", flat=True)[:3])
    reservation = hold(buyer, session, seat_ids=seats)

    results = run_together(
        [
            lambda: services.payment_start(
                reservation_id=reservation.id, user=buyer, token="tok_a", idempotency_key="a"
            ),
            lambda: services.payment_start(
                reservation_id=reservation.id, user=buyer, token="tok_b", idempotency_key="b"
            ),
        ]
    )

    payments = [r for r in results if isinstance(r, Payment)]
    sales = [p.sale for p in payments if _sale_of(p) is not None]
    # The loser is refused before charging (the winner's attempt in flight, or already sold), or
    # was charged after the winner sold the seats and is refunded.
    refused = [r for r in results if isinstance(r, PaymentInProgress | ReservationAlreadyConfirmed)]
    late = [p for p in payments if _sale_of(p) is None]
    assert len(sales) == 1, results
    assert len(refused) + len(late) == 1, results
    assert Sale.objects.count() == 1
    assert Ticket.objects.count() == 3
    for payment in late:
        _assert_refunded_late(payment)
    # The losing charge, if it got as far as the provider, was given back.
    succeeded = Payment.objects.filter(status=Payment.Status.SUCCEEDED)
    assert succeeded.count() == 1
    assert succeeded.get().sale == sales[0]
    assert Payment.objects.exclude(status=Payment.Status.SUCCEEDED).count() == len(late)
    assert Payment.objects.exclude(status__in=["succeeded", "refunded"]).count() == 0
    # Every charge the provider holds belongs to a recorded attempt.
    assert sorted(FakeProviderPayment.objects.values_list("payment_id", flat=True)) == sorted(
        Payment.objects.values_list("id", flat=True)
    )
