"""Seat categories: set when a room is made, copied by each session, shown on the seat map; a
blocked seat is never held, whether the API or anything else asks."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from apps.bookings.models import Reservation, ReservationSeat
from apps.rooms import services as room_services
from apps.rooms.layout import grid
from apps.rooms.models import Room, Seat
from apps.sessions.models import SessionSeat
from tests.factories import CinemaFactory, MovieFactory, UserFactory, make_session
from tests.helpers import client_as, reserve

CATEGORIES = {"A1": "wheelchair", "A2": "companion", "B3": "blocked", "B4": "blocked"}


def room_with_categories() -> Room:
    return room_services.room_create(
        cinema=CinemaFactory(), name="Sala acessível", positions=grid(4, 5), categories=CATEGORIES
    )


def by_label(session) -> dict[str, int]:
    return dict(session.seats.values_list("seat__label", "id"))


@pytest.mark.django_db
def test_a_room_takes_label_lists_and_shows_each_seats_category(staff_api):
    cinema = CinemaFactory()

    response = staff_api.post(
        "/api/v1/rooms",
        {
            "cinema": cinema.id,
            "name": "Sala 3",
            "rows": 4,
            "seats_per_row": 5,
            "blocked": ["B3", "B4"],
            "wheelchair": ["A1"],
            "companion": ["A2"],
        },
        format="json",
    )

    assert response.status_code == 201, response.content
    categories = {seat["label"]: seat["category"] for seat in response.json()["seats"]}
    assert {label: c for label, c in categories.items() if c != "standard"} == CATEGORIES
    assert len(categories) == 20


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("lists", "code"),
    [
        ({"blocked": ["Z9"]}, "unknown_seat_labels"),
        ({"blocked": ["A1"], "wheelchair": ["A1"]}, "conflicting_categories"),
        ({"blocked": "A1"}, "invalid"),
        ({"companion": [{"row": "A"}]}, "invalid"),
    ],
)
def test_bad_label_lists_are_a_400_and_make_no_room(staff_api, lists, code):
    cinema = CinemaFactory()

    response = staff_api.post(
        "/api/v1/rooms",
        {"cinema": cinema.id, "name": "Sala 9", "rows": 2, "seats_per_row": 3, **lists},
        format="json",
    )

    assert response.status_code == 400, response.content
    assert response["Content-Type"] == "application/problem+json"
    assert code in {response.json()["code"], *(e["code"] for e in response.json()["errors"])}
    assert not Room.objects.exists()
    assert not Seat.objects.exists()


@pytest.mark.django_db
def test_a_session_copies_the_categories_and_the_seat_map_shows_them(api):
    session = make_session(room=room_with_categories())

    seats = {seat["label"]: seat for seat in api.get(f"/api/v1/sessions/{session.id}/seats").json()}

    assert {label: seats[label]["category"] for label in CATEGORIES} == CATEGORIES
    assert seats["C1"]["category"] == "standard"
    assert (seats["B3"]["status"], seats["B4"]["status"]) == ("blocked", "blocked")
    assert seats["A1"]["status"] == "available"
    copied = dict(
        SessionSeat.objects.filter(session=session).values_list("seat__label", "category")
    )
    assert {label: copied[label] for label in CATEGORIES} == CATEGORIES


@pytest.mark.django_db
def test_only_sellable_seats_count_towards_the_minimum_of_a_session(staff_api):
    # 4 x 4 = 16 seats, one of them blocked: 15 for sale, one short of a session.
    room = room_services.room_create(
        cinema=CinemaFactory(), name="Sala 16", positions=grid(4, 4), categories={"A1": "blocked"}
    )
    response = staff_api.post(
        "/api/v1/sessions",
        {
            "movie": MovieFactory().id,
            "room": room.id,
            "starts_at": (timezone.now() + timedelta(days=1)).isoformat(),
            "price": "20.00",
        },
        format="json",
    )

    assert response.status_code == 400
    assert response.json()["code"] == "too_few_seats"


@pytest.mark.django_db
@pytest.mark.parametrize("with_others", [False, True], ids=["alone", "with-others"])
def test_a_blocked_seat_is_never_reservable(with_others):
    session = make_session(room=room_with_categories())
    seats = by_label(session)
    wanted = [seats["B3"], *([seats["C1"], seats["C2"]] if with_others else [])]

    response = reserve(client_as(UserFactory()), session.id, wanted)

    assert response.status_code == 409
    assert response.json()["code"] == "seats_unavailable"
    assert response.json()["unavailable_seats"] == [seats["B3"]]
    assert Reservation.objects.count() == 0
    # The other seats were not held either, and stay on sale.
    assert reserve(client_as(UserFactory()), session.id, [seats["C1"]]).status_code == 201


@pytest.mark.django_db
def test_the_database_refuses_a_hold_on_a_blocked_seat_inserted_behind_the_api():
    session = make_session(room=room_with_categories())
    blocked = by_label(session)["B3"]
    reservation = Reservation.objects.create(
        user=UserFactory(), session=session, expires_at=timezone.now(), total=0
    )

    with pytest.raises(IntegrityError, match="is blocked"), transaction.atomic():
        ReservationSeat.objects.create(
            reservation=reservation, session_seat_id=blocked, price="25.00"
        )
    with pytest.raises(IntegrityError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO bookings_reservationseat "
            "(reservation_id, session_seat_id, ticket_type, price, is_active) "
            "VALUES (%s, %s, 'full', 25, TRUE)",
            [reservation.id, blocked],
        )
    assert not ReservationSeat.objects.filter(session_seat_id=blocked).exists()
    # An inactive row (history) is not a hold, and a standard seat is fine.
    ReservationSeat.objects.create(
        reservation=reservation, session_seat_id=blocked, price="25.00", is_active=False
    )
    ReservationSeat.objects.create(
        reservation=Reservation.objects.create(
            id=uuid.uuid4(), user=UserFactory(), session=session, expires_at=timezone.now(), total=0
        ),
        session_seat_id=by_label(session)["C1"],
        price="25.00",
    )
