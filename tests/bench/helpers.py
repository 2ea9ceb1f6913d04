"""A benchmark run made up in memory, for the tests of the report and its figures."""

from __future__ import annotations

from bench.harness import PROCESS_TYPES, PROFILER, Memory
from bench.pgbench import PgbenchResult
from bench.report import BenchData
from bench.scenarios import LevelStats

MIB = 1024 * 1024
MACHINE = {
    "nproc": "2",
    "cpu": "Test CPU",
    "ram": "1.0 GiB",
    "kernel": "Linux test",
    "python": "3.11.7",
    "postgresql": "15",
    "redis": "7",
    "rabbitmq": "3.10",
    "django": "5.2",
    "granian": "2.8.7",
    "celery": "5.7",
    "web_workers": "3",
    "web_threads": "4",
    "worker_concurrency": "2",
}
CONFIG = {
    "ports": "8701, 8702",
    "ttl_port": "8703",
    "db": "cinema_bench",
    "redis": "redis://127.0.0.1:6379/12",
    "vhost": "cinema_bench",
    "seconds": "8",
    "levels": "8, 32, 64",
    "event_seconds": "6",
    "event_clients": "16",
    "rush_round": "1",
    "warmup": "reserve 201: 10",
    "warmup_seconds": "5",
    "quiet": "(a) 0 s",
    "commit": "abc1234",
}


def cpu(**cores: float) -> dict[str, float]:
    """Cores by process type (0 for those not given), with "app" and "machine" as the monitor
    reports them."""
    out = dict.fromkeys((*PROCESS_TYPES, PROFILER), 0.0) | cores
    out["app"] = out["web"] + out["worker"]
    out.setdefault("machine", sum(out[k] for k in PROCESS_TYPES))
    return out


def level_stats(
    scenario: str,
    clients: int,
    *,
    rate: float,
    p99: float = 50.0,
    conflict_p99: float | None = None,
    cores: dict[str, float] | None = None,
    memory: dict[str, Memory] | None = None,
) -> LevelStats:
    """A level whose figure (`rate`) is `rate`: every answer for (b), successes otherwise."""
    return LevelStats(
        scenario=scenario,
        clients=clients,
        wall=8.0,
        throughput=rate / 10 if scenario == "b" else rate,
        answered=rate,
        ok=int(rate * 8),
        p50=p99 / 4,
        p95=p99 / 2,
        p99=p99,
        conflicts=0,
        conflict_p50=None if conflict_p99 is None else conflict_p99 / 4,
        conflict_p99=conflict_p99,
        errors=0,
        statuses={201: int(rate * 8)},
        started_at=0.0,
        ended_at=8.0,
        extra={
            "cpu": cpu(**(cores or {"web": 1.0, "worker": 0.2})),
            "memory": memory
            or {
                "web": Memory(700 * MIB, 7, 120 * MIB),
                "postgres": Memory(300 * MIB, 12, 150 * MIB),
            },
            "double_sell": {
                "ok": True,
                "overlapping": 0,
                "active": 0,
                "tickets": 0,
                "phantom": 0,
                "reservation_seats": 4,
            },
        },
    )


def bench_data(levels: dict[str, list[LevelStats]], **extra) -> BenchData:
    pgbench = PgbenchResult(
        tps=1000.0,
        latency_ms=6.0,
        transactions=8000,
        failed=0,
        seconds=8,
        clients=8,
        threads=2,
        command="pgbench -f bench/reserve.sql",
    )
    fields = {
        "machine": MACHINE,
        "config": CONFIG,
        "pgbench": pgbench,
        "levels": levels,
        "double_sell": {},
        "expiry": None,
        "events": None,
        "events_by_level": {},
        "outbox_pending": 0,
        "started": "2026-12-04 10:00 UTC",
    }
    return BenchData(**(fields | extra))
