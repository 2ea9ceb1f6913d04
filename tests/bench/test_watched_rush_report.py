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
        "listener_cores": 0.04,
        "reads": 31_000,
        **changes,
    }


def control(conflict_p99: float, answered: float = 990.0) -> dict:
    return {
        "answered": answered,
        "conflict_p50": 30.0,
        "conflict_p99": conflict_p99,
        "double_sell": {"count": 0, "ok": True},
    }


def run(
    b_409_p99: float = 100.0,
    g_409_p99: float = 110.0,
    controls_409_p99: tuple[float, ...] = (105.0, 115.0),
    **stream_changes,
):
    rush = level_stats("b", 64, rate=1000, conflict_p99=b_409_p99)
    watched = level_stats("g", 64, rate=950, conflict_p99=g_409_p99)
    watched.extra["streams"] = streams(**stream_changes)
    if controls_409_p99:
        answered = (990.0, 1010.0)[: len(controls_409_p99)]
        watched.extra["controls"] = [
            control(p99, rate) for p99, rate in zip(controls_409_p99, answered, strict=True)
        ]
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
    assert header["stream server cores"] == "0.35"
    assert header["listeners cores"] == "0.04"


def test_the_notes_give_the_reads_a_listener_made():
    lines = report.scenario_tables(run())

    (note,) = [line for line in lines if "a listener read" in line]
    assert "a listener read 31.0 times after its snapshot" in note
    assert "(30 changes)" in note


def test_a_run_from_before_the_reads_were_counted_has_no_such_note():
    data = run()
    for stats in data.levels["g"]:
        del stats.extra["streams"]["reads"], stats.extra["streams"]["listener_cores"]

    lines = report.scenario_tables(data)

    assert not [line for line in lines if "a listener read" in line]
    rows = table(lines, "### (g) Rush watched by 1,000 live seat maps")
    assert dict(zip(rows[0], rows[1], strict=True))["listeners cores"] == "n/a"


def g_verdicts(data) -> list[str]:
    """The verdicts of (g)'s targets: delivery, memory, the rush against its control."""
    return [verdict for target, _, verdict in report.targets(data) if target.startswith("(g)")]


def test_the_targets_judge_delivery_memory_and_the_rush_against_its_controls():
    met, no = "**met**", "**not met**"
    assert g_verdicts(run()) == [met, met, met]
    assert g_verdicts(run(p99_ms=650.0)) == [no, met, met]
    assert g_verdicts(run(delivered=29_999)) == [no, met, met]
    assert g_verdicts(run(kib_per_stream=49.0)) == [met, no, met]  # 49 KiB is 50.2 KB


@pytest.mark.parametrize(
    ("watched", "controls", "verdict"),
    [
        (115.0, (105.0, 115.0), "**met**"),  # as slow as the slower control
        (115.0, (115.0, 105.0), "**met**"),  # whichever ran first
        (100.0, (105.0, 115.0), "**met**"),  # faster than both
        (115.1, (105.0, 115.0), "**not met**"),
        (130.0, (100.0, 100.0), "**not met**"),  # no noise: any slowdown counts
    ],
)
def test_the_watched_rush_is_judged_against_the_slower_of_its_two_controls(
    watched, controls, verdict
):
    # (b), earlier in the run, does not decide.
    assert g_verdicts(run(g_409_p99=watched, controls_409_p99=controls, b_409_p99=500.0))[2] == (
        verdict
    )


def test_the_comparison_shows_both_controls_and_the_spread_between_them():
    (found,) = [row for row in report.targets(run()) if "without listeners" in row[0]]

    assert "110.0 ms watched; 105.0 and 115.0 ms without (1.10 x between them)" in found[1]
    assert "watched / their mean 1.00 x" in found[1]
    assert "answers/s 950 vs 990 and 1010" in found[1]


@pytest.mark.parametrize("controls", [(), (105.0,)])
def test_without_both_controls_the_rush_is_not_judged(controls):
    assert g_verdicts(run(controls_409_p99=controls))[2] == "n/a"


def test_both_controls_are_in_the_notes():
    lines = report.scenario_tables(run())

    (note,) = [line for line in lines if "controls: the same rush" in line]
    assert "before: 990 answers/s, 409 p50 30.0 ms, 409 p99 105.0 ms" in note
    assert "after: 1010 answers/s, 409 p50 30.0 ms, 409 p99 115.0 ms" in note


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
    assert [c["conflict_p99"] for c in watched["controls"]] == [105.0, 115.0]
    assert figures.level(collected, "b", 64)["conflict_p99"] == 100.0
