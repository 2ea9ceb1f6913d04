"""The payment-gateway boundary: the fake provider and the PAYMENT_GATEWAY setting."""

from __future__ import annotations

from decimal import Decimal

import pytest

from apps.bookings import services as booking_services
from apps.bookings.models import Reservation
from apps.payments.gateway import ChargeResult, FakeGateway, get_gateway
from apps.payments.models import Payment, Sale, Ticket
from tests.assertions import assert_problem

DECLINING = "tests.payments.test_gateway.AlwaysDeclines"


class AlwaysDeclines:
    """A provider that turns every card down."""

    name = "always-declines"

    def charge(self, *, amount: Decimal, token: str, idempotency_key: str) -> ChargeResult:
        return ChargeResult(approved=False, decline_reason="insufficient_funds")

    def refund(self, *, reference: str, amount: Decimal) -> None:
        raise AssertionError("nothing was charged, nothing to refund")


def test_fake_gateway_approves_a_card_with_a_reference():
    gateway = FakeGateway()

    first = gateway.charge(amount=Decimal("50.00"), token="tok_visa", idempotency_key="k-1")
    second = gateway.charge(amount=Decimal("50.00"), token="tok_visa", idempotency_key="k-2")

    assert first.approved is True
    assert first.decline_reason == ""
    assert first.reference.startswith("fake_")
    assert len(first.reference) > len("fake_")
    assert second.approved is True
    assert second.reference != first.reference


def test_fake_gateway_approves_any_token_but_the_declined_test_card():
    gateway = FakeGateway()

    assert gateway.charge(amount=Decimal(1), token="anything", idempotency_key="k").approved


def test_fake_gateway_declines_tok_declined():
    result = FakeGateway().charge(
        amount=Decimal("50.00"), token="tok_declined", idempotency_key="k"
    )

    assert result == ChargeResult(approved=False, reference="", decline_reason="card_declined")


def test_fake_gateway_refund_accepts_a_reference():
    gateway = FakeGateway()
    charge = gateway.charge(amount=Decimal("10.00"), token="tok_visa", idempotency_key="k")

    assert gateway.refund(reference=charge.reference, amount=Decimal("10.00")) is None


def test_get_gateway_uses_the_fake_by_default():
    gateway = get_gateway()

    assert isinstance(gateway, FakeGateway)
    assert gateway.name == "fake"


def test_get_gateway_honours_the_setting(settings):
    settings.PAYMENT_GATEWAY = DECLINING

    gateway = get_gateway()

    assert isinstance(gateway, AlwaysDeclines)


@pytest.mark.django_db
def test_the_api_charges_through_the_configured_gateway(settings, user, user_api, session):
    settings.PAYMENT_GATEWAY = DECLINING
    seats = list(session.seats.order_by("id").values_list("id", flat=True)[:2])
    reservation = booking_services.reservation_create(
        user=user, session_id=session.id, seat_ids=seats
    )

    response = user_api.post(
        f"/api/v1/reservations/{reservation.id}/payment", {"token": "tok_visa"}, format="json"
    )

    assert_problem(response, 402, "payment_declined")
    payment = Payment.objects.get()
    assert (payment.status, payment.provider, payment.decline_reason, payment.amount) == (
        "declined",
        "always-declines",
        "insufficient_funds",
        Decimal("50.00"),
    )
    assert Sale.objects.count() == 0
    assert Ticket.objects.count() == 0
    assert Reservation.objects.get(pk=reservation.pk).status == Reservation.Status.PENDING
