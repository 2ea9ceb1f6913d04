"""The database itself guards the seat layout, whatever the Python code does."""

import pytest
from django.db import IntegrityError, transaction

from apps.rooms.models import Seat
from tests.factories import make_room

pytestmark = pytest.mark.django_db


def test_duplicate_seat_label_in_a_room_is_rejected():
    room = make_room(rows=1, seats_per_row=2)

    with pytest.raises(IntegrityError, match="rooms_seat_room_label_unique"), transaction.atomic():
        Seat.objects.create(room=room, row="Z", number=9, label="A1")

    assert room.seats.count() == 2


def test_duplicate_seat_position_in_a_room_is_rejected():
    room = make_room(rows=1, seats_per_row=2)

    with pytest.raises(IntegrityError, match="rooms_seat_position_unique"), transaction.atomic():
        Seat.objects.create(room=room, row="A", number=1, label="X1")

    assert room.seats.count() == 2


def test_same_label_in_another_room_is_fine():
    first = make_room(rows=1, seats_per_row=2)
    second = make_room(rows=1, seats_per_row=2)

    assert set(first.seats.values_list("label", flat=True)) == {"A1", "A2"}
    assert set(second.seats.values_list("label", flat=True)) == {"A1", "A2"}


def test_seat_number_must_be_positive():
    room = make_room(rows=1, seats_per_row=1)

    with pytest.raises(IntegrityError, match="rooms_seat_number_positive"), transaction.atomic():
        Seat.objects.create(room=room, row="B", number=0, label="B0")

    assert room.seats.count() == 1
