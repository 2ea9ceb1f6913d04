"""What is left to save on a reservation: the most each remaining lever could take off scenario
(a)'s cost, measured on this machine rather than guessed.

    .venv/bin/python -m bench.reservation_floor

It recreates the benchmark's database (BENCH_DB) and Redis database, like `make bench`, then, in
this one process and with nothing else running:
- makes BENCH_FLOOR_RESERVATIONS (1,500) uncontended reservations of one seat through the app's
  whole request stack (Django's test client: every middleware, DRF, the view, the commit hooks),
  and reports the CPU each costs this process, its PostgreSQL backend and Redis, its SQL
  statements (BEGIN and COMMIT included) and its Redis commands (from Redis's own count);
- measures the CPU the garbage collector took during those reservations, as Python runs it by
  default and with the start-up objects frozen (`gc.freeze`) and a gen-0 threshold of 20,000,
  alternating the two settings block by block so that both see the same machine;
- measures what a round trip costs: a parameterised statement, a transaction's BEGIN and
  COMMIT, a Redis command (this process's CPU and Redis's); and the JSON a reservation writes;
- measures PostgreSQL's own cost per statement with pgbench (its client is C): five trivial
  statements in a transaction against the same five run by one PL/pgSQL function call.

From those it bounds the levers left (docs/performance.md, "What is left of (a)"): the
reservation as one database function (every round trip but one gone, BEGIN and COMMIT with
them), the collector tuned, two Redis round trips fewer, and JSON for free. Each bound is the
most the lever could save, never what it would: the statements' own work stays. It reports
figures and never fails on a time.
"""

from __future__ import annotations

import gc
import json
import os
import re
import statistics
import subprocess
import tempfile
import time
import uuid
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from . import harness
from .harness import DB_NAME, log

RESERVATIONS = int(os.environ.get("BENCH_FLOOR_RESERVATIONS", "1500"))
BLOCKS = 6  # alternating collector settings, half of them each
ROUND_TRIPS = int(os.environ.get("BENCH_FLOOR_ROUND_TRIPS", "3000"))
PGBENCH_SECONDS = int(os.environ.get("BENCH_FLOOR_PGBENCH_SECONDS", "5"))
TUNED_THRESHOLD = (20000, 20, 20)
_RUNS = 3  # of each round-trip loop, whose median counts

_TRIVIAL_STATEMENTS = [f"SELECT {n};" for n in range(1, 5)]
_FUNCTION = (
    "CREATE OR REPLACE FUNCTION bench_floor_five() RETURNS int LANGUAGE plpgsql AS $$ "
    "DECLARE x int; BEGIN PERFORM set_config('lock_timeout', '3000ms', true); "
    + " ".join(f"SELECT {n} INTO x;" for n in range(1, 5))
    + " RETURN x; END $$"
)


@dataclass
class Floor:
    reservations: int
    cpu_us: float  # this process's CPU per reservation, collector as Python sets it
    postgres_us: float  # the CPU of this process's PostgreSQL backend per reservation
    redis_server_us: float  # Redis's CPU per reservation
    statements: float  # SQL statements per reservation, BEGIN and COMMIT included
    redis_commands: float
    gc_default_us: float  # the collector's CPU per reservation
    gc_tuned_us: float
    statement_us: float  # this process's CPU per parameterised statement round trip
    begin_commit_us: float  # this process's CPU for a transaction's BEGIN and COMMIT
    redis_us: float  # this process's CPU per Redis command round trip
    redis_round_trip_server_us: float  # Redis's CPU per command round trip
    json_us: float  # this process's CPU for the answer's and the event's JSON
    pg_transaction_us: float  # pgbench: five statements in BEGIN/COMMIT, latency
    pg_function_us: float  # pgbench: the same five in one function call, latency

    @property
    def total_us(self) -> float:
        return self.cpu_us + self.postgres_us + self.redis_server_us

    @property
    def pg_statement_us(self) -> float:
        """PostgreSQL and the protocol per statement round trip (six saved by the function)."""
        return (self.pg_transaction_us - self.pg_function_us) / 6

    @property
    def function_bound_us(self) -> float:
        """The most one function call instead of the reservation's statements saves: every
        round trip but one, on both ends."""
        saved = self.statements - 3  # BEGIN and COMMIT are counted apart; one call remains
        return (
            saved * self.statement_us
            + self.begin_commit_us
            + (self.statements - 1) * self.pg_statement_us
        )

    @property
    def gc_bound_us(self) -> float:
        return self.gc_default_us - self.gc_tuned_us

    def report(self) -> str:
        bounds = [
            ("the reservation as one database function", self.function_bound_us),
            ("the collector frozen and tuned", self.gc_bound_us),
            (
                "two Redis round trips fewer (the throttle with the seat keys, the two after "
                "the commit as one)",
                2 * (self.redis_us + self.redis_round_trip_server_us),
            ),
            ("a JSON encoder that took no time at all", self.json_us),
        ]
        lines = [
            f"{self.reservations} reservations in process, CPU of each: this process "
            f"{self.cpu_us:.0f} µs, its PostgreSQL backend {self.postgres_us:.0f} µs, Redis "
            f"{self.redis_server_us:.0f} µs: {self.total_us:.0f} µs in all. "
            f"{self.statements:.1f} SQL statements (BEGIN and COMMIT included), "
            f"{self.redis_commands:.1f} Redis commands (those its scripts run included).",
            f"Garbage collector: {self.gc_default_us:.0f} µs a reservation as Python sets it, "
            f"{self.gc_tuned_us:.0f} µs frozen with a gen-0 threshold of {TUNED_THRESHOLD[0]:,}.",
            f"Round trips, this process's CPU: a statement {self.statement_us:.0f} µs, "
            f"BEGIN and COMMIT {self.begin_commit_us:.0f} µs, a Redis command "
            f"{self.redis_us:.0f} µs (and {self.redis_round_trip_server_us:.0f} µs of Redis's).",
            f"PostgreSQL (pgbench, one client): five statements in a transaction "
            f"{self.pg_transaction_us:.0f} µs, the same in one function call "
            f"{self.pg_function_us:.0f} µs: {self.pg_statement_us:.0f} µs a round trip.",
            "",
            "| lever | at most, µs a reservation | of its CPU in all |",
            "|---|---:|---:|",
        ]
        for name, micros in bounds:
            lines.append(f"| {name} | {micros:.0f} | {100 * micros / self.total_us:.1f} % |")
        total = sum(micros for _, micros in bounds)
        lines.append(f"| all of them | {total:.0f} | {100 * total / self.total_us:.1f} % |")
        return "\n".join(lines)


