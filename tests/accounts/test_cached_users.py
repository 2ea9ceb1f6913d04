"""Session tokens resolve to users read through the cache, which never outlives a change."""

from __future__ import annotations

import socket

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.conftest import client_for, point_cache_at
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

MINE = "/api/v1/me/purchases"


def test_an_authenticated_request_reads_no_user_or_session_row(user):
    client = client_for(user)
    assert client.get(MINE).status_code == 200  # fills the cache

    with CaptureQueriesContext(connection) as queries:
        assert client.get(MINE).status_code == 200
    tables = " ".join(query["sql"] for query in queries.captured_queries)
    assert "accounts_user" not in tables
    assert "django_session" not in tables


def test_a_deactivated_user_is_refused_at_once(user):
    client = client_for(user)
    assert client.get(MINE).status_code == 200

    user.is_active = False
    user.save()

    assert client.get(MINE).status_code == 401


def test_a_password_change_ends_the_other_sessions_at_once(user):
    client = client_for(user)
    assert client.get(MINE).status_code == 200

    user.set_password("another-long-passphrase")
    user.save()

    assert client.get(MINE).status_code == 401


def test_staff_rights_taken_away_apply_to_the_next_request(staff):
    client = client_for(staff)
    assert client.get("/api/v1/users/1/purchases").status_code in (200, 404)

    staff.groups.clear()  # no save of the user row: permissions are never read from the cache

    assert client.get("/api/v1/users/1/purchases").status_code == 403


def test_a_role_given_applies_to_the_next_request(user):
    from apps.accounts.roles import BOX_OFFICE, role_group

    client = client_for(user)
    assert client.get("/api/v1/users/1/purchases").status_code == 403

    user.groups.add(role_group(BOX_OFFICE))

    assert client.get("/api/v1/users/1/purchases").status_code in (200, 404)


def test_users_are_read_from_the_database_when_redis_is_down(user, redis_mode):
    client = client_for(user)
    assert client.get(MINE).status_code == 200
    assert client.get(MINE).status_code == 200


def _connection_came(server: socket.socket) -> bool:
    try:
        server.accept()[0].close()
    except BlockingIOError:
        return False
    return True


def test_a_new_user_costs_no_trip_to_redis_and_a_changed_one_does(settings):
    # A Redis that never answers, whose connections the test sees: creating a user must not
    # wait on it (nothing holds a copy of a new row), changing one must tell it.
    with socket.create_server(("127.0.0.1", 0)) as server:
        server.setblocking(False)
        point_cache_at(settings, f"redis://127.0.0.1:{server.getsockname()[1]}/0")

        user = UserFactory()
        assert not _connection_came(server)

        user.first_name = "Changed"
        user.save()
        assert _connection_came(server)
