"""The load scenarios, each run at every concurrency level, and the double-sell check.

(a) uncontended: every client reserves a seat nobody else asks for (one seat per request);
(b) rush: every client hammers the same 4 seats of a fresh session (1 or 2 of them per
    request); the 4 seats move on every BENCH_RUSH_ROUND seconds, so each round starts a new race;
(c) seat map: GET /api/v1/sessions/{id}/seats of a 1,040-seat session with held and sold seats;
(d) reserve then pay: POST a reservation, then POST its payment with `tok_visa` (one flow);
(e) empty request: GET /health, a view that does nothing, through the same server and middleware:
    the most requests per second the stack can answer at all, which bounds the other four;
(f) pay later (PIX): reserve 1 or 2 uncontended seats, pay with `tok_pix` (202, pending), settle it
    in the sandbox (202); the sandbox's webhook then reaches the web and the worker writes the
    sale. After each level the database is polled until every settled payment has its sale.
(g) watched rush: (b) at one level (BENCH_WATCHED_CLIENTS, 64) for BENCH_WATCHED_SECONDS (24) on
    a fresh session while BENCH_STREAMS (1,000) buyers watch its live seat map through one stream
    server; reports the delay from each change's commit to its arrival at every listener and the
    server's memory per open stream, beside the same rush without listeners just before it.
"""

from __future__ import annotations

import json
import math
import os
import random
import subprocess
import sys
import time
from dataclasses import dataclass, field

from . import harness, probes
from .harness import Client, CpuMonitor, Recorder, RunResult, SeatPool, log, percentile

RUSH_SEATS = 4
RUSH_ROUND_SECONDS = float(os.environ.get("BENCH_RUSH_ROUND", "1"))
# How long (f) waits after a level for the sales of its settled payments. A webhook the web
# refused is delivered again within 1, 2, 4... s (the sandbox's backoff): a minute covers several
# tries, and anything still missing then is reported as a failure.
SETTLE_TIMEOUT_SECONDS = 60.0

TITLES = {
    "a": "(a) Uncontended reservations",
    "b": "(b) Ticket rush (4 seats, all clients)",
    "c": "(c) Seat map reads (1,040 seats)",
    "d": "(d) Reserve then pay",
    "e": "(e) Empty request (GET /health): the stack's ceiling",
    "f": "(f) Pay later (PIX): reserve, pay (202), settle in the sandbox",
    "g": "(g) Rush watched by 1,000 live seat maps",
}
UNITS = {
    "a": "reservations/s",
    "b": "requests/s",
    "c": "reads/s",
    "d": "flows/s",
    "e": "requests/s",
    "f": "flows/s",
    "g": "requests/s",
}
WATCHED_CLIENTS = int(os.environ.get("BENCH_WATCHED_CLIENTS", "64"))
STREAMS = int(os.environ.get("BENCH_STREAMS", "1000"))
# (g) and its control run this long, not a level's 8 s: the 409 p99 of two identical 8 s rushes
# differed by up to a third on this machine, the size of the effect (g) looks for; three times
# the samples, and the drift of the machine averaged over three times as long, steady it.
WATCHED_SECONDS = float(os.environ.get("BENCH_WATCHED_SECONDS", "24"))
# After the rush, how long the listeners keep reading: the last changes are still on their way.
STREAM_TAIL_SECONDS = 2.0


@dataclass
class LevelStats:
    scenario: str
    clients: int
    wall: float
    throughput: float  # successful operations (201/200, or whole flows) per second
    answered: float  # every answer (or flow) per second, whatever its status
    ok: int
    p50: float | None  # ms, over every answered request (or flow) of the level
    p95: float | None
    p99: float | None
    conflicts: int  # 409s
    conflict_p50: float | None
    conflict_p99: float | None
    errors: int  # anything else but the expected statuses (timeouts and resets included)
    statuses: dict[int, int]
    started_at: float
    ended_at: float
    extra: dict = field(default_factory=dict)

    @property
    def rate(self) -> float:
        """The figure the scenario's table leads with: every answer of a rush (201s and 409s),
        the successful operations otherwise."""
        return self.answered if self.scenario in ("b", "g") else self.throughput

    def cpu_ms_per_op(self, kind: str) -> float | None:
        """CPU ms of one process type (or "machine", "app") per op of the scenario's `rate`. For
        (f) it adds what was spent after the run on its webhooks, until the last sale (`drain`):
        that work is the flow's too, and at high levels much of it happens after the clients
        stop."""
        cpu, rate = self.extra.get("cpu"), self.rate
        if not cpu or not rate or kind not in cpu:
            return None
        per_op = cpu[kind] * 1000 / rate
        drain = self.extra.get("drain")
        if drain and self.ok:
            per_op += drain[kind] * drain["seconds"] * 1000 / self.ok
        return per_op


