"""`make bench`: benchmark of the reservation path on the local stack; writes bench/report.md,
bench/latency.png, bench/results.json (the figures, machine-readable) and bench/profiles/ (py-spy
profiles of a web process during (a), (b) and (c) at 32 clients), and prints the report. The
report sets bench/baseline.json's figures, when it exists, beside this run's. It reports figures
and never fails on a time.

    .venv/bin/python -m bench.reservations

1. Isolation: its own database (`cinema_bench`, recreated and migrated), Redis DB 12 (flushed),
   RabbitMQ vhost `cinema_bench` (recreated; event queues prefixed `bench.`).
2. pgbench runs bench/reserve.sql, the reservation transaction, for the PostgreSQL ceiling.
3. The stack starts: `make web` on 127.0.0.1:8701 and :8702, one more instance with
   RESERVATION_TTL_SECONDS=2 on :8703, `make worker`, celery beat, and a private subscriber to
   the events exchange (bench/events_probe.py). Every process has the sandbox payment
   provider, delivering its webhooks to :8701 (PAYMENT_WEBHOOK_URL); the run waits until the
   worker consumes the queue the payments tasks are published on. A warm-up fills the seat-map
   session.
4. A short run with the expiry probe and the event latency measurement.
5. Scenarios (a) uncontended reservations, (b) ticket rush, (c) seat-map reads, (d) reserve then
   pay, (e) empty requests (the stack's ceiling), (f) pay later (PIX, settled in the sandbox,
   sold by the webhook), each at every level of BENCH_LEVELS for BENCH_SECONDS; each starts once
   the holds made before it have closed (expired, paid or cancelled) and their events are out.
6. Everything it started is stopped, also on Ctrl-C or an error.

Environment: BENCH_SECONDS (8), BENCH_LEVELS (8,32,64), BENCH_EVENT_SECONDS (6),
BENCH_EVENT_CLIENTS (16), BENCH_PGBENCH_SECONDS (= BENCH_SECONDS), BENCH_PGBENCH_CLIENTS (8),
BENCH_RUSH_ROUND (1 s), BENCH_WARMUP_SECONDS (5), BENCH_PROFILE (abc), BENCH_PROFILE_CLIENTS (32),
BENCH_PROFILE_SECONDS (5), BENCH_PROFILE_RATE (250), BENCH_DB, BENCH_REDIS_URL, BENCH_AMQP_VHOST,
BENCH_WORKDIR (/tmp/cinema-bench: process logs, event log, py-spy's raw samples).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from . import harness
from .harness import (
    EVENT_CLIENTS,
    EVENT_SECONDS,
    LEVELS,
    OUT_DIR,
    PGBENCH_SECONDS,
    PORTS,
    PROBE_TTL_SECONDS,
    SECONDS,
    TTL_PORT,
    WORK_DIR,
    log,
)

BIN = Path(sys.executable).parent
WARMUP_SECONDS = float(os.environ.get("BENCH_WARMUP_SECONDS", "5"))
# A hold lives 30 s; the wait before a scenario ends once the last ones have expired.
QUIET_TIMEOUT_SECONDS = 45.0
# (g) right after (b): its rush is compared with (b)'s at the same level.
SCENARIOS = os.environ.get("BENCH_SCENARIOS", "abgcdef")
# The live seat map's server for (g): one stream process, as the target is stated per process.
STREAM_PORT = 8704
# What (g)'s listeners follow: the stream server ("app"), or the bare fan-out that stands in for
# it ("floor", bench/fanout_floor.py), to tell the server's own cost from what writes cost.
STREAM_SERVER = os.environ.get("BENCH_STREAM_SERVER", "app")
FLOOR_PORT = 8705
# The server (g)'s listeners follow: its port and its name in the stack.
WATCHED_PORT = FLOOR_PORT if STREAM_SERVER == "floor" else STREAM_PORT
WATCHED_NAME = f"web-{'floor' if STREAM_SERVER == 'floor' else 'stream'}-{WATCHED_PORT}"
PAYMENT_TASKS = (
    "apps.payments.tasks.process_webhook_event",
    "apps.payments.providers.fake.deliver_sandbox_webhook",
)


def start_stack(stack: harness.Stack, events_file: Path) -> None:
    from . import scenarios

    env = harness.server_env()
    metrics = WORK_DIR / "metrics"
    shutil.rmtree(metrics, ignore_errors=True)
    metrics.mkdir(parents=True)
    for port in PORTS:
        stack.make(f"web-{port}", "web", env, BIND=f"127.0.0.1:{port}", METRICS_DIR=str(metrics))
    stack.make(
        f"web-{TTL_PORT}-ttl{PROBE_TTL_SECONDS}",
        "web",
        harness.server_env(RESERVATION_TTL_SECONDS=str(PROBE_TTL_SECONDS)),
        BIND=f"127.0.0.1:{TTL_PORT}",
        METRICS_DIR=str(metrics),
        WEB_WORKERS="1",
        WEB_THREADS="4",
    )
    stack.make(
        f"web-stream-{STREAM_PORT}",
        "stream",
        # (g)'s listeners all come from this machine's one address.
        harness.server_env(SSE_MAX_STREAMS_PER_IP=str(scenarios.STREAMS + 100)),
        STREAM_BIND=f"127.0.0.1:{STREAM_PORT}",
        METRICS_DIR=str(metrics),
    )
    if STREAM_SERVER == "floor":
        floor = [sys.executable, "-m", "bench.fanout_floor", str(FLOOR_PORT)]
        stack.start(WATCHED_NAME, floor, env)
    stack.make("worker", "worker", env, METRICS_DIR=str(metrics))
    # `make beat` with a schedule file of its own: the Makefile's is shared by every local beat.
    schedule = WORK_DIR / "celerybeat-schedule"
    for old in WORK_DIR.glob("celerybeat-schedule*"):
        old.unlink()
    beat = [str(BIN / "celery"), "-A", "cinema", "beat", "--loglevel=WARNING"]
    stack.start("beat", [*beat, f"--schedule={schedule}"], env)
    probe = stack.start(
        "probe-events",
        [
            sys.executable,
            "-m",
            "bench.events_probe",
            harness.amqp_url(harness.AMQP_VHOST),
            str(events_file),
        ],
        env,
    )
    for port in dict.fromkeys((*PORTS, TTL_PORT, STREAM_PORT, WATCHED_PORT)):
        harness.wait_http(stack, port)
    harness.wait_queue(stack, "bench.cinema.expiry-scheduler")
    # (f) needs the worker on the payments tasks' queue: the sandbox's webhook delivery and the
    # webhook processing both run there.
    harness.wait_consumers(stack, harness.task_queues(PAYMENT_TASKS))
    deadline = time.monotonic() + 30
    while "ready" not in probe.log_path.read_text(errors="replace"):
        stack.check_alive()
        if time.monotonic() > deadline:
            raise RuntimeError("the events probe did not bind its queue")
        time.sleep(0.2)
    log(
        f"stack up: web {PORTS} + TTL=2 web {TTL_PORT}, stream {STREAM_PORT}, worker, beat, "
        "events probe"
    )


def _summary(stats) -> str:
    from .scenarios import UNITS

    text = (
        f"({stats.scenario}) {stats.clients:>3} clients: {stats.rate:7.0f} "
        f"{UNITS[stats.scenario]}, "
        f"p50 {stats.p50 or 0:6.1f} ms, p95 {stats.p95 or 0:6.1f} ms, "
        f"p99 {stats.p99 or 0:6.1f} ms, "
        f"409s {stats.conflicts}, errors {stats.errors}"
    )
    if stats.scenario in ("b", "g"):
        check = stats.extra["double_sell"]
        text += (
            f", 409 p99 {stats.conflict_p99 or 0:.1f} ms, 201s {stats.ok}, double sells "
            f"{'none' if check['ok'] else check}"
        )
    if stats.scenario == "f":
        settled = stats.extra["settlement"]
        text += (
            f"; webhook received to sale p50 {settled.received_ms(50) or 0:.1f} ms, "
            f"p99 {settled.received_ms(99) or 0:.1f} ms, "
            f"max {max(settled.received_to_sale_ms, default=0):.1f} ms; "
            f"{settled.sold}/{settled.settled} sold {settled.waited_s:.1f} s after the run"
        )
    if stats.scenario == "g":
        s = stats.extra["streams"]
        text += (
            f"; {s['ready']} streams, {s['changes']} changes, delivered "
            f"{s['delivered']}/{s['expected']}, commit to arrival p50 {s['p50_ms'] or 0:.1f} ms, "
            f"p99 {s['p99_ms'] or 0:.1f} ms; {s['kib_per_stream']:.1f} KiB a stream"
        )
    return text


def _commit() -> str:
    """The commit the run measured (`-dirty`: with changes not committed)."""
    try:
        result = subprocess.run(
            ["git", "describe", "--always", "--dirty"], cwd=harness.ROOT, capture_output=True
        )
    except OSError:
        return "?"
    return result.stdout.decode().strip() or "?"


def _control(level: int, tokens, fixtures, when: str):
    """(g)'s rush without listeners, on a fresh session, a second apart from the watched one."""
    from . import scenarios

    time.sleep(1)
    control = scenarios.rush(level, tokens, fixtures, scenarios.WATCHED_SECONDS)
    log(f"(g) control {when}, no listeners: {_summary(control)}")
    time.sleep(1)
    return control


