"""bench/report.md (tables, pgbench ceiling, probes, machine, targets) and bench/latency.png."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

from . import figures
from .harness import PROCESS_TYPES
from .pgbench import PgbenchResult
from .probes import EventLatency, ExpiryResult
from .profiles import Profile
from .scenarios import SETTLE_TIMEOUT_SECONDS, TITLES, UNITS, LevelStats


@dataclass
class BenchData:
    machine: dict[str, str]
    config: dict[str, str]
    pgbench: PgbenchResult | None
    levels: dict[str, list[LevelStats]]
    double_sell: dict[str, dict]  # scenario -> check over all its sessions
    expiry: ExpiryResult | None
    events: EventLatency | None  # the dedicated short run
    events_by_level: dict[tuple[str, int], EventLatency]
    outbox_pending: int | None
    warnings: list[str] = field(default_factory=list)
    duration_s: float = 0.0
    started: str = ""
    loadavg_after: str = ""
    events_cpu: dict | None = None
    profiles: dict[str, Profile] = field(default_factory=dict)  # by scenario
    baseline: dict | None = None  # bench/baseline.json's figures


CPU_COLUMNS = ("machine", *PROCESS_TYPES)
CPU_TITLES = {"postgres": "PostgreSQL", "redis": "Redis", "rabbitmq": "RabbitMQ"}
MEMORY_COLUMNS = ("web", "worker", "postgres", "redis", "rabbitmq")
OPS = {
    "a": "reservation",
    "b": "answer",
    "c": "read",
    "d": "flow",
    "e": "request",
    "f": "flow",
    "g": "answer",
}
MIB = 1024 * 1024
SCENARIOS = ("a", "b", "c", "d", "e", "f", "g")
# (g)'s targets: the live seat map at 1,000 listeners of one stream process, during a rush.
STREAM_P99_MS = 500.0
STREAM_BYTES_PER_STREAM = 50_000


def _f(value: float | None, digits: int = 1) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    return f"{value:.{digits}f}"


def _level(data: BenchData, scenario: str, clients: int) -> LevelStats | None:
    return next((s for s in data.levels.get(scenario, []) if s.clients == clients), None)


def _table(header: list[str], rows: list[list[str]], align: str = "---:") -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(align for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return lines


def _check(check: dict | None) -> str:
    if not check:
        return "n/a"
    if check["ok"]:
        return "0 (ok)"
    parts = [f"{key} {check[key]}" for key in ("overlapping", "active", "tickets", "phantom")]
    return "FAILED: " + ", ".join(p for p in parts if not p.endswith(" 0"))


def scenario_tables(data: BenchData) -> list[str]:
    lines: list[str] = []
    for key in SCENARIOS:
        stats = data.levels.get(key)
        if not stats:
            continue
        lines += ["", f"### {TITLES[key]}", ""]
        header = ["clients", UNITS[key], "p50 ms", "p95 ms", "p99 ms", "409s", "errors"]
        if key in ("b", "g"):
            header += ["201s", "409 p50 ms", "409 p99 ms", "double sells"]
        if key == "g":
            header += [
                "streams",
                "changes",
                "delivered",
                "commit → arrival p50 ms",
                "commit → arrival p99 ms",
                "commit → arrival max ms",
                "dropped",
                "KiB a stream",
                "stream server cores",
                "listeners cores",
            ]
        if key == "d":
            header += ["reserve p99 ms", "pay p99 ms"]
        if key == "f":
            header += [
                "pay p99 ms",
                "sandbox p99 ms",
                "webhook → sale p50 ms",
                "webhook → sale p99 ms",
                "webhook → sale max ms",
                "sandbox call → sale p99 ms",
                "settled, no sale",
            ]
        rows = []
        for s in stats:
            rate = s.rate
            row = [
                str(s.clients),
                _f(rate, 0),
                _f(s.p50),
                _f(s.p95),
                _f(s.p99),
                str(s.conflicts),
                str(s.errors),
            ]
            if key in ("b", "g"):
                row += [
                    str(s.ok),
                    _f(s.conflict_p50),
                    _f(s.conflict_p99),
                    _check(s.extra.get("double_sell")),
                ]
            if key == "g":
                row += _stream_cells(s.extra["streams"])
            if key == "d":
                steps = s.extra.get("steps", {})
                row += [
                    _f(steps.get("reserve", {}).get("p99")),
                    _f(steps.get("pay", {}).get("p99")),
                ]
            if key == "f":
                row += _settlement_cells(s)
            rows.append(row)
        lines += _table(header, rows)
        notes = []
        expected = (200, 202, 409) if key == "f" else (200, 201, 409)  # (f) ends on a 202
        for s in stats:
            other = {k: v for k, v in s.statuses.items() if k not in expected}
            if other:
                notes.append(f"{s.clients} clients: other statuses {other}")
            if s.extra.get("notes"):
                notes.append(f"{s.clients} clients: {s.extra['notes']}")
        if key == "b":
            rounds = ", ".join(f"{s.clients}: {s.extra.get('rounds')}" for s in stats)
            notes.append(
                f"Rounds of {data.config.get('rush_round')} s, each on 4 new seats of a fresh "
                f"1,040-seat session per level (rounds per level: {rounds}); each request asks "
                "for 1 or 2 of the 4 seats; requests/s counts every answer (201 and 409)."
            )
        if key in data.double_sell:
            notes.append(
                f"Double-sell check over all sessions of this scenario: "
                f"{_check(data.double_sell[key])} "
                f"({data.double_sell[key]['reservation_seats']} reserved seats checked)."
            )
        if key == "d":
            notes.append(
                "Latency of a flow = reservation + payment; flows/s counts flows whose payment "
                "answered 201."
            )
        if key == "e":
            notes.append(
                "A view that returns a constant, behind the same web instances and the same "
                "middleware (request id, logging, metrics, sessions, locale); no authentication, "
                "throttle or query. No endpoint can be answered faster than this."
            )
        if key == "f":
            notes += _settlement_notes(stats)
        if key == "g":
            notes += _stream_notes(data, stats)
        if notes:
            lines += [""] + [f"- {note}" for note in notes]
    return lines


def _stream_cells(st: dict) -> list[str]:
    return [
        str(st["ready"]),
        str(st["changes"]),
        f"{st['delivered']}/{st['expected']}",
        _f(st["p50_ms"]),
        _f(st["p99_ms"]),
        _f(st["max_ms"]),
        str(st["dropped"]),
        _f(st["kib_per_stream"]),
        _f(st["server_cores"], 2),
        _f(st.get("listener_cores"), 2),
    ]


def _stream_notes(data: BenchData, stats: list[LevelStats]) -> list[str]:
    notes = [
        "The rush of (b) at this level, on a fresh session, while that many buyers follow its "
        "seat map (`GET /api/v1/sessions/{id}/seats/stream`) through one stream server "
        "(`make stream`, uvicorn) beside the two web instances. The listeners are one process "
        "of this machine (bench/stream_listeners.py, asyncio on uvloop), connected before the "
        "rush in waves of 100, each with its snapshot before it starts.",
        "changes: entries the rush's commits added to the session's seat stream (holds, and "
        "the releases of holds that expired or failed); delivered: `seats` events read, of "
        "changes x streams. commit → arrival: the arrival at a listener minus the event's id, "
        "which is Redis's clock (ms) when the commit published the change: one clock, on this "
        "machine. KiB a stream: the stream server's resident memory with the streams open, "
        "less before they opened, divided by the streams. Stream server cores: its CPU during "
        "the rush (it is in the web column of the CPU tables too); listeners cores: the "
        "listeners' process's (the load generator's, in the client column), which a real "
        "crowd would spend on its own machines.",
    ]
    for s in stats:
        st = s.extra["streams"]
        if st.get("reads") is not None and st["ready"]:
            notes.append(
                f"{s.clients} clients: a listener read {st['reads'] / st['ready']:.1f} times "
                f"after its snapshot during the rush and its tail ({st['changes']} changes), "
                "about one read a write of the server: events, and a keep-alive every 15 s."
            )
    for s in stats:
        controls = s.extra.get("controls") or []
        if controls:
            before_after = "; ".join(
                f"{when}: {c['answered']:.0f} answers/s, 409 p50 {_f(c['conflict_p50'])} ms, "
                f"409 p99 {_f(c['conflict_p99'])} ms, double sells {_check(c['double_sell'])}"
                for when, c in zip(("before", "after"), controls, strict=False)
            )
            notes.append(
                f"{s.clients} clients, controls: the same rush ({s.wall:.0f} s, not a level's "
                f"{data.config['seconds']} s, in all three: a 409 p99 of so short a rush moves by "
                "up to a third between two identical rushes), each on another fresh session "
                "without listeners, run just before and just after the watched one; "
                f"{before_after}."
            )
    for s in stats:
        st = s.extra["streams"]
        if st["dropped"] or st["closed"] or st["failed"]:
            notes.append(
                f"{s.clients} clients: {st['dropped']} streams dropped, {st['closed']} closed "
                f"by the server, {st['failed']} could not connect"
            )
    return notes


def _settlement_cells(s: LevelStats) -> list[str]:
    steps = s.extra.get("steps", {})
    settled = s.extra.get("settlement")
    cells = [_f(steps.get("pay", {}).get("p99")), _f(steps.get("settle", {}).get("p99"))]
    if settled is None:
        return cells + ["n/a"] * 5
    missing = str(settled.missing) if not settled.missing else f"**{settled.missing}**"
    return [
        *cells,
        _f(settled.received_ms(50)),
        _f(settled.received_ms(99)),
        _f(max(settled.received_to_sale_ms, default=None)),
        _f(settled.call_ms(99)),
        missing,
    ]


def _settlement_notes(stats: list[LevelStats]) -> list[str]:
    """What (f) measures, and where each of its levels left its settled payments."""
    notes = [
        "Each client loops: reserve 1 or 2 seats nobody else asks for, pay with `tok_pix` (202, "
        "pending; the hold is extended), then `POST /payments/{id}/sandbox` `succeeded` (202). "
        "flows/s counts flows whose sandbox call answered 202; the latency of a flow is the sum "
        "of its three requests. The sale is not the client's to wait for: the sandbox's Celery "
        "task (worker) POSTs the signed webhook to the first instance, which stores it "
        "(`received_at`) and queues its processing; the worker's task writes the sale and marks "
        "the event processed (`processed_at`) in one transaction.",
        "webhook → sale = `payments_webhookevent.processed_at - received_at`, read from the "
        "database after each level, once every settled payment has its sale (wait bounded at "
        f"{SETTLE_TIMEOUT_SECONDS:.0f} s): the app's own timestamps (`payments_sale.paid_at` "
        "is taken in the same transaction as `processed_at`), so the figure excludes the client "
        "and includes the wait in the worker's queue behind the level's other tasks, among them "
        "the sandbox's own deliveries, which a real provider would not put there. sandbox call "
        "→ sale = `payments_sale.paid_at` - when the client sent the sandbox call: that plus "
        "the delivery task and its HTTP POST. A settled payment without a sale after the wait "
        "is a failure (settled, no sale).",
    ]
    for s in stats:
        settled = s.extra.get("settlement")
        if settled is None:
            continue
        text = (
            f"{s.clients} clients: {settled.sold} of {settled.settled} settled payments sold, "
            f"the last {settled.waited_s:.1f} s after the run's end"
        )
        if settled.unsold:
            text += f"; without a sale: {settled.unsold}"
        notes.append(text + ".")
    return notes


def targets(data: BenchData) -> list[tuple[str, str, str]]:
    """(target, measured, verdict)."""
    out = []

    def verdict(ok: bool | None) -> str:
        return "n/a" if ok is None else ("**met**" if ok else "**not met**")

    a32 = _level(data, "a", 32)
    if a32 and data.pgbench:
        ratio = a32.throughput / data.pgbench.tps
        ok = ratio >= 0.25 and a32.p99 is not None and a32.p99 < 100
        measured = (
            f"{a32.throughput:.0f}/s = {ratio:.2f} x pgbench ({data.pgbench.tps:.0f} tps), "
            f"p99 {_f(a32.p99)} ms"
        )
    else:
        ok, measured = None, "level 32 not run"
    out.append(("(a) ≥ 0.25 x pgbench tps and p99 < 100 ms at 32 clients", measured, verdict(ok)))

    b64 = _level(data, "b", 64)
    b_checks = [s.extra.get("double_sell", {}).get("ok", False) for s in data.levels.get("b", [])]
    all_checks = b_checks + [c["ok"] for c in data.double_sell.values()]
    double_ok = bool(all_checks) and all(all_checks)
    if b64:
        ok = (
            b64.conflict_p99 is not None
            and b64.conflict_p99 < 20
            and b64.p99 is not None
            and b64.p99 < 100
            and double_ok
        )
        measured = (
            f"409 p99 {_f(b64.conflict_p99)} ms, overall p99 {_f(b64.p99)} ms; double sells: "
            f"{'none' if double_ok else 'FOUND'} (all scenarios)"
        )
    else:
        ok, measured = None, "level 64 not run"
    out.append(
        (
            "(b) 409 p99 < 20 ms and overall p99 < 100 ms at 64 clients, zero double sells",
            measured,
            verdict(ok),
        )
    )

    c32 = _level(data, "c", 32)
    if c32:
        ok = c32.throughput >= 1500 and c32.p99 is not None and c32.p99 < 50
        measured = f"{c32.throughput:.0f}/s, p99 {_f(c32.p99)} ms"
    else:
        ok, measured = None, "level 32 not run"
    out.append(("(c) ≥ 1500 reads/s with p99 < 50 ms at 32 clients", measured, verdict(ok)))

    e = data.expiry
    if e and not e.error:
        exact = (
            e.held_after_deadline == 0
            and e.free_before_deadline == 0
            and len(e.free_after_ms) == e.made
        )
        out.append(
            (
                "Holds free for reads at the deadline, exactly",
                f"{e.made} holds: first 'available' answer {_f(min(e.free_after_ms, default=None))}"
                f"-{_f(max(e.free_after_ms, default=None))} ms after the deadline (poll every "
                f"{_f(e.poll_interval_ms)} ms); 'held' after the deadline: "
                f"{e.held_after_deadline}; 'available' before it: {e.free_before_deadline}",
                verdict(exact),
            )
        )
        swept = e.not_swept == 0 and bool(e.swept_after_ms) and max(e.swept_after_ms) <= 2000
        out.append(
            (
                "Holds swept (status expired) within 2 s of the deadline",
                f"closed_at - expires_at: p50 {_f(_median(e.swept_after_ms))} ms, max "
                f"{_f(max(e.swept_after_ms, default=None))} ms; not expired: {e.not_swept}",
                verdict(swept),
            )
        )
    else:
        reason = e.error if e else "not run"
        out.append(("Holds free for reads at the deadline, exactly", reason, verdict(None)))
        out.append(("Holds swept within 2 s of the deadline", reason, verdict(None)))

    ev = data.events
    if ev and ev.received:
        ok = ev.p99_ms is not None and ev.p99_ms < 1000
        out.append(
            (
                "Events on the broker within 1 s of commit (p99)",
                f"reservation.created p50 {_f(ev.p50_ms)} ms, p99 {_f(ev.p99_ms)} ms "
                f"({ev.received}/{ev.expected} received)",
                verdict(ok),
            )
        )
    else:
        out.append(("Events on the broker within 1 s of commit (p99)", "no events", verdict(None)))
    out += _stream_targets(data, verdict)
    return out


def _stream_targets(data: BenchData, verdict) -> list[tuple[str, str, str]]:
    watched = data.levels.get("g") or []
    if not watched:
        return [("(g) live seat map during a rush", "not run", verdict(None))]
    g = watched[0]
    st = g.extra["streams"]
    lost = st["expected"] - st["delivered"]
    out = [
        (
            f"(g) commit → arrival p99 ≤ {STREAM_P99_MS:.0f} ms at {st['ready']} listeners of "
            "one stream process, every change delivered",
            f"p99 {_f(st['p99_ms'])} ms (p50 {_f(st['p50_ms'])} ms); delivered "
            f"{st['delivered']}/{st['expected']}",
            verdict(st["p99_ms"] is not None and st["p99_ms"] <= STREAM_P99_MS and lost == 0),
        ),
        (
            f"(g) under {STREAM_BYTES_PER_STREAM / 1000:.0f} KB of memory per open stream",
            f"{_f(st['kib_per_stream'])} KiB ({st['kib_per_stream'] * 1.024:.1f} KB)",
            verdict(st["kib_per_stream"] * 1024 < STREAM_BYTES_PER_STREAM),
        ),
    ]
    controls = [c["conflict_p99"] for c in g.extra.get("controls") or [] if c["conflict_p99"]]
    if len(controls) == 2 and g.conflict_p99:
        slower, faster = max(controls), min(controls)
        mean = sum(controls) / 2
        p50s = " and ".join(_f(c["conflict_p50"]) for c in g.extra["controls"])
        rates = " and ".join(f"{c['answered']:.0f}" for c in g.extra["controls"])
        out.append(
            (
                "(g) the watched rush's 409 p99 within noise: no slower than the slower of the "
                "same rush without listeners just before and just after it, at "
                f"{g.clients} clients",
                f"{_f(g.conflict_p99)} ms watched; {_f(controls[0])} and {_f(controls[1])} ms "
                f"without ({slower / faster:.2f} x between them); watched / their mean "
                f"{g.conflict_p99 / mean:.2f} x; 409 p50 {_f(g.conflict_p50)} vs {p50s} ms; "
                f"answers/s {g.answered:.0f} vs {rates}",
                verdict(g.conflict_p99 <= slower),
            )
        )
    else:
        out.append(
            (
                "(g) the watched rush's 409s against rushes without listeners",
                "not comparable",
                verdict(None),
            )
        )
    return out


def bounds(data: BenchData) -> list[str]:
    """For the throughput and latency targets: what they require and what this run's own
    figures say they would cost."""
    nproc = data.machine["nproc"]
    # scenario: (clients, throughput target, the strictest latency target in ms, unit)
    wanted = {
        "a": (32, 0.25 * data.pgbench.tps if data.pgbench else None, 100.0, "reservations"),
        "b": (64, None, 20.0, "answers"),
        "c": (32, 1500.0, 50.0, "reads"),
    }
    lines = []
    for key, (clients, target_rate, latency_ms, unit) in wanted.items():
        level = _level(data, key, clients)
        cpu = level.extra.get("cpu") if level else None
        if not level or not cpu:
            continue
        rate = level.rate
        if not rate:
            continue
        per_op = cpu["app"] * 1000 / rate
        queue_ms = clients / rate * 1000
        needed = clients / (latency_ms / 1000)
        line = (
            f"({key}) at {clients} clients: {rate:.0f} {unit}/s, each costing the app "
            f"{per_op:.1f} ms of CPU ({cpu['web'] * 1000 / rate:.1f} ms web, "
            f"{cpu['worker'] * 1000 / rate:.1f} ms worker); the app had {cpu['app']:.2f} of "
            f"{nproc} cores (the load generator {cpu['client']:.2f}, PostgreSQL "
            f"{cpu['postgres']:.2f}, Redis {cpu['redis']:.2f}, RabbitMQ {cpu['rabbitmq']:.2f}), "
            "so the machine was saturated "
            f"and {clients} clients queue for {clients} / {rate:.0f}/s = {queue_ms:.0f} ms on "
            f"average (Little's law): p99 follows that queue, not the work of one request. "
            f"The same law sets what the latency target needs: {clients} closed-loop clients "
            f"see a mean latency under {latency_ms:.0f} ms only above {clients} / "
            f"{latency_ms / 1000:g} s = {needed:.0f} {unit}/s."
        )
        if target_rate:
            line += (
                f" {target_rate:.0f} {unit}/s at this cost would take "
                f"{target_rate * per_op / 1000:.1f} cores of app CPU alone."
            )
        ceiling = _level(data, "e", clients)
        if ceiling and ceiling.throughput:
            need = max(needed, target_rate or 0)
            verdict = "above" if need > ceiling.throughput else "below"
            line += (
                f" The stack answers at most {ceiling.throughput:.0f} empty requests/s at "
                f"{clients} clients (e): the {need:.0f} {unit}/s needed is {verdict} what it "
                "can serve for a request that does nothing."
            )
        lines.append(line)
    if lines and data.pgbench:
        lines.append(
            f"PostgreSQL is not the bound: it runs the same reservation transaction at "
            f"{data.pgbench.tps:.0f} tps (pgbench, above). The bound is Python CPU per request "
            "(the WSGI server and Django's request cycle, which (e) measures alone; then DRF, "
            "authentication, throttles, the ORM where it remains, and the worker's event "
            "work), measured by profiling (py-spy, pyinstrument) and reduced where it could be "
            "without giving up a guarantee; see docs/performance.md for what was "
            "done and what is left."
        )
    return lines


def _cpu_rows(data: BenchData, cell) -> list[list[str]]:
    """A row a scenario level, a cell a CPU column: `cell(level, column)`."""
    return [
        [f"({key}) {s.clients}", *(cell(s, k) for k in CPU_COLUMNS)]
        for key in SCENARIOS
        for s in data.levels.get(key, [])
        if s.extra.get("cpu")
    ]


def cpu_tables(data: BenchData) -> list[str]:
    header = ["run", *(CPU_TITLES.get(k, k) for k in CPU_COLUMNS)]
    lines = ["", f"### CPU use during each run (cores, of {data.machine['nproc']})", ""]
    rows = _cpu_rows(data, lambda s, k: _f(s.extra["cpu"][k], 2))
    if data.events_cpu:
        rows.append(["events run", *(_f(data.events_cpu.get(k), 2) for k in CPU_COLUMNS)])
    lines += _table(header, rows)
    lines += ["", "### CPU per operation (ms of CPU per op of the scenario's figure)", ""]
    rows = _cpu_rows(data, lambda s, k: _f(s.cpu_ms_per_op(k), 2))
    for row in rows:
        row.insert(1, OPS[row[0][1]])
    lines += _table([header[0], "op", *header[1:]], rows)
    lines += [
        "",
        "- machine: all CPUs busy (from /proc/stat); client: the load generator (this process "
        "and its pgbench/psql children) and the events probe; web: the web instances (every "
        "process of their process groups); worker: the Celery worker (event consumers, the "
        "outbox relay, expiry tasks) and beat; PostgreSQL, Redis, RabbitMQ: the shared "
        "services' processes by name (they serve other users of the machine too); other: every "
        "other process, which the benchmark does not control. From /proc before and after each "
        "run, approximate.",
        "- CPU per op = cores x 1000 / the scenario's figure (the op of its first column: a "
        "reservation, a rush answer (201 or 409), a read, a flow, a request); the worker's "
        "share is the event work the operations cause. For (f) the cores are those of the run, "
        "but CPU per op also counts the CPU spent after it until the last sale (webhook "
        "delivery, storing and processing), divided by the flows.",
    ]
    lines.append(
        f"- Load average before the run {data.machine.get('loadavg', '?')}, after it "
        f"{data.loadavg_after}."
    )
    return lines


def _memory_cell(memory: dict, kind: str) -> str:
    m = memory.get(kind)
    if m is None:
        return "n/a"
    return f"{m.total / MIB:,.0f} / {m.count} / {m.largest / MIB:,.0f}"


def memory_table(data: BenchData) -> list[str]:
    rows = [
        [f"({key}) {s.clients}", *(_memory_cell(s.extra["memory"], k) for k in MEMORY_COLUMNS)]
        for key in SCENARIOS
        for s in data.levels.get(key, [])
        if s.extra.get("memory")
    ]
    if not rows:
        return []
    header = ["run", *(CPU_TITLES.get(k, k) for k in MEMORY_COLUMNS)]
    return [
        "",
        "### Resident memory at the end of each run (MiB in all / processes / MiB of the largest)",
        "",
        *_table(header, rows),
        "",
        "- RSS from /proc when each run ends, by the same process types as CPU use (web counts "
        "the expiry probe's third instance too; the launchers, `make` and its shell, are left "
        "out). A page shared by several processes (forked web workers, PostgreSQL's shared "
        "buffers) counts once in each, so the sums overstate what the machine holds; the "
        "largest process does not.",
    ]


def run_figures(data: BenchData) -> dict:
    """This run's figures as bench/results.json holds them."""
    return figures.collect(
        data.levels,
        pgbench_tps=data.pgbench.tps if data.pgbench else None,
        started=data.started,
        commit=data.config.get("commit", "?"),
        seconds=float(data.config.get("seconds", "nan")),
        machine=data.machine,
    )


