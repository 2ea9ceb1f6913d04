"""The seat map is served from Redis between changes, and never says anything stale.

A write (hold, cancel, payment) commits, then moves the session's version on; a hold's deadline
drops the entry by itself. These tests read through the cache while it is being written to, from
other threads and other server processes, and through a Redis that is down or hung.
"""

from __future__ import annotations

import json
import threading
import time
from datetime import datetime

import pytest
import requests
from django.utils import timezone
from rest_framework.test import APIClient

from apps.bookings import seat_map_cache, services
from apps.bookings.seat_map import seat_map_json
from bench.tokens import session_token_for
from tests.concurrency import free_port
from tests.factories import UserFactory, make_session
from tests.processes import web_server

pytestmark = pytest.mark.django_db(transaction=True)


def _status_of(body: bytes | dict | list, seat_id: int) -> str:
    entries = body if isinstance(body, list) else json.loads(body)
    return next(entry["status"] for entry in entries if entry["id"] == seat_id)


@pytest.mark.slow
def test_reads_right_after_each_write_see_it_while_other_clients_fill_the_cache():
    """Writes through one instance, checks through the other, while six readers on both keep
    putting maps in the cache: every check made after a write's answer must already see it."""
    session = make_session()
    seat = session.seats.order_by("id").values_list("id", flat=True)[0]
    token = session_token_for(UserFactory())
    headers = {"X-Session-Token": token}
    rounds = 15
    stop = threading.Event()
    reader_errors: list[str] = []

    with web_server(free_port()) as writer_base, web_server(free_port()) as reader_base:
        seats_urls = [
            f"{base}/api/v1/sessions/{session.id}/seats" for base in (writer_base, reader_base)
        ]

        def reader(url: str) -> None:
            with requests.Session() as http:
                while not stop.is_set():
                    response = http.get(url, timeout=10)
                    if response.status_code != 200:
                        reader_errors.append(response.text)

        readers = [threading.Thread(target=reader, args=(seats_urls[i % 2],)) for i in range(6)]
        for thread in readers:
            thread.start()
        seen: list[tuple[str, str]] = []
        try:
            with requests.Session() as http:
                for index in range(rounds):
                    created = http.post(
                        f"{writer_base}/api/v1/reservations",
                        json={"session": session.id, "seats": [seat]},
                        headers=headers,
                        timeout=10,
                    )
                    assert created.status_code == 201, created.text
                    seen.append(
                        ("held", _status_of(http.get(seats_urls[1], timeout=10).content, seat))
                    )
                    reservation = created.json()["id"]
                    if index == rounds - 1:
                        paid = http.post(
                            f"{writer_base}/api/v1/reservations/{reservation}/payment",
                            json={"token": "tok_visa"},
                            headers=headers,
                            timeout=10,
                        )
                        assert paid.status_code == 201, paid.text
                        expected = "sold"
                    else:
                        cancelled = http.delete(
                            f"{writer_base}/api/v1/reservations/{reservation}",
                            headers=headers,
                            timeout=10,
                        )
                        assert cancelled.status_code == 204, cancelled.text
                        expected = "available"
                    seen.append(
                        (expected, _status_of(http.get(seats_urls[1], timeout=10).content, seat))
                    )
        finally:
            stop.set()
            for thread in readers:
                thread.join(30)

    assert not reader_errors
    assert [got for _, got in seen] == [want for want, _ in seen]


