"""The Redis seat-lock fast path, against the real Redis, and the service without it."""

import uuid

import pytest
from django_redis import get_redis_connection

from apps.bookings import locks, services
from apps.bookings import seat_map as seat_map_reads
from apps.bookings.errors import SeatsUnavailable
from apps.bookings.models import Reservation, ReservationSeat
from tests.factories import UserFactory

SESSION_ID = 424242
DEAD_REDIS = "redis://127.0.0.1:6399/0"  # nothing listens there: connection refused


@pytest.fixture
def dead_redis(settings):
    """Point the cache, and so the seat locks, at a Redis that is not there."""
    caches = {**settings.CACHES}
    caches["default"] = {**caches["default"], "LOCATION": DEAD_REDIS}
    settings.CACHES = caches  # Django drops its cache connections on this change


def redis():
    return get_redis_connection("default")


def keys_of(seat_ids: list[int]) -> list[str]:
    return [locks.seat_key(SESSION_ID, seat_id) for seat_id in seat_ids]


def test_acquire_takes_every_key_with_the_ttl():
    owner = uuid.uuid4()

    taken = locks.acquire_seat_keys(
        session_id=SESSION_ID, seat_ids=[3, 1, 2], owner=owner, ttl_seconds=30
    )

    assert taken == []
    for key in keys_of([1, 2, 3]):
        assert redis().get(key) == str(owner).encode()
        assert 29_000 <= redis().pttl(key) <= 30_000


def test_acquire_is_all_or_nothing():
    first, second = uuid.uuid4(), uuid.uuid4()
    assert (
        locks.acquire_seat_keys(session_id=SESSION_ID, seat_ids=[1, 2], owner=first, ttl_seconds=30)
        == []
    )

    taken = locks.acquire_seat_keys(
        session_id=SESSION_ID, seat_ids=[5, 2, 4, 1], owner=second, ttl_seconds=30
    )

    assert taken == [1, 2]
    assert redis().exists(*keys_of([4, 5])) == 0  # none of the free ones was taken
    assert [redis().get(key) for key in keys_of([1, 2])] == [str(first).encode()] * 2


def test_acquire_reports_only_the_overlap():
    first, second = uuid.uuid4(), uuid.uuid4()
    locks.acquire_seat_keys(session_id=SESSION_ID, seat_ids=[7], owner=first, ttl_seconds=30)

    taken = locks.acquire_seat_keys(
        session_id=SESSION_ID, seat_ids=[6, 7, 8], owner=second, ttl_seconds=30
    )

    assert taken == [7]
    assert redis().exists(*keys_of([6, 8])) == 0


def test_keys_of_other_sessions_do_not_collide():
    locks.acquire_seat_keys(session_id=SESSION_ID, seat_ids=[1], owner=uuid.uuid4(), ttl_seconds=30)

    taken = locks.acquire_seat_keys(
        session_id=SESSION_ID + 1, seat_ids=[1], owner=uuid.uuid4(), ttl_seconds=30
    )

    assert taken == []


def test_release_by_a_stranger_deletes_nothing():
    owner = uuid.uuid4()
    locks.acquire_seat_keys(session_id=SESSION_ID, seat_ids=[1, 2], owner=owner, ttl_seconds=30)

    locks.release_seat_keys(session_id=SESSION_ID, seat_ids=[1, 2], owner=uuid.uuid4())

    assert [redis().get(key) for key in keys_of([1, 2])] == [str(owner).encode()] * 2


def test_release_by_the_owner_deletes_all_its_keys():
    owner, other = uuid.uuid4(), uuid.uuid4()
    locks.acquire_seat_keys(session_id=SESSION_ID, seat_ids=[1, 2], owner=owner, ttl_seconds=30)
    locks.acquire_seat_keys(session_id=SESSION_ID, seat_ids=[3], owner=other, ttl_seconds=30)

    # Seat 3 is listed but belongs to someone else: only the owner's keys go.
    locks.release_seat_keys(session_id=SESSION_ID, seat_ids=[1, 2, 3], owner=owner)

    assert redis().exists(*keys_of([1, 2])) == 0
    assert redis().get(keys_of([3])[0]) == str(other).encode()
    assert (
        locks.acquire_seat_keys(
            session_id=SESSION_ID, seat_ids=[1, 2], owner=uuid.uuid4(), ttl_seconds=30
        )
        == []
    )


def test_release_of_nothing_is_a_no_op():
    locks.release_seat_keys(session_id=SESSION_ID, seat_ids=[], owner=uuid.uuid4())


def test_dead_redis_acquire_answers_unknown(dead_redis):
    assert (
        locks.acquire_seat_keys(
            session_id=SESSION_ID, seat_ids=[1, 2], owner=uuid.uuid4(), ttl_seconds=30
        )
        is None
    )


def test_dead_redis_release_does_not_raise(dead_redis):
    locks.release_seat_keys(session_id=SESSION_ID, seat_ids=[1, 2], owner=uuid.uuid4())


@pytest.mark.django_db
def test_dead_redis_the_database_alone_decides(dead_redis, session):
    first_user, second_user = UserFactory.create_batch(2)
    a, b, c = session.seats.order_by("id").values_list("id", flat=True)[:3]
    owner = uuid.uuid4()
    assert (
        locks.acquire_seat_keys(session_id=session.id, seat_ids=[a], owner=owner, ttl_seconds=1)
        is None
    )

    held = services.reservation_create(user=first_user, session_id=session.id, seat_ids=[a, b])

    assert held.status == Reservation.Status.PENDING
    before = sorted(
        ReservationSeat.objects.values_list("reservation_id", "session_seat_id", "is_active")
    )
    with pytest.raises(SeatsUnavailable) as refused:
        services.reservation_create(user=second_user, session_id=session.id, seat_ids=[c, b])
    assert refused.value.seat_ids == [b]
    assert Reservation.objects.count() == 1
    assert (
        sorted(
            ReservationSeat.objects.values_list("reservation_id", "session_seat_id", "is_active")
        )
        == before
    )
    seat_map = {e.id: e.status for e in seat_map_reads.seat_map(session)}
    assert (seat_map[a], seat_map[b], seat_map[c]) == ("held", "held", "available")

    # The free seat alone still goes through.
    services.reservation_create(user=second_user, session_id=session.id, seat_ids=[c])
    assert Reservation.objects.count() == 2