def _ms(value: float | None) -> float | None:
    return None if value is None else value * 1000


def summarize(
    scenario: str, run: RunResult, kind: str, ok_statuses: set[int], **extra
) -> LevelStats:
    samples = run.of(kind)
    latencies = [seconds for _, seconds, _ in samples]
    conflicts = [seconds for _, seconds, status in samples if status == 409]
    statuses: dict[int, int] = {}
    for _, _, status in samples:
        statuses[status] = statuses.get(status, 0) + 1
    ok = sum(count for status, count in statuses.items() if status in ok_statuses)
    errors = sum(count for status, count in statuses.items() if status not in ok_statuses | {409})
    return LevelStats(
        scenario=scenario,
        clients=run.clients,
        wall=run.wall,
        throughput=ok / run.wall if run.wall else math.nan,
        answered=len(samples) / run.wall if run.wall else math.nan,
        ok=ok,
        p50=_ms(percentile(latencies, 50)),
        p95=_ms(percentile(latencies, 95)),
        p99=_ms(percentile(latencies, 99)),
        conflicts=len(conflicts),
        conflict_p50=_ms(percentile(conflicts, 50)),
        conflict_p99=_ms(percentile(conflicts, 99)),
        errors=errors,
        statuses=dict(sorted(statuses.items())),
        started_at=run.started_at,
        ended_at=run.ended_at,
        extra={
            **extra,
            "cpu": run.cpu,
            "memory": run.memory,
            **({"notes": dict(run.notes)} if run.notes else {}),
        },
    )


def _clients(tokens, level: int) -> list[Client]:
    return harness.make_clients(tokens, level)


def _close(clients: list[Client]) -> None:
    for client in clients:
        client.close()


def _run_level(tokens, level: int, seconds: float, operation):
    """`level` clients in a closed loop of `operation` for `seconds`; their connections closed."""
    clients = _clients(tokens, level)
    try:
        return harness.run_closed_loop(clients, seconds, operation)
    finally:
        _close(clients)


def _reserve(client: Client, recorder: Recorder, kind: str, session_id: int, seats: list[int]):
    started = time.perf_counter()
    status, body, seconds = client.call(
        "POST", "/api/v1/reservations", {"session": session_id, "seats": seats}
    )
    recorder.add(kind, started, seconds, status)
    return started, status, body, seconds


def uncontended(level: int, tokens, pool: SeatPool, seconds: float) -> LevelStats:
    def operation(index: int, client: Client, recorder: Recorder) -> bool:
        item = pool.take()
        if item is None:
            recorder.notes["seat pool ran out"] += 1
            return False
        _reserve(client, recorder, "reserve", item[0], [item[1]])
        return True

    run = _run_level(tokens, level, seconds, operation)
    return summarize("a", run, "reserve", {201})


