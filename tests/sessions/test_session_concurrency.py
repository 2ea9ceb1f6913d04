"""Two staff members scheduling the same room at the same moment: exactly one wins."""

import threading
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import IntegrityError, connection
from django.utils import timezone

from apps.core.errors import ApplicationError
from apps.sessions import services
from apps.sessions.models import Session
from tests.factories import MovieFactory, make_room

ROUNDS = 40

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def race(movie, room, starts) -> list:
    """Call session_create from two threads released together; return what each got."""
    barrier = threading.Barrier(len(starts), timeout=10)
    outcomes: list = [None] * len(starts)

    def schedule(index: int) -> None:
        try:
            barrier.wait()
            outcomes[index] = services.session_create(
                movie=movie, room=room, starts_at=starts[index], price=Decimal("25.00")
            )
        except Exception as exc:  # the test inspects whatever each thread got
            outcomes[index] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=schedule, args=(i,)) for i in range(len(starts))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert not any(thread.is_alive() for thread in threads)
    return outcomes


def assert_one_winner(outcomes, room) -> ApplicationError:
    winners = [o for o in outcomes if isinstance(o, Session)]
    losers = [o for o in outcomes if not isinstance(o, Session)]
    assert len(winners) == 1, outcomes
    assert len(losers) == 1, outcomes
    assert isinstance(losers[0], ApplicationError), repr(losers[0])
    assert losers[0].code == "session_overlap"
    assert losers[0].status == 400
    assert list(Session.objects.filter(room=room).values_list("id", flat=True)) == [winners[0].id]
    assert winners[0].seats.count() == room.seats.count()
    return losers[0]


def test_concurrent_overlapping_sessions_one_wins():
    movie = MovieFactory(duration_minutes=120)
    room = make_room()
    start = timezone.now() + timedelta(days=1)

    outcomes = race(movie, room, [start, start + timedelta(minutes=30)])

    assert_one_winner(outcomes, room)


def test_the_exclusion_constraint_settles_every_race_when_python_checks_pass(monkeypatch):
    """Both threads pass the Python overlap check, so both reach the INSERT together.

    PostgreSQL lets exactly one in, and the loser always gets `session_overlap`: conflicting
    inserts into an exclusion constraint can deadlock each other (the loser used to get a
    "deadlock detected" OperationalError, a 500, in a few races in a hundred), so the service
    serialises scheduling per room. Many rounds make a regression show up.
    """
    movie = MovieFactory(duration_minutes=120)
    monkeypatch.setattr(services, "overlapping_sessions", lambda **_: Session.objects.none())

    for _ in range(ROUNDS):
        room = make_room()
        start = timezone.now() + timedelta(days=1)

        outcomes = race(movie, room, [start, start])

        loser = assert_one_winner(outcomes, room)
        assert isinstance(loser.__cause__, IntegrityError)  # mapped from the exclusion constraint
