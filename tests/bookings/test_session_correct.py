"""Correcting a session (movie, time, room, price) until the first hold of one of its seats, by
the rules of a new session; after that it can only be cancelled."""

import json
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone
from django_redis import get_redis_connection

from apps.bookings import seat_stream, services
from apps.bookings.errors import SessionOnSale
from apps.bookings.seat_map import seat_map_json
from apps.core.errors import ApplicationError
from apps.sessions.models import Session, SessionSeat
from tests.assertions import db_state
from tests.factories import UserFactory, hold, make_overdue, make_room, make_session
from tests.helpers import seat_ids

pytestmark = pytest.mark.django_db


def correct(session: Session, **changes) -> Session:
    terms = {
        "movie": session.movie,
        "room": session.room,
        "starts_at": session.starts_at,
        "price": session.price,
        **changes,
    }
    return services.session_correct(session_id=session.pk, **terms)


def test_time_and_price_are_corrected_and_the_end_follows(session):
    later = session.starts_at + timedelta(hours=3)

    correct(session, starts_at=later, price=Decimal("31.50"))

    session.refresh_from_db()
    assert (session.starts_at, session.price) == (later, Decimal("31.50"))
    assert session.ends_at == later + timedelta(minutes=session.movie.duration_minutes)


def test_moved_to_another_room_it_gets_that_rooms_seats(session):
    bigger = make_room(rows=5, seats_per_row=6)

    correct(session, room=bigger)

    seats = SessionSeat.objects.filter(session=session)
    assert seats.count() == 30
    assert set(seats.values_list("seat__room", flat=True)) == {bigger.pk}


@pytest.mark.parametrize(
    ("change", "code"),
    [
        (lambda s: {"starts_at": timezone.now() - timedelta(minutes=1)}, "session_in_past"),
        (lambda s: {"room": make_room(rows=3, seats_per_row=5)}, "too_few_seats"),
        (lambda s: {"room": make_session().room}, "session_overlap"),
    ],
    ids=["past start", "room too small", "room busy"],
)
def test_the_rules_of_a_new_session_apply(session, change, code):
    changes = change(session)
    before = db_state()

    with pytest.raises(ApplicationError) as raised:
        correct(session, **changes)

    assert raised.value.code == code
    assert db_state() == before


def test_a_session_does_not_overlap_itself(session):
    correct(session, starts_at=session.starts_at + timedelta(minutes=30))

    session.refresh_from_db()
    assert Session.objects.count() == 1


def test_after_the_first_hold_only_cancellation_is_left(session):
    reservation = hold(UserFactory(), session, seat_ids=seat_ids(session, 1))
    make_overdue(reservation)  # even a hold that ran out: buyers saw these terms
    before = db_state()

    with pytest.raises(SessionOnSale):
        correct(session, price=Decimal("1.00"))

    assert db_state() == before
    session.refresh_from_db()
    assert session.price == Decimal("25.00")


def test_a_cancelled_session_is_not_corrected(session):
    Session.objects.filter(pk=session.pk).update(status=Session.Status.CANCELLED)

    with pytest.raises(ApplicationError) as raised:
        correct(session, price=Decimal("30.00"))

    assert raised.value.code == "session_cancelled"


def test_a_moved_sessions_cached_map_and_open_streams_give_way_to_the_new_seats(
    session, django_capture_on_commit_callbacks
):
    old = json.loads(seat_map_json(session.pk))  # now in the cache
    bigger = make_room(rows=5, seats_per_row=6)

    with django_capture_on_commit_callbacks(execute=True):
        correct(session, room=bigger)

    new = json.loads(seat_map_json(session.pk))
    assert len(old) == 20
    assert {entry["id"] for entry in new} == set(session.seats.values_list("id", flat=True))
    assert len(new) == 30
    last = get_redis_connection("default").xrevrange(seat_stream.stream_key(session.pk), count=1)
    assert last[0][1][b"end"] == b"session_moved"


def test_a_rescheduled_session_ends_open_streams_and_a_new_price_alone_does_not(
    session, django_capture_on_commit_callbacks
):
    stream = seat_stream.stream_key(session.pk)
    redis = get_redis_connection("default")

    with django_capture_on_commit_callbacks(execute=True):
        correct(session, price=Decimal("31.00"))
    assert redis.xrevrange(stream, count=1) == []

    with django_capture_on_commit_callbacks(execute=True):
        correct(session, starts_at=session.starts_at + timedelta(hours=3))
    last = redis.xrevrange(stream, count=1)
    assert last[0][1][b"end"] == b"session_moved"