def _verdict(ok: bool | None) -> str:
    return "n/a" if ok is None else ("**met**" if ok else "**not met**")


def _profile_cell(data: BenchData, verdict: figures.Verdict) -> str:
    """For a target not met: the profile that shows where the CPU went."""
    if verdict.ok is not False:
        return ""
    if not verdict.target.profiled:
        return "no profile of the worker"
    profile = data.profiles.get(verdict.target.scenario)
    if profile is None:
        return "not profiled (BENCH_PROFILE)"
    if profile.svg is None:
        return f"no profile: {profile.error}"
    name = profile.svg.name
    text = f"[flame graph](profiles/{name})"
    if profile.text:
        text += f", [top {len(profile.own)}](profiles/{profile.text.name})"
    return text


def speed_targets_table(data: BenchData, results: dict) -> list[str]:
    now = figures.speed_targets(results)
    before = figures.speed_targets(data.baseline) if data.baseline else None
    header = ["target", "measured", "verdict"]
    if before:
        header.append("baseline")
    header.append("where the CPU goes")
    rows = []
    for index, verdict in enumerate(now):
        row = [verdict.target.text, verdict.measured, _verdict(verdict.ok)]
        if before:
            row.append(f"{before[index].measured}: {_verdict(before[index].ok)}")
        rows.append([*row, _profile_cell(data, verdict)])
    return ["", "## Speed targets", "", *_table(header, rows, "---")]