def _reserve_loop(count: int):
    """A function making one reservation through the whole request stack per call."""
    from django.test import Client

    fixtures = harness.Fixtures()
    pool = harness.SeatPool(fixtures, "floor")
    pool.top_up(count)
    clients = [
        Client(HTTP_X_SESSION_TOKEN=token, SERVER_NAME="127.0.0.1")
        for _, token in fixtures.users(16, "floor")
    ]
    made = 0

    def reserve() -> bytes:
        nonlocal made
        session_id, seat_id = pool.take()
        answer = clients[made % len(clients)].post(
            "/api/v1/reservations",
            data=json.dumps({"session": session_id, "seats": [seat_id]}),
            content_type="application/json",
        )
        if answer.status_code != 201:
            raise RuntimeError(f"reservation answered {answer.status_code}: {answer.content!r}")
        made += 1
        return answer.content

    return reserve


class _CollectorClock:
    """The CPU the cyclic garbage collector takes in this thread, from gc.callbacks."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self._started = 0.0

    def __call__(self, phase: str, info: dict) -> None:
        if phase == "start":
            self._started = time.thread_time()
        else:
            self.seconds += time.thread_time() - self._started


def _redis_commands() -> int:
    from django_redis import get_redis_connection

    return int(get_redis_connection("default").info("stats")["total_commands_processed"])


def _redis_cpu_seconds() -> float:
    from django_redis import get_redis_connection

    cpu = get_redis_connection("default").info("cpu")
    return float(cpu["used_cpu_user"]) + float(cpu["used_cpu_sys"])


def _backend_cpu_seconds() -> float:
    """The CPU of this process's PostgreSQL backend (same machine), from /proc."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        (pid,) = cursor.fetchone()
    return harness.proc_row(pid).ticks / os.sysconf("SC_CLK_TCK")


