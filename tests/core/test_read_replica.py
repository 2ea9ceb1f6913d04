"""A web instance in front of a real primary and its streaming replica (a pair of this test's own,
tests/faults/postgres_replica.py): the public catalogue is read from the replica; writes, seat
maps and staff reads are not. With the replica stopped or not answering, every endpoint still
answers from the primary, and the replica serves again once it is back."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import pytest
import requests
from django.utils import timezone

from apps.catalog.models import Movie
from tests.concurrency import blackhole_server, free_port
from tests.factories import PASSWORD
from tests.faults.postgres_replica import ReplicatedPostgres, replicated_postgres
from tests.processes import login_over_http, manage, process_env, web_server

pytestmark = pytest.mark.slow

DATABASE = "cinema"
STAFF_EMAIL = "staff@example.com"
RETRY_SECONDS = 1.0
# One request, even the one that finds the replica gone and is served again by the primary.
REQUEST_BOUND_SECONDS = 3.0


@pytest.fixture(scope="module")
def postgres() -> Iterator[ReplicatedPostgres]:
    """The private pair: the app's schema and a staff account on the primary, replayed."""
    with replicated_postgres() as pair:
        pair.create_database(DATABASE)
        env = process_env(
            DATABASE_URL=pair.primary.url(DATABASE),
            DJANGO_SUPERUSER_EMAIL=STAFF_EMAIL,
            DJANGO_SUPERUSER_PASSWORD=PASSWORD,
        )
        for command in (["migrate", "--noinput", "-v", "0"], ["createsuperuser", "--noinput"]):
            done = manage(*command, env=env, timeout=180)
            assert done.returncode == 0, done.stderr
        pair.wait_for_replay()
        yield pair


@contextmanager
def app(postgres: ReplicatedPostgres, replica_url: str | None = None) -> Iterator[str]:
    """A web instance on the private primary, reading the catalogue from the replica."""
    with web_server(
        free_port(),
        DATABASE_URL=postgres.primary.url(DATABASE),
        DATABASE_REPLICA_URL=replica_url or postgres.replica.url(DATABASE),
        DATABASE_REPLICA_RETRY_SECONDS=str(RETRY_SECONDS),
        # As deployed: each thread keeps its connections, so a stopped replica breaks open ones.
        DATABASE_CONN_MAX_AGE="60",
    ) as base:
        yield base


class Client:
    """Calls to the API of one web instance, as one user (or anonymous)."""

    def __init__(self, base: str, token: str | None = None) -> None:
        self.base = base
        self.headers = {"X-Session-Token": token} if token else {}

    def get(self, path: str) -> requests.Response:
        return requests.get(f"{self.base}/api/v1{path}", headers=self.headers, timeout=10)

    def post(self, path: str, body: dict[str, Any]) -> requests.Response:
        return requests.post(
            f"{self.base}/api/v1{path}", json=body, headers=self.headers, timeout=10
        )

    def created(self, path: str, body: dict[str, Any]) -> int:
        response = self.post(path, body)
        assert response.status_code == 201, response.text
        return response.json()["id"]


def staff(base: str) -> Client:
    return Client(base, login_over_http(base, STAFF_EMAIL))


def buyer(base: str) -> Client:
    response = requests.post(
        f"{base}/_allauth/app/v1/auth/signup",
        json={"email": f"buyer-{uuid.uuid4().hex[:8]}@example.com", "password": PASSWORD},
        timeout=10,
    )
    assert response.status_code == 200, response.text
    return Client(base, response.json()["meta"]["session_token"])


def new_catalogue(manager: Client) -> dict[str, int]:
    """A cinema, a room of 20 seats, a movie and a session of it tomorrow, through the API."""
    cinema = manager.created("/cinemas", {"name": f"Cine {uuid.uuid4().hex[:6]}", "city": "Recife"})
    room = manager.created(
        "/rooms", {"cinema": cinema, "name": "Sala 1", "rows": 4, "seats_per_row": 5}
    )
    movie = manager.created("/movies", {"title": "Bacurau", "duration_minutes": 131})
    starts_at = (timezone.now() + timedelta(days=1)).isoformat()
    session = manager.created(
        "/sessions", {"movie": movie, "room": room, "starts_at": starts_at, "price": "25.00"}
    )
    return {"cinema": cinema, "room": room, "movie": movie, "session": session}


def listed(client: Client, path: str) -> set[int]:
    response = client.get(f"{path}?page_size=100")
    assert response.status_code == 200, response.text
    return {item["id"] for item in response.json()["results"]}


def on_replica(postgres: ReplicatedPostgres, movie_id: int) -> bool:
    query = f"SELECT count(*) FROM {Movie._meta.db_table} WHERE id = %s"  # noqa: S608
    return postgres.replica.sql(query, [movie_id], database=DATABASE)[0][0] == 1


