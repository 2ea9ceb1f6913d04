"""The report's tables of CPU, memory, speed targets, profiles and before/after (bench.report),
from a run made up in memory."""

from __future__ import annotations

from pathlib import Path

from bench import report
from bench.harness import Memory
from bench.profiles import Profile
from tests.bench.helpers import MIB, bench_data, level_stats

CORES = {
    "client": 0.1,
    "web": 1.2,
    "worker": 0.15,
    "postgres": 0.3,
    "redis": 0.05,
    "rabbitmq": 0.02,
    "other": 0.03,
    "machine": 1.9,
    "py-spy": 0.1,
}


def table(lines: list[str], heading: str) -> list[list[str]]:
    """The rows (cells) of the first table after `heading`, its header included."""
    rows = []
    for line in lines[lines.index(heading) + 1 :]:
        if not line.startswith("|"):
            if rows:
                break
            continue
        if set(line) - set("|-: "):  # not the alignment row
            rows.append([cell.strip() for cell in line.strip("|").split("|")])
    return rows


def test_cpu_in_cores_and_per_operation_for_every_process_type():
    data = bench_data(
        {
            "a": [level_stats("a", 32, rate=200.0, cores=CORES)],
            "b": [level_stats("b", 32, rate=600.0, cores=CORES)],
        }
    )

    lines = report.cpu_tables(data)

    cores = table(lines, "### CPU use during each run (cores, of 2)")
    assert cores == [
        ["run", "machine", "client", "web", "worker", "PostgreSQL", "Redis", "RabbitMQ", "other"],
        ["(a) 32", "1.90", "0.10", "1.20", "0.15", "0.30", "0.05", "0.02", "0.03"],
        ["(b) 32", "1.90", "0.10", "1.20", "0.15", "0.30", "0.05", "0.02", "0.03"],
    ]
    per_op = table(lines, "### CPU per operation (ms of CPU per op of the scenario's figure)")
    assert per_op[1:] == [
        ["(a) 32", "reservation", "9.50", "0.50", "6.00", "0.75", "1.50", "0.25", "0.10", "0.15"],
        ["(b) 32", "answer", "3.17", "0.17", "2.00", "0.25", "0.50", "0.08", "0.03", "0.05"],
    ]


def test_cpu_per_flow_of_f_counts_the_work_after_the_run():
    stats = level_stats("f", 8, rate=20.0, cores=CORES)
    stats.extra["drain"] = {"seconds": 4.0, **dict.fromkeys(CORES, 0.0), "worker": 0.5}

    per_op = table(
        report.cpu_tables(bench_data({"f": [stats]})),
        "### CPU per operation (ms of CPU per op of the scenario's figure)",
    )

    # 0.15 cores / 20 flows/s, plus 0.5 cores x 4 s over its 160 flows
    assert per_op[1][5] == f"{0.15 * 1000 / 20 + 0.5 * 4 * 1000 / 160:.2f}"


def test_memory_by_process_type_at_the_end_of_each_run():
    memory = {
        "web": Memory(1000 * MIB, 7, 150 * MIB),
        "worker": Memory(300 * MIB, 4, 110 * MIB),
        "postgres": Memory(400 * MIB, 20, 60 * MIB),
        "rabbitmq": Memory(130 * MIB, 3, 120 * MIB),
    }
    data = bench_data({"c": [level_stats("c", 8, rate=500.0, memory=memory)]})

    rows = table(report.memory_table(data), report.memory_table(data)[1])

    assert rows == [
        ["run", "web", "worker", "PostgreSQL", "Redis", "RabbitMQ"],
        ["(c) 8", "1,000 / 7 / 150", "300 / 4 / 110", "400 / 20 / 60", "n/a", "130 / 3 / 120"],
    ]


def _run(**extra):
    levels = {
        "a": [level_stats("a", 32, rate=200.0, cores=CORES)],  # pgbench 1,000: needs 250
        "b": [
            level_stats("b", 32, rate=1100.0),
            level_stats("b", 64, rate=1200.0, conflict_p99=99.0),
        ],
        "c": [level_stats("c", 32, rate=900.0)],
    }
    return bench_data(levels, **extra)


