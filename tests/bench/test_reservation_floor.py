"""bench/reservation_floor.py: the bounds it reports are sums of what it measured, and a short run
against the real services measures a real reservation through the whole stack."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import uuid

import pytest

from bench.reservation_floor import Floor
from tests.processes import ROOT

FLOOR = Floor(
    reservations=100,
    cpu_us=4000.0,
    postgres_us=1000.0,
    redis_server_us=300.0,
    statements=7.0,
    redis_commands=24.0,
    gc_default_us=70.0,
    gc_tuned_us=30.0,
    statement_us=40.0,
    begin_commit_us=120.0,
    redis_us=60.0,
    redis_round_trip_server_us=15.0,
    json_us=25.0,
    pg_transaction_us=200.0,
    pg_function_us=50.0,
)


def test_one_function_call_saves_at_most_every_round_trip_but_one_on_both_ends():
    # BEGIN and COMMIT apart, 5 statements become 1 call: 4 statements' round trips in Python;
    # 7 messages become 1 in PostgreSQL: 6 x (200 - 50) / 6.
    assert FLOOR.pg_statement_us == 25.0
    assert FLOOR.function_bound_us == 4 * 40.0 + 120.0 + 6 * 25.0


def test_the_report_gives_each_bound_and_their_sum_as_a_share_of_the_reservation():
    report = FLOOR.report()
    assert FLOOR.total_us == 5300.0
    rows = dict(re.findall(r"^\| ([^|]+) \| (\d+) \| [\d.]+ % \|$", report, re.MULTILINE))
    assert rows == {
        "the reservation as one database function": "430",
        "the collector frozen and tuned": "40",
        "two Redis round trips fewer (the throttle with the seat keys, the two after the "
        "commit as one)": "150",
        "a JSON encoder that took no time at all": "25",
        "all of them": "645",
    }
    assert "| all of them | 645 | 12.2 % |" in report


@pytest.mark.slow
def test_a_short_run_measures_real_reservations_and_cleans_up():
    database = f"cinema_floor_{uuid.uuid4().hex[:8]}"
    env = os.environ | {
        "BENCH_DB": database,
        "BENCH_REDIS_URL": "redis://127.0.0.1:6379/13",
        "BENCH_FLOOR_RESERVATIONS": "60",
        "BENCH_FLOOR_ROUND_TRIPS": "200",
        "BENCH_FLOOR_PGBENCH_SECONDS": "1",
    }

    def psql(sql: str, db: str) -> str:
        return subprocess.run(
            ["psql", "-h", "127.0.0.1", "-U", "postgres", "-d", db, "-qAtc", sql],
            capture_output=True, text=True, check=True,
        ).stdout  # fmt: skip

    try:
        run = subprocess.run(
            [sys.executable, "-m", "bench.reservation_floor"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert run.returncode == 0, run.stderr[-3000:]
        # The function pgbench called was the run's own, and it is gone.
        assert (
            psql("SELECT count(*) FROM pg_proc WHERE proname = 'bench_floor_five'", database)
            == "0\n"
        )
    finally:
        psql(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)", "postgres")
    report = run.stdout
    figures = re.search(
        r"this process (\d+) µs, its PostgreSQL backend (\d+) µs, Redis (\d+) µs: (\d+) µs in "
        r"all\. ([\d.]+) SQL statements",
        report,
    )
    assert figures, report
    web, postgres, redis, total, statements = map(float, figures.groups())
    assert web > 0
    assert postgres > 0
    assert total == pytest.approx(web + postgres + redis, abs=2)
    # The lock, the look at holds, the hold, its event, inside BEGIN and COMMIT.
    assert statements >= 6
    assert "| all of them |" in report
