"""bench/results.json and bench/baseline.json (bench.figures): a run's figures as data, and the
before/after table."""

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


def test_no_baseline_file_is_no_baseline(tmp_path):
    assert figures.load(tmp_path / "baseline.json") is None


def test_a_baseline_of_another_format_is_refused(tmp_path):
    path = tmp_path / "baseline.json"
    path.write_text(json.dumps({"format": 99}))

    with pytest.raises(ValueError, match="format 99"):
        figures.load(path)


def test_the_committed_baseline_holds_the_report_it_was_made_from():
    baseline = figures.load(figures.BASELINE)

    assert baseline["started"] == "2026-12-03 16:13 UTC"
    assert baseline["pgbench_tps"] == 1331.0
    a32 = figures.level(baseline, "a", 32)
    assert (a32["rate"], a32["p99"]) == (159.0, 598.0)
    assert a32["cpu_ms_per_op"] == {"web": 7.6, "worker": 0.9}
    b64 = figures.level(baseline, "b", 64)
    assert (b64["rate"], b64["conflict_p99"], b64["ok"]) == (498.0, 801.8, 24)
    assert [x["rate"] for x in baseline["scenarios"]["e"]] == [1011.0, 1244.0, 1292.0]
    assert {key: len(levels) for key, levels in baseline["scenarios"].items()} == dict.fromkeys(
        "abcdef", 3
    )


def test_the_comparison_sets_the_baseline_beside_this_run_where_both_have_a_figure():
    baseline = {
        "scenarios": {
            "a": [
                {"clients": 8, "unit": "reservations/s", "rate": 100.0, "p99": 200.0},
                {
                    "clients": 32,
                    "unit": "reservations/s",
                    "rate": 150.0,
                    "p99": 600.0,
                    "cpu_ms_per_op": {"web": 8.0},
                },
            ]
        }
    }
    now = {
        "scenarios": {
            "a": [
                {
                    "clients": 32,
                    "unit": "reservations/s",
                    "rate": 300.0,
                    "p99": 150.0,
                    "cpu_ms_per_op": {"web": 4.0, "worker": 0.5},
                },
                {"clients": 64, "unit": "reservations/s", "rate": 310.0, "p99": 300.0},
            ],
            "c": [{"clients": 32, "unit": "reads/s", "rate": 900.0}],
        }
    }

    header, rows = figures.comparison(now, baseline)

    assert header == ["run", "unit", "throughput", "p99 ms", "web CPU ms per op"]
    assert rows == [
        [
            "(a) 32",
            "reservations/s",
            "150 → 300 (+100%)",
            "600.0 → 150.0 (-75%)",
            "8.00 → 4.00 (-50%)",
        ]
    ]
