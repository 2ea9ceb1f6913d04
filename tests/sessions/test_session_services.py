"""Business rules of scheduling a session, through the service."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from apps.core.errors import ApplicationError
from apps.sessions import services
from apps.sessions.models import Session, SessionSeat
from tests.assertions import db_state
from tests.factories import MovieFactory, make_room, make_session

pytestmark = pytest.mark.django_db

TOMORROW = timedelta(days=1)


@pytest.fixture
def movie():
    return MovieFactory(duration_minutes=120)


@pytest.fixture
def room():
    return make_room()  # 20 seats


def create(movie, room, starts_at, price=Decimal("25.00")) -> Session:
    return services.session_create(movie=movie, room=room, starts_at=starts_at, price=price)


def test_session_gets_its_end_and_a_copy_of_every_room_seat(movie, room):
    starts_at = timezone.now() + TOMORROW

    session = create(movie, room, starts_at)

    session.refresh_from_db()
    assert session.ends_at == starts_at + timedelta(minutes=120)
    assert session.status == Session.Status.SCHEDULED
    assert sorted(session.seats.values_list("seat_id", flat=True)) == sorted(
        room.seats.values_list("id", flat=True)
    )


def test_fewer_than_16_seats_is_too_few_seats(movie):
    small = make_room(rows=5, seats_per_row=3)  # 15 seats
    before = db_state()

    with pytest.raises(ApplicationError) as error:
        create(movie, small, timezone.now() + TOMORROW)

    assert error.value.code == "too_few_seats"
    assert error.value.status == 400
    assert db_state() == before


def test_start_in_the_past_is_session_in_past(movie, room):
    before = db_state()

    with pytest.raises(ApplicationError) as error:
        create(movie, room, timezone.now() - timedelta(seconds=1))

    assert error.value.code == "session_in_past"
    assert error.value.status == 400
    assert db_state() == before


@pytest.mark.parametrize(
    "offset_minutes",
    [
        0,  # same start
        -119,  # ends one minute into the existing session
        119,  # starts one minute before the existing one ends
        30,  # inside
        -30,  # covers the start
    ],
)
def test_overlap_in_the_same_room_is_session_overlap(movie, room, offset_minutes):
    existing = make_session(room=room, movie=movie, starts_at=timezone.now() + TOMORROW)
    before = db_state()

    with pytest.raises(ApplicationError) as error:
        create(movie, room, existing.starts_at + timedelta(minutes=offset_minutes))

    assert error.value.code == "session_overlap"
    assert error.value.status == 400
    assert db_state() == before


def test_back_to_back_sessions_do_not_overlap(movie, room):
    first = make_session(room=room, movie=movie, starts_at=timezone.now() + TOMORROW)

    after = create(movie, room, first.ends_at)
    before = create(movie, room, first.starts_at - timedelta(minutes=120))

    assert after.starts_at == first.ends_at
    assert before.ends_at == first.starts_at
    assert Session.objects.filter(room=room).count() == 3


def test_same_time_in_another_room_is_fine(movie, room):
    existing = make_session(room=room, movie=movie, starts_at=timezone.now() + TOMORROW)
    other = make_room(cinema=room.cinema)

    session = create(movie, other, existing.starts_at)

    assert session.room == other
    assert Session.objects.filter(starts_at=existing.starts_at).count() == 2


def test_a_cancelled_session_does_not_block_the_room(movie, room):
    existing = make_session(room=room, movie=movie, starts_at=timezone.now() + TOMORROW)
    services.session_cancel(session=existing)

    replacement = create(movie, room, existing.starts_at)

    assert replacement.status == Session.Status.SCHEDULED
    assert SessionSeat.objects.filter(session=replacement).count() == 20


def test_cancel_twice_is_a_conflict(session):
    services.session_cancel(session=session)

    with pytest.raises(ApplicationError) as error:
        services.session_cancel(session=session)

    assert error.value.code == "session_cancelled"
    assert error.value.status == 409
    session.refresh_from_db()
    assert session.status == Session.Status.CANCELLED
