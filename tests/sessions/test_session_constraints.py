"""PostgreSQL itself guards the session invariants, even for code that skips the service."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction

from apps.sessions.models import Session, SessionSeat
from tests.factories import make_room, make_session

pytestmark = pytest.mark.django_db


def raw_session(existing: Session, **overrides) -> Session:
    """Insert a session directly, skipping every Python check."""
    fields = {
        "movie": existing.movie,
        "room": existing.room,
        "starts_at": existing.starts_at,
        "ends_at": existing.ends_at,
        "price": Decimal("20.00"),
        **overrides,
    }
    return Session.objects.create(**fields)


@pytest.mark.parametrize("shift_minutes", [0, 60, -60, 119])
def test_overlapping_sessions_in_a_room_violate_the_exclusion_constraint(session, shift_minutes):
    shift = timedelta(minutes=shift_minutes)

    with pytest.raises(IntegrityError, match="screenings_session_no_overlap"), transaction.atomic():
        raw_session(session, starts_at=session.starts_at + shift, ends_at=session.ends_at + shift)

    assert Session.objects.count() == 1


def test_touching_sessions_are_allowed_by_the_constraint(session):
    length = session.ends_at - session.starts_at

    raw_session(session, starts_at=session.ends_at, ends_at=session.ends_at + length)

    assert Session.objects.filter(room=session.room).count() == 2


def test_overlap_in_another_room_is_allowed_by_the_constraint(session):
    raw_session(session, room=make_room())

    assert Session.objects.count() == 2


def test_cancelled_sessions_are_outside_the_exclusion_constraint(session):
    raw_session(session, status=Session.Status.CANCELLED)
    session.status = Session.Status.CANCELLED
    session.save()

    raw_session(session)

    assert Session.objects.filter(status=Session.Status.SCHEDULED).count() == 1
    assert Session.objects.count() == 3


@pytest.mark.parametrize("price", [Decimal("0.00"), Decimal("-1.00")])
def test_price_must_be_positive(session, price):
    with (
        pytest.raises(IntegrityError, match="screenings_session_price_positive"),
        transaction.atomic(),
    ):
        raw_session(session, room=make_room(), price=price)

    assert Session.objects.count() == 1


def test_session_must_end_after_it_starts(session):
    with (
        pytest.raises(IntegrityError, match="screenings_session_ends_after_start"),
        transaction.atomic(),
    ):
        raw_session(session, room=make_room(), ends_at=session.starts_at)

    assert Session.objects.count() == 1


def test_a_session_seat_exists_once(session):
    seat = session.seats.first()

    with pytest.raises(IntegrityError, match="screenings_sessionseat_unique"), transaction.atomic():
        SessionSeat.objects.create(session=session, seat=seat.seat)

    assert session.seats.count() == 20


def test_price_above_zero_is_accepted_by_the_database(session):
    cheap = make_session(room=make_room(), price=Decimal("0.01"))

    assert cheap.price == Decimal("0.01")
