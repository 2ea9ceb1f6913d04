"""bench/results.json (bench.figures): a run's figures as data."""

from __future__ import annotations

import json

import pytest

from bench import figures
from bench.harness import Memory
from tests.bench.helpers import MIB, level_stats


def test_a_level_figures_carry_rate_latency_cpu_and_memory():
    stats = level_stats(
        "b",
        32,
        rate=800.0,
        p99=90.0,
        conflict_p99=40.0,
        cores={"web": 1.6, "worker": 0.04, "postgres": 0.2},
        memory={"web": Memory(900 * MIB, 7, 140 * MIB)},
    )

    level = figures.level_figures(stats)

    assert level["clients"] == 32
    assert level["unit"] == "requests/s"
    assert level["rate"] == 800.0  # every answer of a rush
    assert level["throughput"] == 80.0  # its 201s
    assert (level["p99"], level["conflict_p99"]) == (90.0, 40.0)
    assert level["cpu_cores"]["web"] == 1.6
    assert level["cpu_ms_per_op"]["web"] == 2.0  # 1.6 cores / 800 answers/s
    assert level["cpu_ms_per_op"]["worker"] == 0.05
    assert level["cpu_ms_per_op"]["postgres"] == 0.25
    assert level["cpu_ms_per_op"]["machine"] == 2.3
    assert level["memory"] == {"web": {"total_mib": 900.0, "count": 7, "largest_mib": 140.0}}


def test_a_run_written_then_loaded_is_the_same(tmp_path):
    run = figures.collect(
        {"a": [level_stats("a", 8, rate=100.0), level_stats("a", 32, rate=150.0)]},
        pgbench_tps=1234.56,
        started="2026-12-04 10:00 UTC",
        commit="abc1234",
        seconds=8.0,
        machine={"nproc": "2"},
    )
    path = tmp_path / "results.json"

    figures.write(run, path)

    assert figures.load(path) == run
    assert run["levels"] == [8, 32]
    assert run["pgbench_tps"] == 1234.6
    assert figures.level(run, "a", 32)["rate"] == 150.0
    assert figures.level(run, "a", 64) is None


def test_no_file_no_figures(tmp_path):
    assert figures.load(tmp_path / "results.json") is None


def test_figures_of_another_format_are_refused(tmp_path):
    path = tmp_path / "results.json"
    path.write_text(json.dumps({"format": 99}))

    with pytest.raises(ValueError, match="format 99"):
        figures.load(path)
