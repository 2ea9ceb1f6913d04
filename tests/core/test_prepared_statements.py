"""Statements reach PostgreSQL with their parameters apart, and a statement run again on a
connection is prepared there (DATABASE_PREPARE_THRESHOLD), so the hot path is parsed and planned
once per connection."""

from __future__ import annotations

import pytest
from django.db import connection

from apps.catalog.models import Movie
from tests.processes import manage, process_env

pytestmark = pytest.mark.django_db


def _prepared_statements() -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements")
        return [statement for (statement,) in cursor.fetchall()]


def test_a_statement_run_twice_is_prepared_on_the_server_with_its_parameters_apart():
    for title in ("Alpha", "Beta", "Gamma"):
        list(Movie.objects.filter(title=title).values_list("id", flat=True))

    lookups = [s for s in _prepared_statements() if Movie._meta.db_table in s and "title" in s]
    assert len(lookups) == 1, _prepared_statements()
    # One prepared statement serves the three titles: the value is a parameter, not SQL text.
    assert "$1" in lookups[0]
    assert "Alpha" not in lookups[0]


def test_an_empty_threshold_prepares_nothing():
    script = (
        "from django.db import connection as c; cur = c.cursor(); "
        "[cur.execute('SELECT %s::int', [n]) for n in range(5)]; "
        "cur.execute('SELECT count(*) FROM pg_prepared_statements'); "
        "print(cur.fetchone()[0])"
    )
    found = manage("shell", "-c", script, env=process_env(DATABASE_PREPARE_THRESHOLD=""))
    assert found.returncode == 0, found.stderr
    assert found.stdout.splitlines()[-1] == "0"
    # The same statement five times with the default threshold is prepared, so the count above
    # means something.
    found = manage("shell", "-c", script, env=process_env())
    assert found.returncode == 0, found.stderr
    assert int(found.stdout.splitlines()[-1]) >= 1
