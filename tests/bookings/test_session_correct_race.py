"""A correction of a session and a hold of one of its seats at the same moment, each in its own
transaction and thread: whichever locks first, the hold is priced and checked by the session as
it is when the hold commits, and neither waits on the other in a cycle (lock order: locks.py)."""

from __future__ import annotations

import threading
import time
from decimal import Decimal

import pytest
from django.db import transaction

from apps.bookings import services
from apps.bookings.errors import SessionOnSale
from apps.bookings.models import Reservation
from apps.core.errors import ApplicationError
from tests.concurrency import run_together
from tests.factories import UserFactory, make_room, make_session
from tests.helpers import seat_ids

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

# The correction's transaction stays open this long after its changes, well inside the lock
# timeout the hold waits with.
OPEN_SECONDS = 1.0


def correction_then_hold(session, buyer, seat: int, **changes) -> tuple[object, object]:
    """Run a correction that stays open a moment, and a hold that arrives meanwhile."""
    corrected = threading.Event()

    def correct():
        terms = {
            "movie": session.movie,
            "room": session.room,
            "starts_at": session.starts_at,
            "price": session.price,
            **changes,
        }
        with transaction.atomic():
            services.session_correct(session_id=session.pk, **terms)
            corrected.set()
            time.sleep(OPEN_SECONDS)
        return "corrected"

    def reserve():
        assert corrected.wait(10)
        return services.reservation_create(user=buyer, session_id=session.pk, seat_ids=[seat])

    return tuple(run_together([correct, reserve]))


def test_a_hold_that_waited_for_a_correction_is_priced_by_it():
    session = make_session(price=Decimal("25.00"))
    seat = seat_ids(session, 1)[0]

    corrected, held = correction_then_hold(session, UserFactory(), seat, price=Decimal("40.00"))

    assert corrected == "corrected"
    assert isinstance(held, Reservation), held
    assert held.total == Decimal("40.00")
    assert Reservation.objects.get(pk=held.pk).total == Decimal("40.00")


def test_a_hold_that_waited_for_a_move_to_another_room_is_refused_cleanly():
    session = make_session()
    seat = seat_ids(session, 1)[0]
    other_room = make_room(cinema=session.room.cinema)

    corrected, held = correction_then_hold(session, UserFactory(), seat, room=other_room)

    assert corrected == "corrected"
    # Its seat is no longer one of the session's: a clear refusal, not a deadlock or a 500.
    assert isinstance(held, ApplicationError), held
    assert held.code == "invalid_seats"
    assert not Reservation.objects.exists()


def test_a_correction_that_waited_for_a_hold_is_refused():
    session = make_session()
    seat = seat_ids(session, 1)[0]
    buyer = UserFactory()
    locked = threading.Event()

    def hold_open_a_moment():
        with transaction.atomic():
            held = services.reservation_create(user=buyer, session_id=session.pk, seat_ids=[seat])
            locked.set()
            time.sleep(OPEN_SECONDS)
        return held

    def correct():
        assert locked.wait(10)
        return services.session_correct(
            session_id=session.pk,
            movie=session.movie,
            room=session.room,
            starts_at=session.starts_at,
            price=Decimal("40.00"),
        )

    held, corrected = run_together([hold_open_a_moment, correct])

    assert isinstance(held, Reservation), held
    assert isinstance(corrected, SessionOnSale), corrected
    session.refresh_from_db()
    assert session.price == Decimal("25.00")