def rush(
    level: int, tokens, fixtures: harness.Fixtures, seconds: float, *, session=None
) -> LevelStats:
    session = session or fixtures.session()
    seats = fixtures.seat_ids(session)
    rounds = len(seats) // RUSH_SEATS
    won: list[tuple[str, list[int]]] = []

    def operation(index: int, client: Client, recorder: Recorder) -> bool:
        current = int((time.perf_counter() - recorder.origin) / RUSH_ROUND_SECONDS) % rounds
        group = seats[current * RUSH_SEATS : (current + 1) * RUSH_SEATS]
        wanted = sorted(random.sample(group, random.choice((1, 2))))
        _, status, body, _ = _reserve(client, recorder, "reserve", session.id, wanted)
        if status == 201:
            won.append((json.loads(body)["id"], wanted))
        return True

    run = _run_level(tokens, level, seconds, operation)
    check = double_sells([session.id], answered_ids=[rid for rid, _ in won])
    rounds_run = math.ceil(run.wall / RUSH_ROUND_SECONDS)
    return summarize(
        "b",
        run,
        "reserve",
        {201},
        double_sell=check,
        winners=len(won),
        rounds=rounds_run,
        session_id=session.id,
    )


def _group_usage(table: dict[int, harness.ProcRow], group: int) -> tuple[int, int]:
    """(CPU ticks, resident bytes) of one process group of the stack, in one read of /proc."""
    rows = [row for row in table.values() if row.pgrp == group]
    return sum(row.ticks for row in rows), sum(row.rss for row in rows)


def _cores(ticks: int, seconds: float) -> float:
    """The cores that `ticks` of CPU over `seconds` of wall time amount to."""
    return ticks / os.sysconf("SC_CLK_TCK") / seconds


def _stream_entries(session_id: int) -> int:
    """Entries ever added to the session's seat stream: every change its listeners should get."""
    from django_redis import get_redis_connection

    from apps.bookings.seat_stream import stream_key

    try:
        return get_redis_connection("default").xinfo_stream(stream_key(session_id))["entries-added"]
    except Exception:  # no stream: nothing was published
        return 0


