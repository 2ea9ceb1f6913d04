"""(g), the rush watched by live seat maps: its table, notes and targets in the report, and its
figures in results.json, from a run made up in memory."""

from __future__ import annotations

import pytest

from bench import figures, report
from tests.bench.helpers import bench_data, level_stats
from tests.bench.test_report_tables import table


def streams(**changes) -> dict:
    return {
        "streams": 1000,
        "ready": 1000,
        "changes": 30,
        "expected": 30_000,
        "delivered": 30_000,
        "complete": 1000,
        "dropped": 0,
        "closed": 0,
        "failed": 0,
        "p50_ms": 40.0,
        "p99_ms": 180.0,
        "max_ms": 260.0,
        "rss_idle_kib": 60_000,
        "rss_open_kib": 100_000,
        "kib_per_stream": 40.0,
        "server_cores": 0.35,
        **changes,
    }


def run(b_409_p99: float = 100.0, g_409_p99: float = 110.0, **stream_changes):
    rush = level_stats("b", 64, rate=1000, conflict_p99=b_409_p99)
    watched = level_stats("g", 64, rate=950, conflict_p99=g_409_p99)
    watched.extra["streams"] = streams(**stream_changes)
    return bench_data({"b": [rush], "g": [watched]})


def test_the_watched_rush_has_its_table_with_the_streams_figures():
    lines = report.scenario_tables(run())

    rows = table(lines, "### (g) Rush watched by 1,000 live seat maps")

    header = dict(zip(rows[0], rows[1], strict=True))
    assert header["clients"] == "64"
    assert header["requests/s"] == "950"
    assert header["409 p99 ms"] == "110.0"
    assert header["delivered"] == "30000/30000"
    assert header["commit → arrival p50 ms"] == "40.0"
    assert header["commit → arrival p99 ms"] == "180.0"
    assert header["p99 ms"] == "50.0"  # the rush's own
    assert header["KiB a stream"] == "40.0"


def g_verdicts(data) -> list[str]:
    """The verdicts of (g)'s targets: delivery, memory, the rush against (b)."""
    return [verdict for target, _, verdict in report.targets(data) if target.startswith("(g)")]


def test_the_targets_judge_delivery_memory_and_the_rush_against_b():
    met, no = "**met**", "**not met**"
    assert g_verdicts(run()) == [met, met, met]
    assert g_verdicts(run(p99_ms=650.0)) == [no, met, met]
    assert g_verdicts(run(delivered=29_999)) == [no, met, met]
    assert g_verdicts(run(kib_per_stream=49.0)) == [met, no, met]  # 49 KiB is 50.2 KB
    assert g_verdicts(run(g_409_p99=126.0)) == [met, met, no]


def test_without_b_at_the_same_level_the_rush_is_not_judged():
    data = run()
    data.levels["b"][0].clients = 32

    assert g_verdicts(data)[2] == "n/a"


@pytest.mark.parametrize("key", ["dropped", "closed", "failed"])
def test_streams_that_did_not_last_are_named_in_the_notes(key):
    lines = report.scenario_tables(run(**{key: 3}))

    assert any(
        "3 streams dropped" in line or "3 closed" in line or "3 could not" in line for line in lines
    )


def test_results_json_keeps_the_streams_figures():
    data = run()

    collected = report.run_figures(data)

    (watched,) = collected["scenarios"]["g"]
    assert watched["unit"] == "requests/s"
    assert watched["rate"] == 950
    assert watched["streams"]["p99_ms"] == 180.0
    assert figures.level(collected, "b", 64)["conflict_p99"] == 100.0