def main() -> None:
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    signal.signal(signal.SIGINT, signal.default_int_handler)  # even if started with it ignored
    began = time.time()
    started = time.strftime("%Y-%m-%d %H:%M %Z")
    commit = _commit()  # before the run rewrites its own outputs (bench/), which git tracks
    warnings: list[str] = []
    loadavg = " ".join(Path("/proc/loadavg").read_text().split()[:3])

    log("isolating: RabbitMQ vhost, Redis DB, fresh database")
    problem = harness.reset_vhost()
    if problem:
        warnings.append(problem)
    harness.flush_redis()
    harness.recreate_database()
    harness.configure()

    from . import figures, pgbench, probes, profiles, report, scenarios

    profiles.clear()

    fixtures = harness.Fixtures()
    tokens = fixtures.users(max([*LEVELS, EVENT_CLIENTS, 16]), "client")
    probe_token = fixtures.users(1, "probe")[0][1]
    machine = harness.machine()
    machine["loadavg"] = loadavg

    log(f"pgbench: {PGBENCH_SECONDS:.0f} s of bench/reserve.sql")
    pg = pgbench.run(fixtures, tokens[0][0], PGBENCH_SECONDS)
    log(f"pgbench: {pg.tps:.0f} tps, latency average {pg.latency_ms:.2f} ms")

    WORK_DIR.mkdir(parents=True, exist_ok=True)
    events_file = WORK_DIR / "events.jsonl"
    stack = harness.Stack()
    harness.cpu_monitor = harness.CpuMonitor(stack)
    levels: dict[str, list] = {key: [] for key in SCENARIOS}
    double_sell: dict[str, dict] = {}
    events_by_level = {}
    recorded: dict[str, profiles.Profile] = {}
    try:
        start_stack(stack, events_file)

        read_session = fixtures.session()
        warmup = scenarios.populate_read_session(
            tokens, read_session.id, fixtures.seat_ids(read_session), WARMUP_SECONDS
        )

        # Events and expiry, measured together during a short uncontended run.
        small = fixtures.session(small=True)
        probe_seats = fixtures.seat_ids(small)[:8]
        events_pool = harness.SeatPool(fixtures, "events")
        events_pool.top_up(int(pg.tps * EVENT_SECONDS * 1.5) + 200)
        expiry_box: dict = {}

        def expiry() -> None:
            try:
                expiry_box["result"] = probes.expiry_probe(small.id, probe_seats, probe_token)
            except Exception as exc:  # reported, the rest of the run goes on
                expiry_box["result"] = probes.ExpiryResult(error=repr(exc))

        prober = threading.Thread(target=expiry, daemon=True)
        prober.start()
        events_run = scenarios.uncontended(EVENT_CLIENTS, tokens, events_pool, EVENT_SECONDS)
        prober.join(timeout=60)
        expiry_result = expiry_box.get("result")
        log(f"events run: {_summary(events_run)}")
        log(f"expiry probe: {expiry_result}")

        pool_a = harness.SeatPool(fixtures, "a")
        pool_d = harness.SeatPool(fixtures, "d")
        pool_f = harness.SeatPool(fixtures, "f")
        fastest = {"a": pg.tps, "d": pg.tps}
        quiet: dict[str, float] = {}

        def measure(key: str, level: int) -> scenarios.LevelStats:
            """One level of one scenario, its seat pool topped up for it first."""
            if key == "b":
                return scenarios.rush(level, tokens, fixtures, SECONDS)
            if key == "g":
                return scenarios.watched_rush(
                    level,
                    tokens,
                    fixtures,
                    scenarios.WATCHED_SECONDS,
                    port=WATCHED_PORT,
                    group=stack.group(WATCHED_NAME),
                )
            if key == "c":
                return scenarios.seat_map(level, tokens, read_session.id, SECONDS)
            if key == "e":
                return scenarios.empty_request(level, tokens, SECONDS)
            if key == "a":
                pool_a.top_up(int(fastest["a"] * SECONDS * 1.5) + 100)
                stats = scenarios.uncontended(level, tokens, pool_a, SECONDS)
            elif key == "f":
                # Up to 2 seats a flow; no faster than (d), whose flow is a part of it.
                fastest.setdefault("f", fastest["d"])
                pool_f.top_up(int(fastest["f"] * SECONDS * 1.5) * 2 + 100)
                stats = scenarios.pay_later(level, tokens, pool_f, SECONDS)
            else:
                pool_d.top_up(int(fastest["d"] * SECONDS * 1.5) + 100)
                stats = scenarios.reserve_and_pay(level, tokens, pool_d, SECONDS)
            fastest[key] = max(fastest[key], stats.throughput)
            return stats

        for key in SCENARIOS:
            quiet[key] = probes.wait_quiet(QUIET_TIMEOUT_SECONDS)
            log(f"({key}): started after {quiet[key]:.0f} s waiting for earlier holds to close")
            for level in [scenarios.WATCHED_CLIENTS] if key == "g" else LEVELS:
                time.sleep(1)
                recorder = None
                if profiles.wanted(key, level):
                    web = f"web-{PORTS[0]}"  # a process of the first instance
                    recorder = profiles.ProfileRecorder(key, level, stack.group(web), web)
                    recorded[key] = recorder.profile
                controls: list[scenarios.LevelStats] = []
                if key == "g":
                    # The same rush without listeners just before and just after, on this
                    # machine as it is now: what the watched rush is compared with. The two
                    # differ by the run-to-run noise of this machine, which is the yardstick.
                    controls.append(_control(level, tokens, fixtures, "before"))
                with harness.observed(recorder):
                    stats = measure(key, level)
                if key == "g":
                    controls.append(_control(level, tokens, fixtures, "after"))
                    stats.extra["controls"] = [
                        {
                            "answered": control.answered,
                            "conflict_p50": control.conflict_p50,
                            "conflict_p99": control.conflict_p99,
                            "double_sell": control.extra.get("double_sell"),
                        }
                        for control in controls
                    ]
                levels[key].append(stats)
                log(_summary(stats))
        double_sell["a"] = scenarios.double_sells(pool_a.session_ids)
        double_sell["d"] = scenarios.double_sells([*pool_d.session_ids, read_session.id])
        double_sell["f"] = scenarios.double_sells(pool_f.session_ids)

        log("waiting for the outbox relay to publish everything")
        outbox_pending = probes.wait_outbox_drained()
        time.sleep(1.5)
    finally:
        log("stopping the stack")
        stack.stop()
        log(f"stack stopped; logs in {harness.LOG_DIR}")

    events = probes.read_events(events_file)
    events_latency = probes.event_latency(events, events_run.started_at, events_run.ended_at)
    for key in "abdf":
        for stats in levels.get(key, []):
            events_by_level[(key, stats.clients)] = probes.event_latency(
                events, stats.started_at, stats.ended_at
            )
    data = report.BenchData(
        machine=machine,
        config={
            "ports": ", ".join(map(str, PORTS)),
            "ttl_port": str(TTL_PORT),
            "db": harness.DB_NAME,
            "redis": harness.REDIS_URL,
            "vhost": harness.AMQP_VHOST,
            "seconds": f"{SECONDS:g}",
            "levels": ", ".join(map(str, LEVELS)),
            "event_seconds": f"{EVENT_SECONDS:g}",
            "event_clients": str(EVENT_CLIENTS),
            "rush_round": f"{scenarios.RUSH_ROUND_SECONDS:g}",
            "warmup": ", ".join(f"{k}: {v}" for k, v in warmup.items()),
            "warmup_seconds": f"{WARMUP_SECONDS:g}",
            "quiet": ", ".join(f"({k}) {v:.0f} s" for k, v in quiet.items()),
            "commit": commit,
        },
        pgbench=pg,
        levels={key: value for key, value in levels.items() if value},
        double_sell=double_sell,
        expiry=expiry_result,
        events=events_latency,
        events_cpu=events_run.extra.get("cpu"),
        events_by_level=events_by_level,
        outbox_pending=outbox_pending,
        warnings=warnings,
        duration_s=time.time() - began,
        started=started,
        loadavg_after=" ".join(Path("/proc/loadavg").read_text().split()[:3]),
        profiles=recorded,
        baseline=figures.load(),
    )
    OUT_DIR.mkdir(exist_ok=True)
    text = report.render(data)
    (OUT_DIR / "report.md").write_text(text)
    figures.write(report.run_figures(data))
    report.plot(data, OUT_DIR / "latency.png")
    print()
    print(text)
    log(
        f"wrote {OUT_DIR / 'report.md'}, {OUT_DIR / 'latency.png'} and {figures.RESULTS} in "
        f"{data.duration_s:.0f} s"
    )


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        log("interrupted: every process the run started was stopped; no report written")
        sys.exit(130)
