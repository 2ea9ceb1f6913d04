"""The sale body of a payment's 201 is written by hand for speed; it must stay what the
documented serializer (the OpenAPI schema's) gives, field for field and string for string."""

from __future__ import annotations

from decimal import Decimal

import pytest

from apps.bookings import services as booking_services
from apps.payments import refunds, selectors, services
from apps.payments.serializers import SaleSerializer, sale_data
from tests.factories import UserFactory, make_session
from tests.helpers import seat_ids

pytestmark = pytest.mark.django_db(transaction=True)


def _paid(price: Decimal, seats: int = 3):
    session = make_session(price=price)
    user = UserFactory()
    chosen = seat_ids(session, seats)
    reservation = booking_services.reservation_create(
        user=user, session_id=session.id, seat_ids=chosen, half_price=chosen[:1]
    )
    payment = services.payment_start(reservation_id=reservation.id, user=user, token="tok_visa")
    return user, payment.sale


@pytest.mark.parametrize("price", [Decimal("25.01"), Decimal("9999.99"), Decimal("0.01")])
def test_the_body_is_the_serializers_as_the_payment_wrote_it_and_as_read_back(price):
    _user, sale = _paid(price)

    written = sale_data(sale)
    assert written == dict(SaleSerializer(sale).data)
    read_back = selectors.sale_detail(sale.id)
    assert sale_data(read_back) == dict(SaleSerializer(read_back).data) == written
    assert [ticket["type"] for ticket in written["tickets"]] == ["half", "full", "full"]
    assert written["status"] == "paid"
    assert written["refunded_at"] is None


def test_a_refunded_sale_reads_the_same_in_both():
    user, sale = _paid(Decimal("30.00"), seats=1)
    refunds.sale_refund(sale_id=sale.id, user=user)

    refunded = selectors.sale_detail(sale.id)
    mine = sale_data(refunded)
    assert mine == dict(SaleSerializer(refunded).data)
    assert mine["status"] == "refunded"
    assert mine["refunded_at"] is not None