def test_a_cached_hold_reads_as_free_from_its_deadline_on(settings):
    """The entry holding the map with the hold in it is gone at the deadline: answers that came
    back before it say held, requests sent after it say available."""
    settings.RESERVATION_TTL_SECONDS = 1
    session = make_session()
    seat = session.seats.order_by("id").values_list("id", flat=True)[0]
    client = APIClient()
    client.force_authenticate(UserFactory())
    created = client.post("/api/v1/reservations", {"session": session.id, "seats": [seat]})
    assert created.status_code == 201
    deadline = datetime.fromisoformat(created.json()["expires_at"])
    url = f"/api/v1/sessions/{session.id}/seats"

    samples = []
    # Until a few requests went out after the deadline (a slow machine may stall one of them).
    give_up = deadline + timezone.timedelta(seconds=10)
    while sum(1 for sent, _, _ in samples if sent >= deadline) < 5 and timezone.now() < give_up:
        sent = timezone.now()
        status = _status_of(client.get(url).json(), seat)
        samples.append((sent, timezone.now(), status))
        time.sleep(0.005)

    assert sum(1 for s in samples if s[1] < deadline) >= 10  # the cache was really read from
    assert all(status == "held" for _, answered, status in samples if answered < deadline)
    assert all(status == "available" for sent, _, status in samples if sent >= deadline)
    assert any(sent >= deadline for sent, _, _ in samples)


def test_a_map_built_before_a_write_is_never_served_after_it():
    """A reader that read the version, then built the map from a snapshot taken before a hold
    committed, stores it too late: the version has moved on and nobody is served it."""
    session = make_session()
    seat = session.seats.order_by("id").values_list("id", flat=True)[0]
    before = seat_map_cache.read(session.id)
    stale = seat_map_json(session.id)  # built (and cached) while the seat is free
    assert _status_of(stale, seat) == "available"

    services.reservation_create(user=UserFactory(), session_id=session.id, seat_ids=[seat])
    seat_map_cache.store(
        session.id, before, stale, '"stale"', valid_until=None
    )  # the slow reader lands

    assert seat_map_cache.read(session.id).body is None
    assert _status_of(seat_map_json(session.id), seat) == "held"


def test_the_seat_map_is_right_with_redis_down_or_hung(redis_mode):
    session = make_session()
    seat = session.seats.order_by("id").values_list("id", flat=True)[0]
    user = UserFactory()
    client = APIClient()
    client.force_authenticate(user)
    url = f"/api/v1/sessions/{session.id}/seats"
    assert _status_of(client.get(url).json(), seat) == "available"

    created = client.post("/api/v1/reservations", {"session": session.id, "seats": [seat]})
    assert created.status_code == 201
    assert _status_of(client.get(url).json(), seat) == "held"
    assert client.delete(f"/api/v1/reservations/{created.json()['id']}").status_code == 204
    assert _status_of(client.get(url).json(), seat) == "available"


@pytest.mark.parametrize("pk", ["999999999", "abc", "99999999999999999999999", "²"])
def test_unknown_sessions_answer_404(pk):
    response = APIClient().get(f"/api/v1/sessions/{pk}/seats")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("application/problem+json")


def test_readers_arriving_together_after_a_change_build_the_map_once(monkeypatch):
    """No stampede: of twenty readers that find the entry gone, one builds, the others wait."""
    from apps.bookings import seat_map as seat_map_reads
    from tests.concurrency import run_together

    session = make_session()
    seat = session.seats.order_by("id").values_list("id", flat=True)[0]
    services.reservation_create(user=UserFactory(), session_id=session.id, seat_ids=[seat])
    builds = []
    build = seat_map_reads._seat_map

    def counted(session):
        builds.append(session.id)
        time.sleep(0.05)  # a build under load: long enough for every reader to arrive
        return build(session)

    monkeypatch.setattr(seat_map_reads, "_seat_map", counted)
    bodies = run_together([lambda: seat_map_json(session.id)] * 20)

    assert builds == [session.id]
    assert all(body == bodies[0] for body in bodies)
    assert _status_of(bodies[0], seat) == "held"


@pytest.mark.timeout(20)
def test_readers_of_a_session_that_does_not_exist_are_not_kept_waiting(monkeypatch):
    """The builder finds no session and says so: the others answer 404 at once instead of
    waiting out the build (made an hour long here, so a waiter left hanging fails the test)."""
    from tests.concurrency import run_together

    monkeypatch.setattr(seat_map_cache, "_BUILD_WAIT_SECONDS", 3600)
    assert run_together([lambda: seat_map_json(987654321)] * 10, timeout=15) == [None] * 10
