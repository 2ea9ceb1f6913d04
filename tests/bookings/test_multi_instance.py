"""Several app instances, one database and one Redis: no seat is ever held twice."""

from __future__ import annotations

import random
from collections import Counter

import pytest
import requests

from apps.bookings.models import Reservation, ReservationSeat
from tests.concurrency import free_port, run_together
from tests.factories import UserFactory, make_session
from tests.processes import login_over_http, web_server

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

CLIENTS = 50


def test_fifty_clients_through_two_web_instances_never_double_hold():
    session = make_session()
    seats = list(session.seats.order_by("id").values_list("id", flat=True)[:10])
    users = UserFactory.create_batch(CLIENTS)
    rng = random.Random(7)

    with web_server(free_port()) as first, web_server(free_port()) as second:
        bases = [first, second]
        tokens = [login_over_http(bases[i % 2], user.email) for i, user in enumerate(users)]
        wanted = [rng.sample(seats, rng.randint(1, 3)) for _ in users]

        def client(index: int):
            def call():
                return requests.post(
                    f"{bases[index % 2]}/api/v1/reservations",
                    json={"session": session.id, "seats": wanted[index]},
                    headers={"X-Session-Token": tokens[index]},
                    timeout=30,
                )

            return call

        responses = run_together([client(i) for i in range(CLIENTS)])

    assert all(isinstance(r, requests.Response) for r in responses), responses
    statuses = Counter(r.status_code for r in responses)
    assert set(statuses) <= {201, 409}, [
        r.text for r in responses if r.status_code not in (201, 409)
    ]
    assert statuses[201] >= 1
    for response in responses:
        if response.status_code == 409:
            assert response.json()["code"] == "seats_unavailable"

    # What the winners were told is exactly what the database holds, with no seat twice.
    won = [seat["id"] for r in responses if r.status_code == 201 for seat in r.json()["seats"]]
    assert len(won) == len(set(won))
    active = list(
        ReservationSeat.objects.filter(session_seat__session=session, is_active=True).values_list(
            "session_seat_id", flat=True
        )
    )
    assert sorted(active) == sorted(won)
    assert Reservation.objects.count() == statuses[201]
    # Both instances served winners and losers' requests (the load really was split).
    assert {r.url.split("/api/")[0] for r in responses} == set(bases)