def profiles_section(data: BenchData) -> list[str]:
    if not data.profiles:
        return []
    lines = [
        "",
        "### Profiles (py-spy)",
        "",
        "One process of the first web instance (the one using the most CPU over the level's "
        "first half second), sampled while the scenario ran, only the thread holding the GIL (the "
        "process's Python CPU). py-spy pauses the process at each sample and takes some CPU "
        "(given below; it ends before the level does, so the CPU tables leave it out but for "
        "the machine's total), so these levels run a little slower than they would "
        "unobserved; the rate is kept modest for that reason.",
        "",
    ]
    for key, profile in sorted(data.profiles.items()):
        head = f"- ({key}) at {profile.clients} clients: "
        if profile.svg is None:
            lines.append(head + f"no profile: {profile.error}.")
            continue
        cost = ""
        if profile.cpu_seconds is not None and profile.seconds:
            cost = f" (py-spy itself: {profile.cpu_seconds / profile.seconds:.2f} cores)"
        lines.append(
            head + f"{profile.process}, {profile.seconds} s at {profile.rate} samples/s, "
            f"{profile.samples} samples{cost}: [flame graph](profiles/{profile.svg.name}), "
            f"[top {len(profile.own)}](profiles/{profile.text.name})."
        )
        rows = [
            [str(rank + 1), *_ranked(profile.own, rank), *_ranked(profile.inclusive, rank)]
            for rank in range(max(len(profile.own), len(profile.inclusive)))
        ]
        lines += [
            "",
            "<details><summary>top functions (% of samples)</summary>",
            "",
            *_table(["#", "self %", "function", "inclusive %", "function"], rows, "---"),
            "",
            "</details>",
            "",
        ]
    return lines


