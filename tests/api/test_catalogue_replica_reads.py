"""Which endpoints ask for replica reads: the public catalogue's lists and details, for everyone
but staff; never a seat map, a write or anyone's purchases."""

from __future__ import annotations

import pytest

from apps.api import replica
from tests.conftest import client_for
from tests.factories import make_session
from tests.helpers import client_as, reserve, seat_ids

pytestmark = pytest.mark.django_db


@pytest.fixture
def replica_reads(monkeypatch) -> list[bool]:
    """Records each read a view runs through `read_from_replica` (and runs it)."""
    reads: list[bool] = []

    def recording(read):
        reads.append(True)
        return read()

    monkeypatch.setattr(replica, "read_from_replica", recording)
    return reads


def catalogue_paths(session) -> list[str]:
    room = session.room
    return [
        "/api/v1/movies",
        f"/api/v1/movies/{session.movie_id}",
        "/api/v1/cinemas",
        f"/api/v1/cinemas/{room.cinema_id}",
        "/api/v1/rooms",
        f"/api/v1/rooms/{room.id}",
        "/api/v1/sessions",
        f"/api/v1/sessions/{session.id}",
    ]


@pytest.mark.parametrize("who", ["anonymous", "user"])
def test_catalogue_reads_ask_for_the_replica(api, user, replica_reads, who):
    session = make_session()
    client = api if who == "anonymous" else client_for(user)
    for path in catalogue_paths(session):
        before = len(replica_reads)
        response = client.get(path)
        assert response.status_code == 200, (path, response.content)
        assert len(replica_reads) == before + 1, path


def test_staff_read_the_catalogue_from_the_primary(catalogue_manager, replica_reads):
    client = client_as(catalogue_manager)
    for path in catalogue_paths(make_session()):
        assert client.get(path).status_code == 200, path
    assert replica_reads == []


def test_seat_maps_writes_and_purchases_never_ask_for_the_replica(
    api, user, catalogue_manager, replica_reads
):
    session = make_session()
    assert api.get(f"/api/v1/sessions/{session.id}/seats").status_code == 200
    buyer = client_as(user)
    assert reserve(buyer, session.id, seat_ids(session, 1)).status_code == 201
    assert buyer.get("/api/v1/me/purchases").status_code == 200
    manager = client_as(catalogue_manager)
    created = manager.post("/api/v1/movies", {"title": "Novo", "duration_minutes": 90})
    assert created.status_code == 201, created.content
    assert (
        manager.patch(f"/api/v1/cinemas/{session.room.cinema_id}", {"city": "Recife"}).status_code
        == 200
    )
    assert replica_reads == []
