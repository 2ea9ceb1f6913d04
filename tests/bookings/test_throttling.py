"""Rate limits on reservation writes. Rates are read at request time (apps/core/throttling.py);
the autouse cache fixture gives every test empty counters."""

from typing import Any

import pytest
from django.conf import settings as django_settings
from django.core.cache import cache
from django_redis import get_redis_connection

from apps.bookings import seat_map as seat_map_reads
from apps.bookings.models import Reservation, ReservationSeat
from apps.sessions.models import Session
from tests.assertions import assert_problem
from tests.conftest import client_for
from tests.factories import UserFactory
from tests.helpers import reserve, seat_ids

pytestmark = pytest.mark.django_db

URL = "/api/v1/reservations"


@pytest.fixture
def rates(settings):
    """Set some throttle rates for the test, keeping the others."""

    def set_rates(**overrides: str) -> None:
        rest = {**settings.REST_FRAMEWORK}
        rest["DEFAULT_THROTTLE_RATES"] = {**rest["DEFAULT_THROTTLE_RATES"], **overrides}
        settings.REST_FRAMEWORK = rest

    return set_rates


def snapshot(session: Session) -> dict[str, Any]:
    return {
        "reservations": sorted(Reservation.objects.values_list("id", "status")),
        "reserved_seats": sorted(
            ReservationSeat.objects.values_list("reservation_id", "session_seat_id", "is_active")
        ),
        "seat_map": {e.id: e.status for e in seat_map_reads.seat_map(session)},
    }


def assert_throttled(response) -> None:
    assert_problem(response, 429, "throttled")
    assert 1 <= int(response["Retry-After"]) <= 60


def test_third_reservation_in_a_minute_is_429(rates, user_api, session):
    rates(reservations="2/min")
    seats = seat_ids(session, 3)
    assert reserve(user_api, session.id, [seats[0]]).status_code == 201
    assert reserve(user_api, session.id, [seats[1]]).status_code == 201
    before = snapshot(session)

    response = reserve(user_api, session.id, [seats[2]])

    assert_throttled(response)
    assert snapshot(session) == before
    assert Reservation.objects.count() == 2


def test_refused_writes_count_too(rates, user_api, session):
    rates(reservations="2/min")
    seat = seat_ids(session, 1)[0]
    assert reserve(user_api, session.id, [seat, seat]).status_code == 400
    assert reserve(user_api, session.id, [seat, seat]).status_code == 400
    before = snapshot(session)

    assert_throttled(reserve(user_api, session.id, [seat]))
    assert snapshot(session) == before


def test_reads_are_not_counted_by_the_reservation_throttle(rates, user_api, session):
    rates(reservations="2/min")
    seats = seat_ids(session, 3)
    created = reserve(user_api, session.id, [seats[0]]).json()

    for _ in range(5):
        assert user_api.get(f"{URL}/{created['id']}").status_code == 200

    assert reserve(user_api, session.id, [seats[1]]).status_code == 201
    assert_throttled(reserve(user_api, session.id, [seats[2]]))
    # Reads still pass once writes are throttled.
    assert user_api.get(f"{URL}/{created['id']}").status_code == 200


def test_another_user_is_not_affected(rates, user_api, session):
    rates(reservations="2/min")
    seats = seat_ids(session, 4)
    assert reserve(user_api, session.id, [seats[0]]).status_code == 201
    assert reserve(user_api, session.id, [seats[1]]).status_code == 201
    assert_throttled(reserve(user_api, session.id, [seats[2]]))

    other = client_for(UserFactory())

    assert reserve(other, session.id, [seats[2]]).status_code == 201
    assert reserve(other, session.id, [seats[3]]).status_code == 201


def test_per_ip_throttle_spans_users(rates, session):
    rates(reservations_ip="2/min")
    seats = seat_ids(session, 4)
    first, second, third = (client_for(u) for u in UserFactory.create_batch(3))
    same_ip = {"REMOTE_ADDR": "10.0.0.1"}
    assert reserve(first, session.id, [seats[0]], **same_ip).status_code == 201
    assert reserve(second, session.id, [seats[1]], **same_ip).status_code == 201
    before = snapshot(session)

    assert_throttled(reserve(third, session.id, [seats[2]], **same_ip))
    assert snapshot(session) == before

    # The same user from another address is not limited by the first address's counter.
    assert reserve(third, session.id, [seats[2]], REMOTE_ADDR="10.0.0.2").status_code == 201


def test_a_request_refused_by_one_limit_counts_against_none(rates, session):
    """The limits of a view are checked together: a user over its own write limit does not use
    up the write quota of everyone else behind the same address."""
    rates(reservations="1/min", reservations_ip="3/min")
    seats = seat_ids(session, 4)
    greedy, others = client_for(UserFactory()), [client_for(u) for u in UserFactory.create_batch(2)]
    same_ip = {"REMOTE_ADDR": "10.0.0.9"}
    assert reserve(greedy, session.id, [seats[0]], **same_ip).status_code == 201
    for _ in range(4):
        assert_throttled(reserve(greedy, session.id, [seats[1]], **same_ip))

    assert reserve(others[0], session.id, [seats[1]], **same_ip).status_code == 201
    assert reserve(others[1], session.id, [seats[2]], **same_ip).status_code == 201
    # Three writes from the address went through: its limit is reached now.
    assert_throttled(reserve(client_for(UserFactory()), session.id, [seats[3]], **same_ip))


def test_user_throttle_counts_everything(rates, user_api, session):
    rates(user="3/min")
    seats = seat_ids(session, 2)
    created = reserve(user_api, session.id, [seats[0]]).json()
    assert user_api.get(f"{URL}/{created['id']}").status_code == 200
    assert user_api.get(f"{URL}/{created['id']}").status_code == 200
    before = snapshot(session)

    assert_throttled(user_api.get(f"{URL}/{created['id']}"))
    assert_throttled(reserve(user_api, session.id, [seats[1]]))
    assert snapshot(session) == before


def test_throttle_rates_come_from_documented_settings():
    """THROTTLE_* env vars land in settings and feed the base rates (test settings relax them)."""
    from cinema.settings import base

    assert base.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"] == {
        "anon": django_settings.THROTTLE_ANON,
        "user": django_settings.THROTTLE_USER,
        "reservations": django_settings.THROTTLE_RESERVATIONS,
        "reservations_ip": django_settings.THROTTLE_RESERVATIONS_IP,
    }
    for rate in base.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"].values():
        count, _, period = rate.partition("/")
        assert int(count) > 0
        assert period[0] in "smhd"


def test_retry_after_never_exceeds_the_window(rates, user, user_api, session):
    """Requests are timed by Redis's clock; should it step back (or a log hold times ahead of
    it), a client is still never told to wait longer than the window."""
    rates(reservations="2/min")
    redis = get_redis_connection("default")
    seconds, micros = redis.time()
    ahead = seconds + micros / 1e6 + 5
    redis.zadd(cache.make_key(f"throttle_reservations_{user.pk}"), {"a": ahead, "b": ahead})

    response = reserve(user_api, session.id, seat_ids(session, 1))

    assert_throttled(response)  # Retry-After within 1..60
