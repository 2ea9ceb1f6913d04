"""Races between real concurrent clients against the real PostgreSQL and Redis."""

from __future__ import annotations

import uuid

import pytest

from apps.bookings import services
from apps.bookings.models import Reservation, ReservationSeat
from tests.concurrency import run_together
from tests.factories import UserFactory, make_session
from tests.helpers import client_as, seat_ids

pytestmark = pytest.mark.django_db(transaction=True)


def _reserve(user, session_id: int, seat_ids: list[int], key: str | None = None):
    headers = {"HTTP_IDEMPOTENCY_KEY": key} if key else {}

    def call():
        return client_as(user).post(
            "/api/v1/reservations", {"session": session_id, "seats": seat_ids}, **headers
        )

    return call


def _active_holds_per_seat(session) -> dict[int, int]:
    counts: dict[int, int] = {}
    for seat_id in ReservationSeat.objects.filter(
        session_seat__session=session, is_active=True
    ).values_list("session_seat_id", flat=True):
        counts[seat_id] = counts.get(seat_id, 0) + 1
    return counts


def test_ten_clients_on_the_same_two_seats_one_wins(redis_mode):
    session = make_session()
    seats = seat_ids(session, 2)
    users = UserFactory.create_batch(10)

    responses = run_together([_reserve(user, session.id, seats) for user in users])

    statuses = sorted(r.status_code for r in responses)
    assert statuses == [201] + [409] * 9, [r.content for r in responses]
    for response in responses:
        if response.status_code == 409:
            assert response.json()["code"] == "seats_unavailable"
            assert set(response.json()["unavailable_seats"]) <= set(seats)
            assert response.json()["unavailable_seats"]
    assert Reservation.objects.count() == 1
    assert _active_holds_per_seat(session) == {seats[0]: 1, seats[1]: 1}


@pytest.mark.slow
@pytest.mark.parametrize("redis_mode", ["redis", "redis-down"], indirect=True)
def test_crossed_seat_orders_never_deadlock(redis_mode):
    """A asks [s1, s3] and B [s3, s1] at the same instant, 200 times: one winner per round."""
    session = make_session()
    s1, _s2, s3 = seat_ids(session, 3)
    alice, bob = UserFactory(), UserFactory()

    for round_number in range(200):
        responses = run_together(
            [_reserve(alice, session.id, [s1, s3]), _reserve(bob, session.id, [s3, s1])]
        )
        statuses = sorted(r.status_code for r in responses)
        assert statuses == [201, 409], (round_number, [r.content for r in responses])
        loser = next(r for r in responses if r.status_code == 409)
        assert loser.json()["code"] == "seats_unavailable"
        winner = next(r for r in responses if r.status_code == 201)
        owner = alice if winner.json()["id"] in _ids_of(alice) else bob
        services.reservation_cancel(reservation_id=uuid.UUID(winner.json()["id"]), user=owner)

    assert Reservation.objects.filter(status=Reservation.Status.CANCELLED).count() == 200
    assert _active_holds_per_seat(session) == {}


def _ids_of(user) -> set[str]:
    return {str(pk) for pk in Reservation.objects.filter(user=user).values_list("id", flat=True)}


def test_one_idempotency_key_sent_by_eight_threads_makes_one_reservation(redis_mode):
    session = make_session()
    seats = seat_ids(session, 2)
    user = UserFactory()
    key = str(uuid.uuid4())

    responses = run_together([_reserve(user, session.id, seats, key=key) for _ in range(8)])

    assert Reservation.objects.count() == 1
    reservation_id = str(Reservation.objects.get().id)
    created = [r for r in responses if r.status_code == 201]
    in_use = [r for r in responses if r.status_code == 409]
    assert len(created) + len(in_use) == 8, [r.content for r in responses]
    assert {r.json()["id"] for r in created} == {reservation_id}
    assert sum(1 for r in created if r.get("Idempotent-Replayed") != "true") == 1
    for response in in_use:
        assert response.json()["code"] == "idempotency_key_in_use"
        assert response["Retry-After"]


def test_disjoint_requests_all_win_at_once(redis_mode):
    """Contention on one seat never blocks reservations of other seats."""
    session = make_session()
    seats = seat_ids(session, 10)
    users = UserFactory.create_batch(10)

    responses = run_together(
        [_reserve(user, session.id, [seat]) for user, seat in zip(users, seats, strict=True)]
    )

    assert [r.status_code for r in responses] == [201] * 10
    assert _active_holds_per_seat(session) == dict.fromkeys(seats, 1)
