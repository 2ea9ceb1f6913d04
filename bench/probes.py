"""Timing probes that need the Celery worker and beat: hold expiry and event delivery.

Expiry: holds are made through an extra app instance whose RESERVATION_TTL_SECONDS is 2; the
seat map (through the normal instances) is polled back to back around each deadline, and the
database is polled until every hold is `expired` (its `closed_at` is when the ETA task or the
sweeper closed it).

Events: bench/events_probe.py (its own process) logs every `reservation.created` message
with its arrival time; the latency is arrival minus the envelope's `occurred_at`, which the
service sets inside the reservation's transaction just before it commits.

Settlement (scenario (f)): after the run, the database is polled until every payment settled in
the sandbox has its sale; the latency is read from the rows the app wrote, not from a client.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from .harness import PORTS, TTL_PORT, Client, log, parse_time, percentile


@dataclass
class ExpiryResult:
    holds: int = 0
    made: int = 0
    # Seat map: how long after the deadline the first "available" answer arrived (upper bound:
    # it includes the polling gap), and the two violations a poll can prove.
    free_after_ms: list[float] = field(default_factory=list)
    held_after_deadline: int = 0  # "held" answered by a request sent after the deadline
    free_before_deadline: int = 0  # "available" answered before the deadline
    poll_interval_ms: float | None = None
    polls: int = 0
    # Database: closed_at - expires_at for holds turned `expired`.
    swept_after_ms: list[float] = field(default_factory=list)
    not_swept: int = 0
    error: str | None = None


def expiry_probe(session_id: int, seat_ids: list[int], token: str) -> ExpiryResult:
    """One hold per seat, 0.25 s apart. Runs in a thread of its own while other load runs (see
    reservations.py); the session is made beforehand by the main thread."""
    from django.db import connection

    from apps.bookings.models import Reservation

    result = ExpiryResult(holds=len(seat_ids))
    maker = Client(TTL_PORT, token)
    readers = [Client(port) for port in PORTS]
    observations: list[tuple[float, float, dict[int, str]]] = []
    made: dict[int, tuple[str, float, float]] = {}  # seat -> (reservation id, answered, deadline)
    stop = threading.Event()
    path = f"/api/v1/sessions/{session_id}/seats"

    def poll() -> None:
        turn = 0
        while not stop.is_set():
            reader = readers[turn % len(readers)]
            turn += 1
            sent = time.time()
            status, body, _ = reader.call("GET", path)
            answered = time.time()
            if status == 200:
                observations.append(
                    (sent, answered, {seat["id"]: seat["status"] for seat in json.loads(body)})
                )

    poller = threading.Thread(target=poll, daemon=True)
    try:
        poller.start()
        for seat in seat_ids:
            status, body, _ = maker.call(
                "POST", "/api/v1/reservations", {"session": session_id, "seats": [seat]}
            )
            if status == 201:
                reservation = json.loads(body)
                made[seat] = (reservation["id"], time.time(), parse_time(reservation["expires_at"]))
            time.sleep(0.25)
        result.made = len(made)
        if not made:
            result.error = f"no hold could be made through port {TTL_PORT} (last: {status})"
            return result
        last_deadline = max(deadline for _, _, deadline in made.values())
        while time.time() < last_deadline + 1.0:
            time.sleep(0.05)
    finally:
        stop.set()
        poller.join(timeout=35)
        for client in (maker, *readers):
            client.close()

    result.polls = len(observations)
    if len(observations) > 1:
        gaps = [b[0] - a[0] for a, b in itertools.pairwise(observations)]
        result.poll_interval_ms = percentile(gaps, 50) * 1000
    for seat, (_, answered_at, deadline) in made.items():
        first_free = None
        for sent, answered, statuses in observations:
            if sent < answered_at:
                continue  # asked before the hold existed
            status = statuses.get(seat)
            if status != "available" and sent > deadline:
                result.held_after_deadline += 1
            if status == "available" and answered < deadline:
                result.free_before_deadline += 1
            if status == "available" and answered >= deadline and first_free is None:
                first_free = answered
        if first_free is not None:
            result.free_after_ms.append((first_free - deadline) * 1000)

    # The database side: wait for the ETA task (or the sweeper) to close every hold.
    ids = [reservation_id for reservation_id, _, _ in made.values()]
    give_up = time.time() + 20
    rows = []
    while time.time() < give_up:
        rows = list(
            Reservation.objects.filter(id__in=ids).values_list("status", "expires_at", "closed_at")
        )
        if all(status != Reservation.Status.PENDING for status, _, _ in rows):
            break
        time.sleep(0.05)
    for status, expires_at, closed_at in rows:
        if status == Reservation.Status.EXPIRED and closed_at is not None:
            result.swept_after_ms.append((closed_at - expires_at).total_seconds() * 1000)
        else:
            result.not_swept += 1
    connection.close()
    return result


@dataclass
class EventLatency:
    received: int
    expected: int  # reservation.created rows of the outbox in the window
    p50_ms: float | None
    p95_ms: float | None
    p99_ms: float | None
    max_ms: float | None


def read_events(path: Path) -> list[tuple[float, float]]:
    """(occurred_at, latency in s) of every reservation.created the probe received."""
    events = []
    if not path.exists():
        return events
    for line in path.read_text().splitlines():
        try:
            received, kind, occurred, _ = json.loads(line)
        except ValueError:
            continue
        if kind == "reservation.created" and occurred:
            when = parse_time(occurred)
            events.append((when, received - when))
    return events


def event_latency(events: list[tuple[float, float]], start: float, end: float) -> EventLatency:
    from django.db import connection

    latencies = [latency for when, latency in events if start <= when <= end]
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM core_outboxevent WHERE type = 'reservation.created' "
            "AND occurred_at BETWEEN to_timestamp(%s) AND to_timestamp(%s)",
            [start, end],
        )
        expected = cursor.fetchone()[0]

    def ms(p: float) -> float | None:
        value = percentile(latencies, p)
        return None if value is None else value * 1000

    return EventLatency(
        received=len(latencies),
        expected=expected,
        p50_ms=ms(50),
        p95_ms=ms(95),
        p99_ms=ms(99),
        max_ms=max(latencies) * 1000 if latencies else None,
    )


def wait_outbox_drained(timeout: float = 60.0) -> int:
    """Until the relay has published everything; returns what is still unpublished."""
    from apps.events.models import OutboxEvent

    deadline = time.monotonic() + timeout
    pending = OutboxEvent.objects.filter(published_at__isnull=True).count()
    while pending and time.monotonic() < deadline:
        time.sleep(0.5)
        pending = OutboxEvent.objects.filter(published_at__isnull=True).count()
    if pending:
        log(f"outbox: {pending} events still unpublished after {timeout:.0f} s")
    return pending


def wait_quiet(timeout: float = 60.0) -> float:
    """Until every hold made so far has been paid, cancelled or expired and recorded, and its
    events published: the next scenario then runs alone, not beside the expiry of the last
    one's holds (measured on its own by the expiry probe). Returns the seconds waited."""
    from apps.bookings.models import Reservation
    from apps.events.models import OutboxEvent

    started = time.monotonic()
    deadline = started + timeout
    while time.monotonic() < deadline:
        pending = Reservation.objects.filter(status=Reservation.Status.PENDING).count()
        unpublished = OutboxEvent.objects.filter(published_at__isnull=True).count()
        if not pending and not unpublished:
            break
        time.sleep(0.5)
    else:
        log(f"after {timeout:.0f} s: {pending} holds pending, {unpublished} events unpublished")
    return time.monotonic() - started