def test_speed_targets_point_to_the_profile_of_a_scenario_that_misses_one():
    profile = Profile("a", 32, process="web-8701, pid 7", samples=400, seconds=5)
    profile.svg, profile.text = Path("bench/profiles/a.svg"), Path("bench/profiles/a.txt")
    profile.own = [("f (x.py:1)", 50.0)]
    failed = Profile("c", 32, error="py-spy could not record pid 9: Permission denied")
    data = _run(profiles={"a": profile, "c": failed})

    rows = table(report.speed_targets_table(data, report.run_figures(data)), "## Speed targets")

    assert rows[0] == ["target", "measured", "verdict", "where the CPU goes"]
    by_target = {row[0]: row[1:] for row in rows[1:]}
    assert by_target["(a) uncontended reservations/s at 32 clients ≥ 0.25 x pgbench tps"] == [
        "200/s (0.25 x 1,000 tps = 250/s)",
        "**not met**",
        "[flame graph](profiles/a.svg), [top 1](profiles/a.txt)",
    ]
    assert by_target["(b) rush answers/s at 32 clients ≥ 1,000"] == ["1,100/s", "**met**", ""]
    assert by_target["(b) rush 409 p99 at 64 clients ≤ 150 ms"] == ["99.0 ms", "**met**", ""]
    assert by_target["(c) seat map reads/s at 32 clients ≥ 1,200"][2] == (
        "no profile: py-spy could not record pid 9: Permission denied"
    )
    assert by_target["(d) reserve-then-pay flows/s at 32 clients ≥ 80"] == [
        "32 clients not run",
        "n/a",
        "",
    ]
    assert by_target["worker CPU per reservation in (a) at 32 clients ≤ 1 ms"] == [
        "0.8 ms",
        "**met**",
        "",
    ]


def test_with_a_baseline_the_speed_targets_show_its_verdicts_too():
    baseline = {
        "format": 1,
        "pgbench_tps": 1331.0,
        "scenarios": {"a": [{"clients": 32, "rate": 159.0, "cpu_ms_per_op": {"worker": 0.9}}]},
    }
    data = _run(baseline=baseline)

    rows = table(report.speed_targets_table(data, report.run_figures(data)), "## Speed targets")

    assert rows[0] == ["target", "measured", "verdict", "baseline", "where the CPU goes"]
    assert rows[1][3] == "159/s (0.25 x 1,331 tps = 333/s): **not met**"
    assert rows[2][3] == "32 clients not run: n/a"
    assert rows[7][3] == "0.9 ms: **met**"


def test_the_profiles_section_ranks_self_and_inclusive_side_by_side():
    profile = Profile(
        "b", 32, process="web-8701, pid 7", samples=300, seconds=5, rate=250, cpu_seconds=0.5
    )
    profile.svg, profile.text = Path("bench/profiles/b.svg"), Path("bench/profiles/b.txt")
    profile.own = [("leaf (a.py:1)", 40.0)]
    profile.inclusive = [("main (a.py:9)", 100.0), ("leaf (a.py:1)", 40.0)]

    lines = report.profiles_section(bench_data({}, profiles={"b": profile}))

    assert (
        "- (b) at 32 clients: web-8701, pid 7, 5 s at 250 samples/s, 300 samples (py-spy "
        "itself: 0.10 cores): "
        "[flame graph](profiles/b.svg), [top 1](profiles/b.txt)." in lines
    )
    assert table(lines, "<details><summary>top functions (% of samples)</summary>") == [
        ["#", "self %", "function", "inclusive %", "function"],
        ["1", "40.0", "`leaf (a.py:1)`", "100.0", "`main (a.py:9)`"],
        ["2", "", "", "40.0", "`leaf (a.py:1)`"],
    ]


def test_no_baseline_no_before_and_after():
    data = _run()

    assert report.comparison_section(data, report.run_figures(data)) == []


def test_the_before_and_after_section_says_what_the_baseline_is():
    baseline = {
        "format": 1,
        "note": "Before the change.",
        "started": "2026-12-03 16:13 UTC",
        "commit": "82d77e1",
        "pgbench_tps": 1331.0,
        "scenarios": {"c": [{"clients": 32, "unit": "reads/s", "rate": 545.0, "p99": 388.2}]},
    }
    data = _run(baseline=baseline)

    lines = report.comparison_section(data, report.run_figures(data))

    assert lines[3].startswith(
        "Baseline (bench/baseline.json): Before the change. Run of 2026-12-03 16:13 UTC, commit "
        "82d77e1."
    )
    assert "1331 tps then and 1000 tps now" in lines[3]
    assert table(lines, "## Before and after") == [
        ["run", "unit", "throughput", "p99 ms"],
        ["(c) 32", "reads/s", "545 → 900 (+65%)", "388.2 → 50.0 (-87%)"],
    ]


def test_the_whole_report_renders_every_new_section():
    profile = Profile("a", 32, process="web-8701, pid 7", samples=400, seconds=5)
    profile.svg, profile.text = Path("bench/profiles/a.svg"), Path("bench/profiles/a.txt")
    data = _run(profiles={"a": profile}, baseline={"format": 1, "scenarios": {}})

    text = report.render(data)

    for heading in (
        "### CPU use during each run (cores, of 2)",
        "### CPU per operation (ms of CPU per op of the scenario's figure)",
        "### Resident memory at the end of each run (MiB in all / processes / MiB of the largest)",
        "## Targets",
        "## Speed targets",
        "### Profiles (py-spy)",
        "## Before and after",
    ):
        assert f"\n{heading}\n" in text