def _measure_reservations(count: int) -> dict[str, float]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    reserve = _reserve_loop(count + 60)
    for _ in range(50):  # warm-up: imports, caches, prepared statements
        reserve()
    with CaptureQueriesContext(connection) as queries:
        commands_before = _redis_commands()
        body = reserve()
        # Less the INFO call itself.
        redis_commands = _redis_commands() - commands_before - 1
    statements = len(queries.captured_queries)

    default_threshold = gc.get_threshold()
    clock = _CollectorClock()
    gc.callbacks.append(clock)
    cpu = {False: 0.0, True: 0.0}
    postgres = redis = 0.0
    collector = {False: 0.0, True: 0.0}
    made = {False: 0, True: 0}
    try:
        for block in range(BLOCKS):
            tuned = block % 2 == 1
            if tuned:
                gc.freeze()
                gc.set_threshold(*TUNED_THRESHOLD)
            else:
                gc.unfreeze()
                gc.set_threshold(*default_threshold)
            gc.collect()
            clock.seconds = 0.0
            backend, redis_cpu = _backend_cpu_seconds(), _redis_cpu_seconds()
            started = time.process_time()
            for _ in range(count // BLOCKS):
                reserve()
            cpu[tuned] += time.process_time() - started
            if not tuned:
                postgres += _backend_cpu_seconds() - backend
                redis += _redis_cpu_seconds() - redis_cpu
            collector[tuned] += clock.seconds
            made[tuned] += count // BLOCKS
    finally:
        gc.callbacks.remove(clock)
        gc.unfreeze()
        gc.set_threshold(*default_threshold)
    micros = {tuned: 1e6 / made[tuned] for tuned in made}
    return {
        "cpu_us": cpu[False] * micros[False],
        "postgres_us": postgres * micros[False],
        "redis_server_us": redis * micros[False],
        "statements": float(statements),
        "redis_commands": float(redis_commands),
        "gc_default_us": collector[False] * micros[False],
        "gc_tuned_us": collector[True] * micros[True],
        "json_us": _json_us(json.loads(body)),
    }


def _json_us(answer: dict) -> float:
    """This process's CPU for the JSON a reservation writes: its answer, through DRF's renderer,
    and its outbox event's data, through Django's encoder, as the app writes them."""
    from django.core.serializers.json import DjangoJSONEncoder
    from django.utils.dateparse import parse_datetime
    from rest_framework.renderers import JSONRenderer

    renderer = JSONRenderer()
    event = {
        "reservation_id": uuid.UUID(answer["id"]),
        "session_id": answer["session"],
        "user_id": 1,
        "seat_ids": [seat["id"] for seat in answer["seats"]],
        "expires_at": parse_datetime(answer["expires_at"]),
        "total": Decimal(answer["total"]),
    }
    return _per_call(lambda: (renderer.render(answer), json.dumps(event, cls=DjangoJSONEncoder)))


def _per_call(function, count: int = ROUND_TRIPS) -> float:
    """This process's CPU per call, the median of `_RUNS` runs, in µs."""
    runs = []
    for _ in range(_RUNS):
        started = time.process_time()
        for _ in range(count):
            function()
        runs.append((time.process_time() - started) * 1e6 / count)
    return statistics.median(runs)


def _measure_round_trips() -> tuple[float, float, float, float]:
    from django.db import connection, transaction
    from django_redis import get_redis_connection

    with connection.cursor() as cursor:

        def statement() -> None:
            cursor.execute("SELECT set_config('lock_timeout', %s, true)", ["3000ms"])

        statement_us = _per_call(statement)

    def transaction_of_one() -> None:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SELECT set_config('lock_timeout', %s, true)", ["3000ms"])

    begin_commit_us = _per_call(transaction_of_one) - statement_us
    redis = get_redis_connection("default")
    server_before = _redis_cpu_seconds()
    redis_us = _per_call(lambda: redis.get("bench:floor"))
    redis_server_us = (_redis_cpu_seconds() - server_before) * 1e6 / (_RUNS * ROUND_TRIPS)
    return statement_us, begin_commit_us, redis_us, redis_server_us


def _pgbench_latency_us(script: str) -> float:
    with tempfile.NamedTemporaryFile("w", suffix=".sql", delete=False) as file:
        file.write(script)
    try:
        result = subprocess.run(
            [
                "pgbench", "-h", "127.0.0.1", "-U", "postgres", "-n", "-M", "prepared",
                "-c", "1", "-j", "1", "-T", str(PGBENCH_SECONDS), "-f", file.name, DB_NAME,
            ],
            check=True,
            capture_output=True,
            text=True,
        )  # fmt: skip
    finally:
        Path(file.name).unlink()
    match = re.search(r"latency average = ([\d.]+) ms", result.stdout)
    if match is None:
        raise RuntimeError(f"pgbench printed no latency:\n{result.stdout}")
    return float(match.group(1)) * 1000


def _measure_postgres() -> tuple[float, float]:
    harness.psql(_FUNCTION, DB_NAME)
    statements = "BEGIN;\nSELECT set_config('lock_timeout', '3000ms', true);\n"
    statements += "\n".join(_TRIVIAL_STATEMENTS) + "\nCOMMIT;\n"
    transaction_us, function_us = [], []
    try:
        for _ in range(2):  # alternated: the machine's speed drifts over seconds
            transaction_us.append(_pgbench_latency_us(statements))
            function_us.append(_pgbench_latency_us("SELECT bench_floor_five();\n"))
    finally:
        harness.psql("DROP FUNCTION bench_floor_five()", DB_NAME)
    return statistics.mean(transaction_us), statistics.mean(function_us)


def measure(reservations: int = RESERVATIONS) -> Floor:
    harness.recreate_database()
    harness.flush_redis()
    harness.configure()
    log(f"floor: {reservations} reservations in process")
    in_process = _measure_reservations(reservations)
    log("floor: round trips")
    statement_us, begin_commit_us, redis_us, redis_round_trip_server_us = _measure_round_trips()
    log("floor: pgbench")
    pg_transaction_us, pg_function_us = _measure_postgres()
    return Floor(
        reservations=reservations,
        **in_process,
        statement_us=statement_us,
        begin_commit_us=begin_commit_us,
        redis_us=redis_us,
        redis_round_trip_server_us=redis_round_trip_server_us,
        pg_transaction_us=pg_transaction_us,
        pg_function_us=pg_function_us,
    )


if __name__ == "__main__":
    print(measure().report())