def watched_rush(
    level: int, tokens, fixtures: harness.Fixtures, seconds: float, *, port: int, group: int
) -> LevelStats:
    """(b) on a session whose seat map STREAMS listeners (one process) follow on the stream
    server at `port` (process group `group`)."""
    session = fixtures.session()
    _, rss_idle = _group_usage(harness.proc_table(), group)
    listeners = subprocess.Popen(
        [sys.executable, "-m", "bench.stream_listeners", str(port), str(session.id), str(STREAMS)],
        cwd=harness.ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        ready = int(listeners.stdout.readline().split()[-1])
        time.sleep(1)  # the snapshots' buffers settle
        table = harness.proc_table()
        ticks_before, rss_open = _group_usage(table, group)
        listener_before = table[listeners.pid].ticks
        stats = rush(level, tokens, fixtures, seconds, session=session)
        table = harness.proc_table()
        ticks_after, _ = _group_usage(table, group)
        listener_after = table[listeners.pid].ticks
        time.sleep(STREAM_TAIL_SECONDS)
        out, _ = listeners.communicate(timeout=60)
    finally:
        if listeners.poll() is None:
            listeners.kill()
    result = json.loads(out.strip().splitlines()[-1])
    delays = result.pop("delays_ms")
    per_listener = result.pop("per_listener")
    changes = _stream_entries(session.id)
    stats.extra["streams"] = {
        **result,
        "ready": ready,
        "changes": changes,
        "expected": changes * ready,
        "delivered": len(delays),
        "complete": sum(1 for seen in per_listener if seen == changes),
        "p50_ms": percentile(delays, 50),
        "p99_ms": percentile(delays, 99),
        "max_ms": max(delays, default=None),
        "rss_idle_kib": rss_idle // 1024,
        "rss_open_kib": rss_open // 1024,
        "kib_per_stream": (rss_open - rss_idle) / 1024 / max(ready, 1),
        "server_cores": _cores(ticks_after - ticks_before, stats.wall),
        "listener_cores": _cores(listener_after - listener_before, stats.wall),
    }
    stats.scenario = "g"
    return stats


def seat_map(level: int, tokens, session_id: int, seconds: float) -> LevelStats:
    return _reads("c", level, tokens, f"/api/v1/sessions/{session_id}/seats", seconds)


def empty_request(level: int, tokens, seconds: float) -> LevelStats:
    return _reads("e", level, tokens, "/health", seconds)


def _reads(scenario: str, level: int, tokens, path: str, seconds: float) -> LevelStats:
    def operation(index: int, client: Client, recorder: Recorder) -> bool:
        started = time.perf_counter()
        status, _body, elapsed = client.call("GET", path)
        recorder.add("read", started, elapsed, status)
        return True

    run = _run_level(tokens, level, seconds, operation)
    return summarize(scenario, run, "read", {200})


def reserve_and_pay(level: int, tokens, pool: SeatPool, seconds: float) -> LevelStats:
    def operation(index: int, client: Client, recorder: Recorder) -> bool:
        item = pool.take()
        if item is None:
            recorder.notes["seat pool ran out"] += 1
            return False
        started, status, body, reserve_seconds = _reserve(
            client, recorder, "reserve", item[0], [item[1]]
        )
        if status != 201:
            recorder.add("flow", started, reserve_seconds, status)
            return True
        reservation_id = json.loads(body)["id"]
        pay_started = time.perf_counter()
        status, _body, pay_seconds = client.call(
            "POST", f"/api/v1/reservations/{reservation_id}/payment", {"token": "tok_visa"}
        )
        recorder.add("pay", pay_started, pay_seconds, status)
        recorder.add("flow", started, reserve_seconds + pay_seconds, status)
        return True

    run = _run_level(tokens, level, seconds, operation)
    return summarize("d", run, "flow", {201}, steps=_steps(run, ("reserve", "pay")))


def _steps(run: RunResult, kinds: tuple[str, ...]) -> dict:
    """p50 and p99 (ms) of each request of a flow, to show which one its latency comes from."""
    steps = {}
    for kind in kinds:
        latencies = [s for _, s, _ in run.of(kind)]
        steps[kind] = {
            "p50": _ms(percentile(latencies, 50)),
            "p99": _ms(percentile(latencies, 99)),
        }
    return steps


def _post(client: Client, recorder: Recorder, kind: str, path: str, body: dict):
    started = time.perf_counter()
    status, content, seconds = client.call("POST", path, body)
    recorder.add(kind, started, seconds, status)
    return status, content, seconds


def pay_later(level: int, tokens, pool: SeatPool, seconds: float) -> LevelStats:
    """(f): the flow of a PIX buyer. The client's part ends at the sandbox's 202; the sale comes
    later, through the sandbox's webhook task (worker), the webhook view (web) and the processing
    task (worker), so its latency is measured from the database once the level is over. The CPU
    the worker and the web spend on that backlog after the run is measured too (`drain`), for the
    cost per flow."""
    settled: list[tuple[str, float]] = []  # (payment id, time.time() the sandbox call was sent)

    def operation(index: int, client: Client, recorder: Recorder) -> bool:
        item = pool.take_group(random.choice((1, 2)))
        if item is None:
            recorder.notes["seat pool ran out"] += 1
            return False
        started, status, body, elapsed = _reserve(client, recorder, "reserve", *item)
        if status == 201:
            reservation = json.loads(body)["id"]
            path = f"/api/v1/reservations/{reservation}/payment"
            status, body, pay_seconds = _post(client, recorder, "pay", path, {"token": "tok_pix"})
            elapsed += pay_seconds
        if status == 202:
            payment = json.loads(body)["id"]
            sent_at = time.time()
            path = f"/api/v1/payments/{payment}/sandbox"
            status, _, settle_seconds = _post(
                client, recorder, "settle", path, {"outcome": "succeeded"}
            )
            elapsed += settle_seconds
            if status == 202:
                settled.append((payment, sent_at))
        recorder.add("flow", started, elapsed, status)
        return True

    run = _run_level(tokens, level, seconds, operation)
    monitor = harness.cpu_monitor
    before = monitor.snapshot() if monitor else None
    settlement = probes.settlement(settled, SETTLE_TIMEOUT_SECONDS)
    drain = None
    if before:
        after = monitor.snapshot()
        drain = {"seconds": after.at - before.at, **CpuMonitor.between(before, after)}
    return summarize(
        "f",
        run,
        "flow",
        {202},
        steps=_steps(run, ("reserve", "pay", "settle")),
        settlement=settlement,
        drain=drain,
    )


def populate_read_session(tokens, session_id: int, seat_ids: list[int], seconds: float) -> dict:
    """Warm-up (every app process gets traffic) that also makes the seat map realistic: for
    `seconds`, 16 clients reserve random seats of every 3rd one through the API and pay every
    other reservation (sold for good; the other holds run out after their TTL)."""
    targets = list(enumerate(seat_ids[::3]))
    random.shuffle(targets)

    def operation(index: int, client: Client, recorder: Recorder) -> bool:
        try:
            position, seat = targets.pop()
        except IndexError:
            return False
        _, status, body, _ = _reserve(client, recorder, "reserve", session_id, [seat])
        if status == 201 and position % 2 == 0:
            reservation_id = json.loads(body)["id"]
            started = time.perf_counter()
            status, _, elapsed = client.call(
                "POST", f"/api/v1/reservations/{reservation_id}/payment", {"token": "tok_visa"}
            )
            recorder.add("pay", started, elapsed, status)
        return True

    clients = _clients(tokens, 16)
    try:
        run = harness.run_closed_loop(clients, seconds, operation)
    finally:
        _close(clients)
    statuses: dict[str, int] = {}
    for kind, _, _, status in run.samples:
        key = f"{kind} {status}"
        statuses[key] = statuses.get(key, 0) + 1
    log(f"warm-up: {statuses} in {run.wall:.1f} s")
    return statuses


def double_sells(session_ids: list[int], answered_ids: list[str] | None = None) -> dict:
    """Count the ways a seat could have been sold twice in these sessions, from the database:

    - overlapping: two reservations of one seat whose lives overlap (a life runs from creation to
      the deadline, to the cancellation, or forever once paid);
    - active: seats with more than one active hold row (the partial unique index forbids it);
    - tickets: seats with more than one ticket;
    - phantom: reservations answered 201 that the database does not have.
    """
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT rs.session_seat_id, r.created_at, r.expires_at, r.closed_at, r.status
            FROM bookings_reservationseat rs
            JOIN bookings_reservation r ON r.id = rs.reservation_id
            WHERE r.session_id = ANY(%s)
            ORDER BY rs.session_seat_id, r.created_at
            """,
            [session_ids],
        )
        rows = cursor.fetchall()
        cursor.execute(
            """
            SELECT count(*) FROM (
                SELECT rs.session_seat_id FROM bookings_reservationseat rs
                JOIN bookings_reservation r ON r.id = rs.reservation_id
                WHERE r.session_id = ANY(%s) AND rs.is_active
                GROUP BY rs.session_seat_id HAVING count(*) > 1
            ) AS dup
            """,
            [session_ids],
        )
        active = cursor.fetchone()[0]
        cursor.execute(
            """
            SELECT count(*) FROM (
                SELECT t.session_seat_id FROM payments_ticket t
                JOIN screenings_sessionseat ss ON ss.id = t.session_seat_id
                WHERE ss.session_id = ANY(%s)
                GROUP BY t.session_seat_id HAVING count(*) > 1
            ) AS dup
            """,
            [session_ids],
        )
        tickets = cursor.fetchone()[0]
        phantom = 0
        if answered_ids:
            cursor.execute(
                "SELECT count(*) FROM bookings_reservation WHERE id = ANY(%s::uuid[])",
                [answered_ids],
            )
            phantom = len(set(answered_ids)) - cursor.fetchone()[0]
    overlapping = 0
    seat_before, latest_end = None, -math.inf
    for seat, created, expires, closed, status in rows:
        if seat != seat_before:
            seat_before, latest_end = seat, -math.inf
        if created.timestamp() < latest_end:
            overlapping += 1
        if status == "confirmed":
            end = math.inf  # sold: the seat is never free again
        elif status in ("cancelled", "expired") and closed is not None:
            end = min(expires, closed).timestamp()
        else:
            end = expires.timestamp()
        latest_end = max(latest_end, end)
    return {
        "reservation_seats": len(rows),
        "overlapping": overlapping,
        "active": active,
        "tickets": tickets,
        "phantom": phantom,
        "ok": overlapping == active == tickets == phantom == 0,
    }