@dataclass
class Settlement:
    """What became of the payments a run settled in the sandbox (outcome `succeeded`)."""

    settled: int  # sandbox calls answered 202
    sold: int  # of those, payments with a sale once the wait ended
    waited_s: float  # from the end of the run until the last sale (or the time-out)
    # payments_webhookevent.processed_at - received_at: the web stored the event, the worker
    # wrote the sale in the transaction that marks it processed (Sale.paid_at is taken in that
    # same transaction, so it is the same interval).
    received_to_sale_ms: list[float] = field(default_factory=list)
    # Sale.paid_at - when the client sent the sandbox call: the above plus the sandbox's delivery
    # task (queued on the worker) and its HTTP POST to the web.
    call_to_sale_ms: list[float] = field(default_factory=list)
    unsold: dict[str, int] = field(default_factory=dict)  # "<payment status>, <webhook state>"

    @property
    def missing(self) -> int:
        """Settled payments without a sale after the wait: the run's failures."""
        return self.settled - self.sold

    def received_ms(self, p: float) -> float | None:
        return percentile(self.received_to_sale_ms, p)

    def call_ms(self, p: float) -> float | None:
        return percentile(self.call_to_sale_ms, p)


def settlement(settled: list[tuple[str, float]], timeout: float) -> Settlement:
    """Wait (at most `timeout` s) until each settled payment, (payment id, time.time() its
    sandbox call was sent), has a sale, then read the latencies from the database. The wait
    bounds the next level's start: it must not run beside this level's backlog of webhooks."""
    from django.db import connection

    ids = [payment_id for payment_id, _ in settled]
    started = time.monotonic()
    deadline = started + timeout
    sold = 0
    with connection.cursor() as cursor:
        while ids:
            cursor.execute(
                "SELECT count(*) FROM payments_sale WHERE payment_id = ANY(%s::uuid[])", [ids]
            )
            sold = cursor.fetchone()[0]
            if sold >= len(ids) or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        waited = time.monotonic() - started
        cursor.execute(
            """
            SELECT p.id::text, p.status, e.received_at, e.processed_at, e.outcome, s.paid_at
            FROM payments_payment p
            LEFT JOIN payments_webhookevent e
                ON e.payment_id = p.id AND e.type = 'payment.succeeded'
            LEFT JOIN payments_sale s ON s.payment_id = p.id
            WHERE p.id = ANY(%s::uuid[])
            """,
            [ids],
        )
        rows = cursor.fetchall()
    sent = dict(settled)
    result = Settlement(settled=len(ids), sold=sold, waited_s=waited)
    seen = set()
    for payment_id, status, received, processed, outcome, paid in rows:
        seen.add(payment_id)
        if paid is None:
            if received is None:
                state = "no webhook stored"
            elif processed is None:
                state = "webhook stored, not processed"
            else:
                state = f"webhook processed ({outcome})"
            key = f"{status}, {state}"
            result.unsold[key] = result.unsold.get(key, 0) + 1
            continue
        if received is not None and processed is not None:
            result.received_to_sale_ms.append((processed - received).total_seconds() * 1000)
        result.call_to_sale_ms.append((paid.timestamp() - sent[payment_id]) * 1000)
    if len(seen) < len(ids):
        result.unsold["no payment row"] = len(ids) - len(seen)
    result.sold = sum(1 for *_, paid in rows if paid is not None)
    if result.missing:
        log(
            f"settlement: {result.missing} of {result.settled} settled payments have no sale "
            f"after {waited:.0f} s: {result.unsold}"
        )
    return result