def _ranked(column: list[tuple[str, float]], rank: int) -> list[str]:
    """(share, function) cells of one rank of a top list, empty past its end."""
    if rank >= len(column):
        return ["", ""]
    name, percent = column[rank]
    return [f"{percent:.1f}", f"`{name}`"]


def comparison_section(data: BenchData, results: dict) -> list[str]:
    baseline = data.baseline
    if not baseline:
        return []
    header, rows = figures.comparison(results, baseline)
    then = baseline.get("pgbench_tps")
    now = results.get("pgbench_tps")
    lines = [
        "",
        "## Before and after",
        "",
        f"Baseline (bench/baseline.json): {baseline.get('note') or 'no note'} Run of "
        f"{baseline.get('started', '?')}, commit {baseline.get('commit', '?')}. Each cell: "
        "baseline → this run (change). pgbench ran the same reservation transaction at "
        f"{_f(then, 0)} tps then and {_f(now, 0)} tps now: the machine's own speed, which "
        "varies from run to run.",
        "",
    ]
    return [*lines, *(_table(header, rows) if rows else ["- no level in common"])]


def _median(values: list[float]) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


def render(data: BenchData) -> str:
    m, c = data.machine, data.config
    lines = [
        "# Reservation path benchmark",
        "",
        f"Generated by `make bench` (bench/reservations.py) on {data.started}, "
        f"{data.duration_s / 60:.1f} min. Figures from one run on one machine: compare runs on "
        "the same machine, never across machines. Latencies are measured by the client, "
        "request sent to body read.",
        "",
        "## Setup",
        "",
        f"- Machine: {m['nproc']} CPUs ({m['cpu']}), {m['ram']} RAM, {m['kernel']}; "
        f"load average before the run {m.get('loadavg', '?')}. Everything runs on it: "
        "PostgreSQL, Redis, RabbitMQ, the app, the worker and the load generator.",
        f"- Versions: Python {m['python']}, PostgreSQL {m['postgresql']}, Redis {m['redis']}, "
        f"RabbitMQ {m['rabbitmq']}, Django {m['django']}, granian {m['granian']}, "
        f"Celery {m['celery']}.",
        f"- Stack: 2 x `make web` (granian, WSGI, workers x threads: {m['web_workers']} x "
        f"{m['web_threads']} each, ports {c['ports']}), one more instance with "
        f"RESERVATION_TTL_SECONDS=2 for the expiry probe (port {c['ttl_port']}), `make worker` "
        f"(concurrency {m['worker_concurrency']}) and celery beat, all running through every "
        "scenario; throttles at 1,000,000/min, allauth rate limits off, LOG_LEVEL=WARNING.",
        f"- Isolation: database `{c['db']}` (recreated), Redis `{c['redis']}` (flushed), "
        f"RabbitMQ vhost `{c['vhost']}` (recreated), event queues prefixed `bench.`.",
        f"- Load: closed loop, one thread per client with its own keep-alive connection, "
        f"clients alternating between the two instances; {c['seconds']} s per level, levels "
        f"{c['levels']}; one user (session token) per client. Warm-up: {c['warmup_seconds']} s "
        f"of reservations and payments on the seat-map session ({c['warmup']}).",
        "- Load generator: Python threads, each with a minimal HTTP/1.1 keep-alive client on a "
        "raw socket (requests built from pre-encoded headers, answers read by Content-Length; "
        "anything else stops the run), well under a millisecond of CPU per request: see the "
        "client column of CPU per operation.",
        "- Each scenario starts once every earlier hold has closed (expired, paid or cancelled) "
        "and its events are published, so that it does not share the machine with the expiry "
        f"of the previous one's holds; waited: {c.get('quiet', 'n/a')}.",
        "",
        "## Results",
    ]
    lines += scenario_tables(data)

    lines += ["", "### PostgreSQL ceiling (pgbench)", ""]
    pg = data.pgbench
    if pg:
        a32 = _level(data, "a", 32)
        ratio = f"{a32.throughput / pg.tps:.2f}" if a32 else "- (level 32 not run)"
        lines += [
            f"- `{pg.command}`: **{pg.tps:.0f} tps**, latency average {pg.latency_ms:.2f} ms, "
            f"{pg.transactions} transactions, {pg.failed} failed. Run before the app stack "
            "started (nothing else of the benchmark running).",
            "- bench/reserve.sql is the reservation transaction statement for statement "
            "(lock timeout, seat row FOR UPDATE, active holds, reservation, reserved seat, "
            "outbox event), one fresh seat per transaction.",
            f"- Ratio (a) at 32 clients / pgbench: **{ratio}**.",
        ]
    else:
        lines += ["- not run"]

    lines += ["", "### Hold expiry", ""]
    e = data.expiry
    if e and not e.error:
        lines += [
            f"- {e.made} holds of 2 s (one seat each, 0.25 s apart) made through the "
            f"TTL=2 instance; the seat map polled back to back ({e.polls} polls, one every "
            f"{_f(e.poll_interval_ms)} ms) through the two normal instances.",
            f"- Seat shown available, after the deadline: min {_f(min(e.free_after_ms))} ms, "
            f"median {_f(_median(e.free_after_ms))} ms, max {_f(max(e.free_after_ms))} ms "
            "(upper bounds: the answer's arrival; they include the polling gap). Answers "
            f"'held' to a request sent after the deadline: {e.held_after_deadline}; "
            f"'available' before the deadline: {e.free_before_deadline}.",
            f"- Status `expired` in the database (closed_at - expires_at, ETA task or "
            f"sweeper): median {_f(_median(e.swept_after_ms))} ms, max "
            f"{_f(max(e.swept_after_ms, default=None))} ms; still pending after 20 s: "
            f"{e.not_swept}.",
        ]
    else:
        lines += [f"- not measured: {e.error if e else 'not run'}"]

    lines += ["", "### Events (outbox → RabbitMQ)", ""]
    ev = data.events
    if ev:
        lines += [
            f"- A private queue bound to `cinema.events` (`reservation.created`) during a "
            f"{c['event_seconds']} s run of {c['event_clients']} clients reserving uncontended "
            "seats (with the expiry probe): occurred_at in the envelope → arrival, "
            f"p50 {_f(ev.p50_ms)} ms, p95 {_f(ev.p95_ms)} ms, p99 {_f(ev.p99_ms)} ms, "
            f"max {_f(ev.max_ms)} ms; {ev.received} received of {ev.expected} in the outbox.",
        ]
    rows = []
    for (scenario, clients), lat in sorted(data.events_by_level.items()):
        rows.append(
            [
                f"({scenario}) {clients}",
                f"{lat.received}/{lat.expected}",
                _f(lat.p50_ms),
                _f(lat.p99_ms),
                _f(lat.max_ms),
            ]
        )
    if rows:
        lines += ["- The same, for the reservations of each scenario level (under that load):", ""]
        lines += _table(
            ["scenario, clients", "received/outbox", "p50 ms", "p99 ms", "max ms"], rows
        )
    if data.outbox_pending is not None:
        lines += ["", f"- Outbox rows still unpublished at the end: {data.outbox_pending}."]

    lines += cpu_tables(data)
    lines += memory_table(data)

    lines += ["", "## Targets", ""]
    lines += _table(["target", "measured", "verdict"], [list(t) for t in targets(data)], "---")
    unmet = bounds(data)
    if unmet:
        lines += ["", "### What bounds throughput and latency", ""] + [
            f"- {line}" for line in unmet
        ]
    results = run_figures(data)
    lines += speed_targets_table(data, results)
    lines += profiles_section(data)
    lines += comparison_section(data, results)
    warnings = list(data.warnings)
    foreign = [
        s.extra["cpu"]["other"]
        for stats in data.levels.values()
        for s in stats
        if s.extra.get("cpu")
    ]
    for s in data.levels.get("f", []):
        settled = s.extra.get("settlement")
        if settled and settled.missing:
            warnings.append(
                f"(f) {s.clients} clients: {settled.missing} of {settled.settled} payments settled "
                f"in the sandbox had no sale {settled.waited_s:.0f} s after the run: "
                f"{settled.unsold}."
            )
    if foreign and max(foreign) > 0.25:
        warnings.append(
            f"Other processes on the machine used {min(foreign):.2f}-{max(foreign):.2f} cores "
            f"of {data.machine['nproc']} during the runs (see CPU use): the machine was shared, "
            "so throughput is lower and latency higher than the same code would show alone."
        )
    if warnings:
        lines += ["", "## Warnings", ""] + [f"- {w}" for w in warnings]
    lines += ["", "![latency by concurrency](latency.png)", ""]
    return "\n".join(lines)


