"""A provider's success racing the hold's deadline, with a rival buyer waiting for the seats: real
concurrent transactions, released together by a barrier, forty times."""

from __future__ import annotations

import json
import random
import time
import uuid
from datetime import timedelta

import pytest
from django.conf import settings
from django.utils import timezone

from apps.bookings import services as booking_services
from apps.bookings.errors import SeatsUnavailable
from apps.bookings.models import Reservation, ReservationSeat
from apps.payments import refunds, services, webhooks
from apps.payments.models import FakeProviderPayment, Payment, Sale, Ticket
from apps.payments.providers.fake import SIGNATURE_HEADER, sign
from tests.concurrency import run_together
from tests.factories import UserFactory, make_room, make_session

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

ROUNDS = 40


def _store_success(payment: Payment) -> int:
    """The buyer pays in the bank app: the provider settles, and its webhook is stored."""
    FakeProviderPayment.objects.filter(payment_id=payment.id).update(status="succeeded")
    body = json.dumps(
        {
            "id": f"evt_{uuid.uuid4().hex}",
            "type": "payment.succeeded",
            "created": int(time.time()),
            "data": {"payment_id": str(payment.id), "amount": str(payment.amount)},
        }
    ).encode()
    header = sign(body, secret=settings.PAYMENT_WEBHOOK_SECRET, timestamp=int(time.time()))
    assert webhooks.webhook_receive(
        provider_name="fake", body=body, headers={SIGNATURE_HEADER: header}
    )
    return webhooks.WebhookEvent.objects.get(payment_id=payment.id).pk


def _rival_buys(session, rival, seats) -> Sale | Exception:
    try:
        hold = booking_services.reservation_create(
            user=rival, session_id=session.id, seat_ids=seats
        )
    except SeatsUnavailable as exc:
        return exc
    return services.payment_start(reservation_id=hold.id, user=rival, token="tok_visa").sale


def test_a_success_racing_the_deadline_ends_sold_or_refunded_never_both():
    session = make_session(room=make_room(rows=8, seats_per_row=10))
    seat_ids = list(session.seats.order_by("id").values_list("id", flat=True))
    buyer, rival = UserFactory(), UserFactory()
    rng = random.Random(12)
    outcomes = {"sold": 0, "refunded": 0}

    for round_number in range(ROUNDS):
        seats = seat_ids[2 * round_number : 2 * round_number + 2]
        hold = booking_services.reservation_create(
            user=buyer, session_id=session.id, seat_ids=seats
        )
        payment = services.payment_start(reservation_id=hold.id, user=buyer, token="tok_pix")
        assert payment.status == "pending"
        event_pk = _store_success(payment)
        # The (extended) deadline arrives a few milliseconds either side of the racers' start.
        Reservation.objects.filter(pk=hold.id).update(
            expires_at=timezone.now() + timedelta(milliseconds=rng.randint(20, 250))
        )
        time.sleep(rng.uniform(0, 0.15))

        processed, _expiry, _sweep, rival_sale = run_together(
            [
                lambda pk=event_pk: webhooks.webhook_event_process(event_pk=pk),
                lambda r=hold: booking_services.reservation_expire(reservation_id=r.id),
                booking_services.expire_overdue_reservations,
                lambda s=seats: _rival_buys(session, rival, s),
            ]
        )
        assert processed == "applied", processed
        booking_services.expire_overdue_reservations()
        payment.refresh_from_db()
        reservation = Reservation.objects.get(pk=hold.id)
        sale = Sale.objects.filter(payment=payment).first()
        assert payment.status == "succeeded"  # the money was taken: never ignored
        if sale is not None:
            # Sold: the hold is the buyer's, the rival was refused, nothing to give back.
            outcomes["sold"] += 1
            assert reservation.status == Reservation.Status.CONFIRMED
            assert Ticket.objects.filter(sale=sale, voided_at__isnull=True).count() == 2
            assert payment.refund_requested_at is None
            assert isinstance(rival_sale, SeatsUnavailable), rival_sale
        else:
            # Too late: the hold expired, the charge is refunded, the seats went to the rival or
            # are free; never a sale of the buyer's.
            outcomes["refunded"] += 1
            assert reservation.status == Reservation.Status.EXPIRED
            assert payment.refund_reason == "late"
            assert not ReservationSeat.objects.filter(reservation=reservation, is_active=True)
            if isinstance(rival_sale, Sale):
                assert (
                    Ticket.objects.filter(session_seat_id__in=seats, voided_at__isnull=True).count()
                    == 2
                )
                assert set(rival_sale.tickets.values_list("session_seat_id", flat=True)) == set(
                    seats
                )
            assert refunds.payment_refund_at_provider(payment_id=payment.id)
            payment.refresh_from_db()
            assert payment.status == "refunded"
        # Never two valid tickets for one seat, whoever won.
        for seat in seats:
            assert Ticket.objects.filter(session_seat_id=seat, voided_at__isnull=True).count() <= 1

    # Every charge the provider made has its Payment row, and every success is sold or refunded.
    charged = set(FakeProviderPayment.objects.values_list("idempotency_key", flat=True))
    recorded = set(Payment.objects.values_list("idempotency_key", flat=True))
    assert charged == recorded
    for payment in Payment.objects.filter(status="succeeded"):
        assert Sale.objects.filter(payment=payment).exists()
    assert outcomes["sold"] > 0, outcomes
    assert outcomes["refunded"] > 0, outcomes
    print(f"\n{outcomes}")
