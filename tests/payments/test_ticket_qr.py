"""GET /api/v1/tickets/{id}/qr.svg: the ticket's QR code for its owner and for staff who may see
every ticket, decoded back to the ticket's code by a real QR decoder."""

from __future__ import annotations

import uuid

import pytest
import segno
from django.contrib.auth.models import Permission

from apps.payments import qr
from apps.payments.models import Sale, Ticket, ticket_code
from tests.assertions import assert_problem
from tests.conftest import client_for
from tests.factories import StaffFactory, UserFactory, make_sale
from tests.qr_decoding import decode_png, decode_svg, svg_modules

pytestmark = pytest.mark.django_db


def qr_url(ticket_id) -> str:
    return f"/api/v1/tickets/{ticket_id}/qr.svg"


@pytest.fixture
def buyer(db):
    return UserFactory()


@pytest.fixture
def sale(buyer, session) -> Sale:
    return make_sale(user=buyer, session=session, seats=2)


@pytest.fixture
def tickets(sale) -> list[Ticket]:
    return list(sale.tickets.order_by("session_seat_id"))


def assert_qr_of(response, ticket: Ticket) -> None:
    """The response is an SVG QR code of the ticket's code, and of nothing else."""
    assert response.status_code == 200, response.content
    assert response["Content-Type"] == "image/svg+xml"
    # The code lets its bearer in: no shared cache may keep it.
    assert "no-store" in response["Cache-Control"]
    assert "private" in response["Cache-Control"]
    svg = response.content.decode()
    assert svg.startswith("<svg")
    assert decode_svg(svg) == ticket.code
    # A second check that needs no decoder: the modules drawn are the symbol segno makes (with
    # the one mask that ticket codes are drawn with).
    symbol = segno.make(ticket.code, error="m", mask=qr.RANDOM_TEXT_MASK)
    expected = [[bool(module) for module in row] for row in symbol.matrix]
    assert svg_modules(svg) == expected


def test_the_owner_gets_each_ticket_as_a_qr_code_of_its_code(buyer, tickets):
    client = client_for(buyer)
    assert len(tickets) == 2
    for ticket in tickets:
        assert_qr_of(client.get(qr_url(ticket.id)), ticket)


def with_permission(user, codename: str):
    user.user_permissions.add(
        Permission.objects.get(content_type__app_label="payments", codename=codename)
    )
    return user


@pytest.mark.parametrize(
    "make_staff",
    [
        pytest.param(StaffFactory, id="staff"),
        pytest.param(lambda: UserFactory(is_staff=True, is_superuser=True), id="superuser"),
        pytest.param(
            lambda: with_permission(UserFactory(is_staff=True), "view_ticket"),
            id="staff-with-view_ticket",
        ),
    ],
)
def test_staff_who_may_see_every_ticket_get_its_qr_code(make_staff, tickets):
    client = client_for(make_staff())
    assert_qr_of(client.get(qr_url(tickets[0].id)), tickets[0])


def test_staff_without_the_permission_to_see_tickets_get_404(tickets):
    client = client_for(UserFactory(is_staff=True))
    assert_problem(client.get(qr_url(tickets[0].id)), 404, "not_found")


def test_another_user_gets_404_as_for_a_ticket_that_does_not_exist(tickets):
    client = client_for(UserFactory())
    body = assert_problem(client.get(qr_url(tickets[0].id)), 404, "not_found")
    assert tickets[0].code not in str(body)
    assert_problem(client.get(qr_url(uuid.uuid4())), 404, "not_found")


def test_anonymous_gets_401(api, tickets):
    response = api.get(qr_url(tickets[0].id))
    assert_problem(response, 401, "not_authenticated")
    assert tickets[0].code.encode() not in response.content


@pytest.mark.parametrize("bad_id", ["not-a-uuid", "123", f"{uuid.uuid4()}x"])
def test_a_malformed_ticket_id_is_404(user_api, bad_id):
    assert_problem(user_api.get(qr_url(bad_id)), 404, "not_found")


def test_ticket_codes_drawn_without_the_mask_search_decode_as_png_and_svg():
    """Ticket codes are drawn with one fixed mask (apps/payments/qr.py): random text needs no
    search for the best one. Hundreds of real codes, each read back by a real decoder."""
    for _ in range(300):
        code = ticket_code()
        assert decode_png(qr.png(code, random_text=True)) == code
        assert decode_svg(qr.svg(code, random_text=True)) == code
