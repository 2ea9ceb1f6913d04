"""Fault: the Redis of the seat-lock fast path stops in the middle of a reservation burst and
comes back empty. The database alone decides meanwhile; afterwards Redis and the database agree."""

from __future__ import annotations

import itertools
import random
import threading
import time
from collections import Counter, defaultdict
from dataclasses import dataclass

import pytest
from django.utils import timezone

from apps.bookings.locks import seat_key
from apps.bookings.models import Reservation, ReservationSeat
from apps.bookings.seat_map import seat_map
from tests.concurrency import run_together
from tests.conftest import client_for
from tests.factories import UserFactory, make_session

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

TTL = 4
CLIENTS = 8
BEFORE_STOP = 0.6  # seconds of burst with Redis up, then down for OUTAGE, then up again
OUTAGE = 1.5
AFTER_RESTART = 0.8


@dataclass
class Call:
    kind: str  # "reserve" | "cancel"
    status: int
    started: float
    ended: float
    seats: list[int]
    body: dict


def test_redis_stopped_mid_burst_then_started_again(settings, private_redis):
    settings.RESERVATION_TTL_SECONDS = TTL
    session = make_session()  # 20 seats
    seats = list(session.seats.order_by("id").values_list("id", flat=True))
    clients = [client_for(user) for user in UserFactory.create_batch(CLIENTS)]
    done = threading.Event()
    outage: dict[str, float] = {}

    def client(index: int):
        api, rng = clients[index], random.Random(index)

        def run() -> list[Call]:
            calls: list[Call] = []
            mine: list[str] = []  # each client keeps at most one hold
            while not done.is_set():
                wanted = rng.sample(seats, rng.randint(1, 2))
                started = time.monotonic()
                response = api.post(
                    "/api/v1/reservations", {"session": session.id, "seats": wanted}
                )
                calls.append(
                    Call(
                        "reserve",
                        response.status_code,
                        started,
                        time.monotonic(),
                        wanted,
                        response.json(),
                    )
                )
                if response.status_code == 201:
                    mine.append(response.json()["id"])
                    # Give back the older hold, or half the time this one: seats change hands.
                    if len(mine) > 1 or rng.random() < 0.5:
                        started = time.monotonic()
                        cancel = api.delete(f"/api/v1/reservations/{mine.pop(0)}")
                        calls.append(
                            Call("cancel", cancel.status_code, started, time.monotonic(), [], {})
                        )
                time.sleep(rng.uniform(0, 0.01))
            return calls

        return run

    def conductor() -> list[Call]:
        time.sleep(BEFORE_STOP)
        private_redis.stop()
        outage["stopped"] = time.monotonic()
        time.sleep(OUTAGE)
        private_redis.start()  # same port, empty
        outage["started"] = time.monotonic()
        time.sleep(AFTER_RESTART)
        done.set()
        return []

    results = run_together([client(i) for i in range(CLIENTS)] + [conductor], timeout=60)

    for result in results:
        assert not isinstance(result, BaseException), result
    calls = [call for result in results for call in result]
    reserves = [c for c in calls if c.kind == "reserve"]
    cancels = [c for c in calls if c.kind == "cancel"]
    statuses = Counter(c.status for c in reserves)
    # No 5xx, no other error: every reservation is won (201) or refused as taken (409).
    assert set(statuses) <= {201, 409}, [c.body for c in reserves if c.status not in (201, 409)]
    assert {c.status for c in cancels} <= {204}, [c for c in cancels if c.status != 204]
    for call in reserves:
        if call.status == 409:
            assert call.body["code"] in ("seats_unavailable", "seats_busy"), call.body
    during = [c for c in reserves if outage["stopped"] < c.started and c.ended < outage["started"]]
    after = [c for c in reserves if c.started > outage["started"]]
    assert during, "no request ran while Redis was down"
    assert after, "no request ran after Redis came back"
    print(
        f"\nreservations: {dict(statuses)}; cancels: {len(cancels)}; during the outage: "
        f"{dict(Counter(c.status for c in during))}; after the restart: "
        f"{dict(Counter(c.status for c in after))}; slowest request during the outage: "
        f"{max(c.ended - c.started for c in during):.2f} s"
    )
    assert any(c.status == 201 for c in during), "the database alone did not serve any winner"

    # Every 201 is exactly one reservation, and what the winners were told is what it holds.
    won = {c.body["id"]: sorted(c.seats) for c in reserves if c.status == 201}
    reservations = {str(r.id): r for r in Reservation.objects.filter(session=session)}
    assert set(reservations) == set(won)
    for reservation_id, wanted in won.items():
        held = ReservationSeat.objects.filter(reservation_id=reservation_id)
        assert sorted(held.values_list("session_seat_id", flat=True)) == wanted

    # Exactly one winner per seat at any moment: a seat's holds follow each other in time, each
    # one closed before the next was made; at most one active hold per seat now.
    per_seat = defaultdict(list)
    for row in ReservationSeat.objects.filter(reservation__session=session).select_related(
        "reservation"
    ):
        per_seat[row.session_seat_id].append(row)
    for seat_id, rows in per_seat.items():
        rows.sort(key=lambda r: r.reservation.created_at)
        for earlier, later in itertools.pairwise(rows):
            assert not earlier.is_active, (seat_id, earlier, later)
            assert earlier.reservation.closed_at is not None
            assert earlier.reservation.closed_at <= later.reservation.created_at, (seat_id,)
        assert sum(r.is_active for r in rows) <= 1
    active = ReservationSeat.objects.filter(reservation__session=session, is_active=True)
    assert set(active.values_list("reservation__status", flat=True)) <= {"pending"}

    # Redis and the database agree: every seat key left belongs to the live hold of that seat,
    # and lives no longer than a hold.
    redis = private_redis.client()
    holder = {
        seat_id: str(reservation_id)
        for seat_id, reservation_id in active.values_list("session_seat_id", "reservation_id")
    }
    keys = {seat_key(session.id, seat_id): seat_id for seat_id in seats}
    for key in redis.scan_iter(match=f"cinema:seat:{{s{session.id}}}:*"):
        owner = redis.get(key)
        assert owner is not None
        assert holder.get(keys[key]) == owner, (key, owner, holder.get(keys[key]))
        assert 0 < redis.pttl(key) <= TTL * 1000

    # Past every hold's deadline, every seat the database calls free can be held again at once:
    # no stale key outlives its TTL.
    last_deadline = max(r.expires_at for r in Reservation.objects.filter(session=session))
    time.sleep(max(0.0, (last_deadline - timezone.now()).total_seconds()) + 0.2)
    assert {entry.status for entry in seat_map(session)} == {"available"}
    buyer = client_for(UserFactory())
    for half in (seats[:10], seats[10:]):
        response = buyer.post("/api/v1/reservations", {"session": session.id, "seats": half})
        assert response.status_code == 201, response.content
    assert {entry.status for entry in seat_map(session)} == {"held"}
