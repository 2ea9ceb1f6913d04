"""`manage.py create_database` (run by `make run`): creates the configured database once."""

from __future__ import annotations

import uuid
from io import StringIO

import psycopg
import pytest
from django.core.management import call_command
from django.db import connections


@pytest.fixture
def missing_database():
    """Point the default connection's settings at a database that does not exist yet."""
    settings_dict = connections["default"].settings_dict
    original = settings_dict["NAME"]
    name = f"cinema_created_{uuid.uuid4().hex[:8]}"
    settings_dict["NAME"] = name
    try:
        yield name
    finally:
        settings_dict["NAME"] = original
        params = connections["default"].get_connection_params()
        with psycopg.connect(**{**params, "dbname": "postgres"}, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}"')


def _exists(name: str) -> bool:
    params = connections["default"].get_connection_params()
    with psycopg.connect(**{**params, "dbname": "postgres"}, autocommit=True) as conn:
        return bool(conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone())


def test_creates_a_missing_database_then_leaves_it_alone(missing_database):
    out = StringIO()
    call_command("create_database", stdout=out)
    assert _exists(missing_database)
    assert f"created database {missing_database}" in out.getvalue()

    out = StringIO()
    call_command("create_database", stdout=out)
    assert f"database {missing_database} exists" in out.getvalue()