def test_the_catalogue_is_read_from_the_replica_and_decisions_from_the_primary(postgres):
    with app(postgres) as base:
        manager, customer, anonymous = staff(base), buyer(base), Client(base)
        old = new_catalogue(manager)
        postgres.wait_for_replay()
        assert old["movie"] in listed(anonymous, "/movies")

        postgres.pause_replay()
        try:
            # Written through the API while the replica replays nothing: on the primary only.
            new = new_catalogue(manager)
            assert not on_replica(postgres, new["movie"])

            # The public catalogue comes from the replica: not there yet.
            for client in (anonymous, customer):
                assert new["movie"] not in listed(client, "/movies")
                assert old["movie"] in listed(client, "/movies")
                assert client.get(f"/movies/{new['movie']}").status_code == 404
                assert new["session"] not in listed(client, "/sessions")
                assert new["cinema"] not in listed(client, "/cinemas")
                assert client.get(f"/rooms/{new['room']}").status_code == 404

            # Staff read the primary, and see what they just wrote.
            assert new["movie"] in listed(manager, "/movies")
            assert manager.get(f"/movies/{new['movie']}").status_code == 200
            assert new["session"] in listed(manager, "/sessions")

            # The seat map is live, from the primary; a hold is decided there too.
            seat_map = anonymous.get(f"/sessions/{new['session']}/seats")
            assert seat_map.status_code == 200, seat_map.text
            seats = [seat["id"] for seat in seat_map.json()]
            assert len(seats) == 20
            held = customer.post("/reservations", {"session": new["session"], "seats": seats[:2]})
            assert held.status_code == 201, held.text
            statuses = {
                s["id"]: s["status"]
                for s in anonymous.get(f"/sessions/{new['session']}/seats").json()
            }
            assert [statuses[seat] for seat in seats[:3]] == ["held", "held", "available"]
        finally:
            postgres.resume_replay()

        postgres.wait_for_replay()
        assert new["movie"] in listed(anonymous, "/movies")
        assert new["session"] in listed(anonymous, "/sessions")


def answers_everywhere(manager: Client, customer: Client, anonymous: Client) -> dict[str, float]:
    """Call every endpoint a visitor and a buyer use; each must answer 2xx within the bound.
    Returns the seconds each took."""
    shown = new_catalogue(manager)
    session = shown["session"]
    seat_map = anonymous.get(f"/sessions/{session}/seats")
    assert seat_map.status_code == 200, seat_map.text
    seat = seat_map.json()[0]["id"]
    calls = {
        "movies": lambda: anonymous.get("/movies"),
        "movie": lambda: anonymous.get(f"/movies/{shown['movie']}"),
        "cinemas": lambda: anonymous.get("/cinemas"),
        "cinema": lambda: anonymous.get(f"/cinemas/{shown['cinema']}"),
        "rooms": lambda: anonymous.get("/rooms"),
        "room": lambda: anonymous.get(f"/rooms/{shown['room']}"),
        "sessions": lambda: customer.get("/sessions"),
        "session": lambda: customer.get(f"/sessions/{session}"),
        "seat map": lambda: customer.get(f"/sessions/{session}/seats"),
        "reservation": lambda: customer.post(
            "/reservations", {"session": session, "seats": [seat]}
        ),
        "staff movies": lambda: manager.get("/movies"),
    }
    took = {}
    for name, call in calls.items():
        started = time.monotonic()
        response = call()
        took[name] = time.monotonic() - started
        assert 200 <= response.status_code < 300, (name, response.status_code, response.text)
        assert took[name] < REQUEST_BOUND_SECONDS, (name, took[name])
    # Served by the primary: what was written a moment ago is there.
    assert shown["movie"] in listed(anonymous, "/movies")
    return took


def test_with_the_replica_stopped_the_primary_serves_and_the_replica_comes_back(postgres):
    with app(postgres) as base:
        manager, customer, anonymous = staff(base), buyer(base), Client(base)
        # Replica connections are open (and kept, as deployed) when the replica crashes.
        for _ in range(20):
            assert anonymous.get("/movies").status_code == 200

        postgres.replica.stop()
        try:
            took = answers_everywhere(manager, customer, anonymous)
            # Long after the retry interval: the instance tries the replica again, and goes on.
            time.sleep(RETRY_SECONDS + 0.5)
            took_later = answers_everywhere(manager, customer, anonymous)
        finally:
            postgres.replica.start()
        print(
            "\nreplica stopped, slowest: "
            f"{max(took, key=took.get)} {max(took.values()):.2f} s; after the retry interval: "
            f"{max(took_later, key=took_later.get)} {max(took_later.values()):.2f} s"
        )

        # Back: once the retry interval is over, the catalogue is read from the replica again.
        postgres.wait_for_replay()
        time.sleep(RETRY_SECONDS + 0.5)
        postgres.pause_replay()
        try:
            movie = manager.created("/movies", {"title": "Aquarius", "duration_minutes": 145})
            assert movie not in listed(anonymous, "/movies")
            assert movie in listed(manager, "/movies")
        finally:
            postgres.resume_replay()


def test_a_replica_that_never_answers_costs_one_connect_timeout(postgres):
    with (
        blackhole_server() as port,
        app(postgres, replica_url=f"postgres://postgres@127.0.0.1:{port}/{DATABASE}") as base,
    ):
        anonymous = Client(base)
        started = time.monotonic()
        first = anonymous.get("/movies")
        waited = time.monotonic() - started
        assert first.status_code == 200, first.text
        # libpq's connect_timeout (2 s), then the primary answered.
        assert 1.5 < waited < 2 + REQUEST_BOUND_SECONDS, waited

        # Marked down: the next reads go straight to the primary.
        for _ in range(5):
            started = time.monotonic()
            assert anonymous.get("/movies").status_code == 200
            assert time.monotonic() - started < 1.0
        print(f"\nreplica not answering: first read {waited:.2f} s, then the primary at once")
