"""Half-price tickets (meia-entrada): a type per seat, its price fixed at hold time, and at most
HALF_PRICE_SHARE of a session's seats held or sold as half price at once, also under a race."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import transaction
from rest_framework.test import APIClient

from apps.bookings import locks, services
from apps.bookings.models import Reservation, ReservationSeat
from apps.payments import refunds
from apps.payments import services as payment_services
from apps.sessions.models import Session
from tests.concurrency import run_together
from tests.factories import UserFactory, make_overdue, make_room, make_session
from tests.helpers import RESERVATIONS_URL, client_as, seat_ids


def reserve_tickets(client: APIClient, session_id: int, tickets: list[dict]):
    return client.post(RESERVATIONS_URL, {"session": session_id, "tickets": tickets}, format="json")


def half(seat_id: int) -> dict:
    return {"seat": seat_id, "type": "half"}


def half_holds(session: Session) -> int:
    return ReservationSeat.objects.filter(
        session_seat__session=session, is_active=True, ticket_type="half"
    ).count()


def hold_half(session: Session, seats: list[int]) -> Reservation:
    return services.reservation_create(
        user=UserFactory(), session_id=session.id, seat_ids=seats, half_price=seats
    )


@pytest.fixture
def big_session(db) -> Session:
    """100 seats: 40 half-price places with the default share of 0.4."""
    return make_session(room=make_room(rows=10, seats_per_row=10), price=Decimal("25.00"))


@pytest.mark.django_db
def test_a_session_shows_both_prices(api):
    session = make_session(price=Decimal("25.01"))

    body = api.get(f"/api/v1/sessions/{session.id}").json()

    # Rounded down: the buyer never pays more than half.
    assert body["prices"] == {"full": "25.01", "half": "12.50"}


@pytest.mark.django_db
def test_each_seat_carries_its_type_and_price_and_the_total_sums_them(session):
    first, second, third = seat_ids(session, 3)

    response = reserve_tickets(
        client_as(UserFactory()),
        session.id,
        [half(first), {"seat": second, "type": "full"}, {"seat": third}],
    )

    assert response.status_code == 201, response.content
    body = response.json()
    assert [(s["id"], s["type"], s["price"]) for s in body["seats"]] == [
        (first, "half", "12.50"),
        (second, "full", "25.00"),
        (third, "full", "25.00"),
    ]
    assert body["total"] == "62.50"
    held = dict(
        ReservationSeat.objects.filter(reservation_id=body["id"]).values_list(
            "session_seat_id", "ticket_type"
        )
    )
    assert held == {first: "half", second: "full", third: "full"}


@pytest.mark.django_db
def test_the_price_is_fixed_when_the_seat_is_held_and_the_sale_keeps_it(session):
    user = UserFactory()
    [seat] = seat_ids(session, 1)
    reservation = services.reservation_create(
        user=user, session_id=session.id, seat_ids=[seat], half_price=[seat]
    )
    Session.objects.filter(pk=session.pk).update(price=Decimal("40.00"))

    response = client_as(user).post(
        f"/api/v1/reservations/{reservation.id}/payment", {"token": "tok_visa"}, format="json"
    )

    assert response.status_code == 201, response.content
    [ticket] = response.json()["tickets"]
    assert (ticket["type"], ticket["price"]) == ("half", "12.50")
    assert response.json()["total"] == "12.50"
    purchases = client_as(user).get("/api/v1/me/purchases").json()["results"]
    assert purchases[0]["tickets"][0]["type"] == "half"


@pytest.mark.django_db
@pytest.mark.parametrize(
    "body",
    [
        {"seats": [1], "tickets": [{"seat": 1}]},  # both
        {},  # neither
        {"tickets": []},
        {"tickets": [{"seat": 1, "type": "student"}]},
        {"tickets": [{"type": "half"}]},
        {"tickets": [{"seat": "one"}]},
        {"tickets": [1, 2]},
        {"tickets": {"seat": 1}},
    ],
)
def test_malformed_tickets_are_a_400_and_hold_nothing(session, body):
    response = client_as(UserFactory()).post(
        RESERVATIONS_URL, {"session": session.id, **body}, format="json"
    )

    assert response.status_code == 400, response.content
    assert response["Content-Type"] == "application/problem+json"
    assert Reservation.objects.count() == 0


@pytest.mark.django_db
def test_a_seat_twice_in_tickets_is_a_400(session):
    [seat] = seat_ids(session, 1)

    response = reserve_tickets(client_as(UserFactory()), session.id, [half(seat), half(seat)])

    assert response.status_code == 400
    assert response.json()["code"] == "duplicate_seats"
    assert Reservation.objects.count() == 0


@pytest.mark.django_db
def test_beyond_the_share_the_hold_is_refused_whole(big_session):
    seats = seat_ids(big_session, 40)
    for start in range(0, 40, 10):
        hold_half(big_session, seats[start : start + 10])
    full_seat, half_seat = seat_ids(big_session, 2, offset=40)

    response = reserve_tickets(
        client_as(UserFactory()), big_session.id, [{"seat": full_seat}, half(half_seat)]
    )

    assert response.status_code == 409
    assert response.json()["code"] == "half_price_sold_out"
    assert response.json()["half_price_left"] == 0
    assert half_holds(big_session) == 40
    # All or nothing: the full-price seat of the refused hold is not held either.
    assert not ReservationSeat.objects.filter(session_seat_id=full_seat, is_active=True).exists()
    # Full price is still on sale.
    ok = reserve_tickets(client_as(UserFactory()), big_session.id, [{"seat": half_seat}])
    assert ok.status_code == 201


@pytest.mark.django_db
def test_the_share_is_configurable(settings):
    settings.HALF_PRICE_SHARE = 0.1
    session = make_session()  # 20 seats: 2 places
    seats = seat_ids(session, 3)

    response = reserve_tickets(client_as(UserFactory()), session.id, [half(s) for s in seats])

    assert response.status_code == 409
    assert response.json()["half_price_left"] == 2


@pytest.mark.django_db(transaction=True)
def test_fifty_buyers_race_for_the_last_four_places(redis_mode, settings):
    # Holds that outlive the race even when a hung Redis makes every request slow.
    settings.RESERVATION_TTL_SECONDS = 600
    session = make_session(room=make_room(rows=10, seats_per_row=10))
    taken = seat_ids(session, 36)
    for start in range(0, 36, 9):
        hold_half(session, taken[start : start + 9])
    racers = seat_ids(session, 50, offset=36)
    users = UserFactory.create_batch(50)

    responses = run_together(
        [
            lambda u=u, s=s: reserve_tickets(client_as(u), session.id, [half(s)])
            for u, s in zip(users, racers, strict=True)
        ]
    )

    statuses = sorted(r.status_code for r in responses)
    assert statuses == [201] * 4 + [409] * 46, [r.content for r in responses]
    assert {r.json()["code"] for r in responses if r.status_code == 409} == {"half_price_sold_out"}
    assert half_holds(session) == 40

    # The winners' holds run out: their places are free at once, swept or not.
    winners = [r.json()["id"] for r in responses if r.status_code == 201]
    for reservation in Reservation.objects.filter(id__in=winners):
        make_overdue(reservation)
    again = seat_ids(session, 5, offset=90)
    answers = [
        reserve_tickets(client_as(UserFactory()), session.id, [half(s)]).status_code for s in again
    ]
    assert answers == [201, 201, 201, 201, 409]


@pytest.mark.django_db
def test_cancelled_expired_and_refunded_holds_give_their_places_back(settings):
    settings.HALF_PRICE_SHARE = 0.15  # 20 seats: 3 places
    session = make_session()
    first, second, third, fourth = seat_ids(session, 4)
    cancelled = hold_half(session, [first])
    expired = hold_half(session, [second])
    sold = hold_half(session, [third])
    payment = payment_services.payment_start(
        reservation_id=sold.id, user=sold.user, token="tok_visa"
    )
    assert half_holds(session) == 3
    refused = reserve_tickets(client_as(UserFactory()), session.id, [half(fourth)])
    assert refused.status_code == 409

    services.reservation_cancel(reservation_id=cancelled.id, user=cancelled.user)
    make_overdue(expired)
    services.reservation_expire(reservation_id=expired.id)
    refunds.sale_refund(sale_id=payment.sale.id)

    assert half_holds(session) == 0
    free = seat_ids(session, 3, offset=10)
    response = reserve_tickets(client_as(UserFactory()), session.id, [half(s) for s in free])
    assert response.status_code == 201, response.content


@pytest.mark.django_db
def test_the_half_price_lock_takes_any_session_id():
    # Session ids are 64-bit; the advisory lock's second key is 32-bit.
    with transaction.atomic():
        for session_id in (1, 2**31 - 1, 2**31, 1_646_602_660_897, 2**63 - 1):
            locks.lock_half_price_places(session_id)