def plot(data: BenchData, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(2, 2, figsize=(11, 8), constrained_layout=True)
    limits = {"a": [(100, "p99 target")], "b": [(100, "p99 target"), (20, "409 p99 target")]}
    limits["c"] = [(50, "p99 target")]
    for axis, key in zip(axes.flat, ("a", "b", "c", "d"), strict=True):
        stats = data.levels.get(key, [])
        axis.set_title(TITLES[key], fontsize=10)
        if not stats:
            axis.set_visible(False)
            continue
        x = [s.clients for s in stats]
        for attr, style, label in (
            ("p99", "-o", "p99"),
            ("p95", ":^", "p95"),
            ("p50", "--s", "p50"),
        ):
            axis.plot(x, [getattr(s, attr) or math.nan for s in stats], style, label=label)
        if key == "b":
            axis.plot(x, [s.conflict_p99 or math.nan for s in stats], "-x", label="409 p99")
        for value, label in limits.get(key, []):
            axis.axhline(value, color="grey", linewidth=0.8, linestyle="-.")
            axis.annotate(label, (x[0], value), fontsize=7, color="grey", va="bottom")
        for s in stats:
            rate = s.rate
            axis.annotate(
                f"{rate:.0f}/s",
                (s.clients, s.p99 or 0),
                textcoords="offset points",
                xytext=(4, 6),
                fontsize=7,
            )
        axis.set_xscale("log", base=2)
        axis.set_xticks(x, [str(v) for v in x])
        axis.set_yscale("log")
        axis.set_xlabel("concurrent clients")
        axis.set_ylabel("latency (ms)" + (", per flow" if key == "d" else ""))
        axis.grid(True, which="both", alpha=0.3)
        axis.legend(fontsize=8)
    figure.suptitle(
        f"Latency by concurrency ({data.machine['nproc']} CPUs, {data.config['seconds']} s per "
        "level; labels: throughput)",
        fontsize=11,
    )
    figure.savefig(path, dpi=110)
    plt.close(figure)
