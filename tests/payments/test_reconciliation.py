"""Reconciliation finishes what a crash, a lost webhook or an outage left behind, asking the
provider and applying its answer through the same handlers as the API and the webhooks."""

from __future__ import annotations

import uuid
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from apps.bookings import services as booking_services
from apps.bookings.models import Reservation
from apps.events.models import OutboxEvent
from apps.payments import metrics, reconciliation, services
from apps.payments.models import FakeProviderPayment, Payment, Sale
from apps.payments.providers.fake import FakeProvider
from tests.factories import UserFactory, make_overdue, make_session

pytestmark = pytest.mark.django_db


@pytest.fixture
def hold(db):
    session = make_session()
    user = UserFactory()
    seats = list(session.seats.order_by("id").values_list("id", flat=True)[:2])
    return booking_services.reservation_create(user=user, session_id=session.id, seat_ids=seats)


def _processing(hold, *, age_seconds: int = 120) -> Payment:
    """An attempt whose creation call never answered (a crash, a time-out)."""
    payment = Payment.objects.create(
        reservation=hold,
        user=hold.user,
        amount=hold.total,
        provider="fake",
        idempotency_key=str(uuid.uuid4()),
    )
    Payment.objects.filter(pk=payment.pk).update(
        updated_at=timezone.now() - timedelta(seconds=age_seconds)
    )
    return payment


def _fixes(status: str) -> float:
    return metrics.RECONCILIATION_FIXES.labels(status=status)._value.get()


def test_an_attempt_the_provider_never_got_ends_failed_with_nothing_charged(hold):
    payment = _processing(hold)
    before = _fixes("failed")

    assert reconciliation.reconcile_payments() == 1

    payment.refresh_from_db()
    assert (payment.status, payment.failure_reason) == ("failed", "provider_never_charged")
    assert not FakeProviderPayment.objects.exists()
    assert Reservation.objects.get(pk=hold.pk).status == Reservation.Status.PENDING
    assert _fixes("failed") == before + 1


def test_a_charge_made_before_a_crash_is_found_by_its_key_and_becomes_the_sale(hold):
    payment = _processing(hold)
    FakeProvider().create_payment(
        payment_id=payment.id,
        amount=payment.amount,
        currency="BRL",
        token="tok_visa",
        idempotency_key=payment.idempotency_key,
    )

    reconciliation.reconcile_payments()

    payment.refresh_from_db()
    assert payment.status == "succeeded"
    assert payment.provider_reference.startswith("fpi_")
    sale = Sale.objects.get(payment=payment)
    assert sale.tickets.count() == 2
    assert Reservation.objects.get(pk=hold.pk).status == Reservation.Status.CONFIRMED
    assert OutboxEvent.objects.filter(type="payment.confirmed").count() == 1


def test_a_recent_attempt_is_left_alone(hold):
    payment = _processing(hold, age_seconds=5)

    assert reconciliation.reconcile_payments() == 0

    payment.refresh_from_db()
    assert payment.status == "processing"


def test_a_pending_payment_whose_hold_ended_is_cancelled_at_the_provider(hold):
    payment = services.payment_start(reservation_id=hold.id, user=hold.user, token="tok_pix")
    make_overdue(hold)

    reconciliation.reconcile_payments()

    payment.refresh_from_db()
    assert payment.status == "canceled"
    assert FakeProviderPayment.objects.get(payment_id=payment.id).status == "canceled"
    assert not Sale.objects.exists()
    # The hold expires as usual, and the buyer can hold the seats again.
    assert booking_services.expire_overdue_reservations() == 1


def test_a_pending_payment_settled_while_its_webhook_was_lost_becomes_the_sale(hold, settings):
    settings.PAYMENT_RECONCILE_AFTER_SECONDS = 0
    payment = services.payment_start(reservation_id=hold.id, user=hold.user, token="tok_pix")
    FakeProviderPayment.objects.filter(payment_id=payment.id).update(status="succeeded")

    reconciliation.reconcile_payments()

    payment.refresh_from_db()
    assert payment.status == "succeeded"
    assert Sale.objects.filter(payment=payment).exists()


def test_a_success_that_crossed_the_cancel_is_refunded_as_late(hold):
    payment = services.payment_start(reservation_id=hold.id, user=hold.user, token="tok_pix")
    FakeProviderPayment.objects.filter(payment_id=payment.id).update(status="succeeded")
    make_overdue(hold)

    reconciliation.reconcile_payments()

    payment.refresh_from_db()
    assert payment.status == "succeeded"
    assert payment.refund_reason == "late"
    assert not Sale.objects.exists()

    # The refund the success queued; without a worker here, reconciliation takes it once due.
    Payment.objects.filter(pk=payment.pk).update(
        refund_requested_at=timezone.now() - timedelta(minutes=5)
    )
    reconciliation.reconcile_payments()

    payment.refresh_from_db()
    assert payment.status == "refunded"
    assert FakeProviderPayment.objects.get(payment_id=payment.id).status == "refunded"
    refunded = OutboxEvent.objects.get(type="payment.refunded").data
    assert refunded == {
        "payment_id": str(payment.id),
        "reservation_id": str(hold.id),
        "session_id": hold.session_id,
        "seat_ids": [],
        "sale_id": None,
        "amount": str(Decimal(payment.amount)),
        "reason": "late",
    }
