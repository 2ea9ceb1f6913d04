"""The read replica's router: which reads it sends to the replica, read-your-writes, and what a
replica failure costs. (tests/core/test_read_replica.py runs it against a real replica.)"""

from __future__ import annotations

import json
import time

import pytest
from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, InterfaceError, OperationalError, ProgrammingError

from apps.catalog.models import Movie
from apps.core import db_router
from apps.core.db_router import REPLICA, ReplicaRouter, forget_writes, read_from_replica
from tests.processes import manage, process_env

router = ReplicaRouter()


@pytest.fixture(autouse=True)
def replica(monkeypatch, settings):
    """A replica configured and up, and a request that has written nothing yet."""
    monkeypatch.setattr(db_router, "replica_configured", lambda: True)
    monkeypatch.setattr(db_router, "_down_until", 0.0)
    settings.DATABASE_REPLICA_RETRY_SECONDS = 5.0
    forget_writes()
    yield
    forget_writes()


def where_reads_go() -> str:
    return router.db_for_read(Movie)


def test_reads_and_writes_go_to_the_primary_unless_a_view_asks_for_the_replica():
    assert where_reads_go() == DEFAULT_DB_ALIAS
    assert router.db_for_write(Movie) == DEFAULT_DB_ALIAS


def test_a_replica_read_reads_from_the_replica_and_writes_to_the_primary():
    def read() -> tuple[str, str]:
        return where_reads_go(), router.db_for_write(Movie)

    assert read_from_replica(read) == (REPLICA, DEFAULT_DB_ALIAS)


def test_after_a_write_the_reads_of_the_request_follow_it_to_the_primary():
    def write_then_read() -> tuple[str, str]:
        before = where_reads_go()
        router.db_for_write(Movie)
        return before, where_reads_go()

    assert read_from_replica(write_then_read) == (REPLICA, DEFAULT_DB_ALIAS)
    # Also for a write earlier in the request, before its replica read began...
    assert read_from_replica(where_reads_go) == DEFAULT_DB_ALIAS
    # ... until the next request starts.
    forget_writes()
    assert read_from_replica(where_reads_go) == REPLICA


@pytest.mark.parametrize("error", [OperationalError, InterfaceError])
def test_a_replica_failure_is_served_by_the_primary_and_the_replica_rests(settings, error):
    settings.DATABASE_REPLICA_RETRY_SECONDS = 0.2
    tried: list[str] = []

    def read() -> str:
        alias = where_reads_go()
        tried.append(alias)
        if alias == REPLICA:
            raise error("connection refused")
        return "rows"

    assert read_from_replica(read) == "rows"
    assert tried == [REPLICA, DEFAULT_DB_ALIAS]
    # The next reads skip the replica at once, without waiting for it to fail again...
    assert read_from_replica(where_reads_go) == DEFAULT_DB_ALIAS
    # ... until the retry interval is over.
    time.sleep(0.25)
    assert read_from_replica(where_reads_go) == REPLICA


def test_a_failure_of_the_primary_is_not_retried_nor_blamed_on_the_replica():
    runs: list[str] = []

    def read() -> None:
        router.db_for_write(Movie)
        runs.append(where_reads_go())
        raise OperationalError("the primary is gone")

    with pytest.raises(OperationalError):
        read_from_replica(read)
    assert runs == [DEFAULT_DB_ALIAS]
    assert db_router.replica_up()


def test_an_error_that_is_no_outage_is_raised_and_leaves_the_replica_up():
    def read() -> None:
        where_reads_go()
        raise ProgrammingError("column does not exist")

    with pytest.raises(ProgrammingError):
        read_from_replica(read)
    assert db_router.replica_up()


def test_the_replica_takes_no_migrations_and_rows_of_both_may_relate():
    assert router.allow_migrate(REPLICA, "catalog") is False
    assert router.allow_migrate(DEFAULT_DB_ALIAS, "catalog") is None
    from_replica, from_primary = Movie(), Movie()
    from_replica._state.db, from_primary._state.db = REPLICA, DEFAULT_DB_ALIAS
    assert router.allow_relation(from_replica, from_primary) is True


def test_without_a_replica_nothing_changes(monkeypatch):
    monkeypatch.undo()  # the real `replica_configured`: the test settings name no replica
    assert REPLICA not in settings.DATABASES
    assert not settings.DATABASE_ROUTERS
    assert read_from_replica(lambda: "rows") == "rows"


def test_the_replica_url_adds_the_alias_the_router_and_a_short_connect_timeout():
    script = (
        "import json; from django.conf import settings as s; r = s.DATABASES['replica']; "
        "print(json.dumps([r['HOST'], r['PORT'], r['NAME'], r['OPTIONS'], r['TEST'], "
        "s.DATABASE_ROUTERS]))"
    )
    env = process_env(DATABASE_REPLICA_URL="postgres://reader@10.0.0.2:5433/cinema")
    found = manage("shell", "-c", script, env=env, timeout=60)
    assert found.returncode == 0, found.stderr
    host, port, name, options, test, routers = json.loads(found.stdout.splitlines()[-1])
    assert (host, port, name) == ("10.0.0.2", 5433, "cinema")
    assert options == {"connect_timeout": 2, "server_side_binding": True, "prepare_threshold": 2}
    assert test["MIRROR"] == "default"
    assert routers == ["apps.core.db_router.ReplicaRouter"]
