"""The raw PostgreSQL ceiling of the reservation transaction: pgbench running reserve.sql against
the benchmark database, before the app stack starts (nothing else on the machine meanwhile)."""

from __future__ import annotations

import math
import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

from . import harness
from .harness import DB_NAME, PER_ROW, ROWS, log

SCRIPT = Path(__file__).with_name("reserve.sql")
CLIENTS = int(os.environ.get("BENCH_PGBENCH_CLIENTS", "8"))
THREADS = int(os.environ.get("BENCH_PGBENCH_THREADS", "2"))
SEATS_PER_SESSION = ROWS * PER_ROW


@dataclass
class PgbenchResult:
    tps: float
    latency_ms: float
    transactions: int
    failed: int
    seconds: int
    clients: int
    threads: int
    command: str


class _Seats:
    """Consecutive sessions whose seat ids are one contiguous range."""

    def __init__(self, fixtures: harness.Fixtures) -> None:
        self.fixtures = fixtures
        self.sessions: list[int] = []
        self.seat0 = 0

    @property
    def capacity(self) -> int:
        return len(self.sessions) * SEATS_PER_SESSION

    def grow(self, capacity: int) -> None:
        from django.db import connection

        while self.capacity < capacity:
            self.sessions.append(self.fixtures.session().id)
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT session_id, min(id), max(id), count(*) FROM screenings_sessionseat "
                "WHERE session_id = ANY(%s) GROUP BY session_id ORDER BY session_id",
                [self.sessions],
            )
            rows = cursor.fetchall()
        self.seat0 = rows[0][1]
        for index, (session_id, low, high, count) in enumerate(rows):
            start = self.seat0 + index * SEATS_PER_SESSION
            if (session_id, low, high, count) != (
                self.sessions[0] + index,
                start,
                start + SEATS_PER_SESSION - 1,
                SEATS_PER_SESSION,
            ):
                raise RuntimeError("pgbench sessions are not contiguous; rerun the benchmark")

    def cleanup(self) -> None:
        from django.db import connection

        low, high = self.seat0, self.seat0 + self.capacity - 1
        with connection.cursor() as cursor:
            cursor.execute("DELETE FROM core_outboxevent WHERE request_id = 'pgbench'")
            cursor.execute(
                "DELETE FROM bookings_reservationseat WHERE session_seat_id BETWEEN %s AND %s",
                [low, high],
            )
            cursor.execute(
                "DELETE FROM bookings_reservation WHERE session_id = ANY(%s)", [self.sessions]
            )
            cursor.execute(
                "DELETE FROM screenings_sessionseat WHERE session_id = ANY(%s)", [self.sessions]
            )
            cursor.execute("DELETE FROM screenings_session WHERE id = ANY(%s)", [self.sessions])
            cursor.execute("VACUUM ANALYZE")


def _pgbench(seconds: int, seats: _Seats, offset: int, user_id: int) -> PgbenchResult:
    variables = {
        "k": 0,
        "off": offset,
        "clients": CLIENTS,
        "seat0": seats.seat0,
        "sess0": seats.sessions[0],
        "per_session": SEATS_PER_SESSION,
        "user_id": user_id,
    }
    argv = ["pgbench", "-h", "127.0.0.1", "-U", "postgres", "-n"]
    argv += ["-c", str(CLIENTS), "-j", str(THREADS), "-T", str(seconds)]
    for key, value in variables.items():
        argv += ["-D", f"{key}={value}"]
    argv += ["-f", str(SCRIPT), DB_NAME]
    result = subprocess.run(argv, capture_output=True, text=True)
    output = result.stdout + result.stderr
    tps = re.search(r"^tps = ([\d.]+)", output, re.M)
    if result.returncode != 0 or tps is None:
        raise RuntimeError(f"pgbench failed ({result.returncode}):\n{output[-3000:]}")
    latency = re.search(r"^latency average = ([\d.]+) ms", output, re.M)
    processed = re.search(r"transactions actually processed: (\d+)", output)
    failed = re.search(r"number of failed transactions: (\d+)", output)
    shown = " ".join(argv).replace(str(SCRIPT), "bench/reserve.sql")
    for key in ("seat0", "sess0", "user_id", "off"):
        shown = re.sub(rf"{key}=\d+", f"{key}=<{key}>", shown)
    return PgbenchResult(
        tps=float(tps.group(1)),
        latency_ms=float(latency.group(1)) if latency else math.nan,
        transactions=int(processed.group(1)) if processed else 0,
        failed=int(failed.group(1)) if failed else 0,
        seconds=seconds,
        clients=CLIENTS,
        threads=THREADS,
        command=shown,
    )


def _seats_used(seats: _Seats) -> int:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT max(session_seat_id) FROM bookings_reservationseat "
            "WHERE session_seat_id BETWEEN %s AND %s",
            [seats.seat0, seats.seat0 + seats.capacity - 1],
        )
        highest = cursor.fetchone()[0]
    return 0 if highest is None else highest - seats.seat0 + 1


def run(fixtures: harness.Fixtures, user_id: int, seconds: float) -> PgbenchResult:
    seconds = max(1, round(seconds))
    seats = _Seats(fixtures)
    try:
        # A 1 s calibration run sizes the seat supply of the measured run (every transaction
        # needs a fresh seat) and warms PostgreSQL's caches.
        seats.grow(12 * SEATS_PER_SESSION)
        calibration = _pgbench(1, seats, 0, user_id)
        used = _seats_used(seats)
        seats.grow(used + int(calibration.tps * seconds * 1.6) + 10 * CLIENTS)
        log(
            f"pgbench: calibration {calibration.tps:.0f} tps; {seats.capacity} seats in "
            f"{len(seats.sessions)} sessions"
        )
        result = _pgbench(seconds, seats, used, user_id)
        if _seats_used(seats) >= seats.capacity:
            raise RuntimeError("pgbench ran out of seats; the figure would be wrong")
        return result
    finally:
        seats.cleanup()
