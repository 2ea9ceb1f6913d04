"""The speed targets (bench.figures.speed_targets), judged on a run's figures."""

from __future__ import annotations

import pytest

from bench.figures import SPEED_TARGETS, speed_targets


def figures(**levels: dict) -> dict:
    """Figures of a run whose pgbench ran 1,000 tps; `a32={...}` is (a) at 32 clients."""
    scenarios: dict[str, list[dict]] = {}
    for name, figures in levels.items():
        scenarios.setdefault(name[0], []).append({"clients": int(name[1:]), **figures})
    return {"pgbench_tps": 1000.0, "scenarios": scenarios}


def verdicts(run: dict) -> dict[str, tuple[str, bool | None]]:
    return {v.target.text: (v.measured, v.ok) for v in speed_targets(run)}


ALL_MET = figures(
    a32={"rate": 250.0, "cpu_ms_per_op": {"worker": 1.0}},
    b32={"rate": 1000.0},
    b64={"rate": 900.0, "conflict_p99": 150.0},
    c32={"rate": 1200.0},
    d32={"rate": 80.0},
    e32={"rate": 2000.0},
)


def test_every_target_met_exactly_at_its_limit():
    assert verdicts(ALL_MET) == {
        "(a) uncontended reservations/s at 32 clients ≥ 0.25 x pgbench tps": (
            "250/s (0.25 x 1,000 tps = 250/s)",
            True,
        ),
        "(b) rush answers/s at 32 clients ≥ 1,000": ("1,000/s", True),
        "(b) rush 409 p99 at 64 clients ≤ 150 ms": ("150.0 ms", True),
        "(c) seat map reads/s at 32 clients ≥ 1,200": ("1,200/s", True),
        "(d) reserve-then-pay flows/s at 32 clients ≥ 80": ("80/s", True),
        "(e) empty requests/s at 32 clients ≥ 2,000": ("2,000/s", True),
        "worker CPU per reservation in (a) at 32 clients ≤ 1 ms": ("1.0 ms", True),
    }


@pytest.mark.parametrize(
    ("level", "figure", "value", "target"),
    [
        ("a32", "rate", 249.9, "(a) uncontended reservations/s at 32 clients ≥ 0.25 x pgbench tps"),
        ("b32", "rate", 999.0, "(b) rush answers/s at 32 clients ≥ 1,000"),
        ("b64", "conflict_p99", 150.1, "(b) rush 409 p99 at 64 clients ≤ 150 ms"),
        ("c32", "rate", 1199.0, "(c) seat map reads/s at 32 clients ≥ 1,200"),
        ("d32", "rate", 79.9, "(d) reserve-then-pay flows/s at 32 clients ≥ 80"),
        ("e32", "rate", 1999.0, "(e) empty requests/s at 32 clients ≥ 2,000"),
    ],
)
def test_a_figure_past_its_limit_fails_that_target_alone(level, figure, value, target):
    scenario = ALL_MET["scenarios"][level[0]]
    changed = [x | {figure: value} if x["clients"] == int(level[1:]) else x for x in scenario]
    run = ALL_MET | {"scenarios": ALL_MET["scenarios"] | {level[0]: changed}}

    failed = [text for text, (_, ok) in verdicts(run).items() if not ok]

    assert failed == [target]


def test_the_worker_cpu_per_reservation_is_judged_on_a_at_32_clients():
    run = figures(a32={"rate": 250.0, "cpu_ms_per_op": {"worker": 1.3}})

    assert verdicts(run)["worker CPU per reservation in (a) at 32 clients ≤ 1 ms"] == (
        "1.3 ms",
        False,
    )


def test_a_level_not_run_or_a_figure_not_measured_is_no_verdict():
    run = figures(a32={"rate": 250.0}) | {"pgbench_tps": None}

    result = verdicts(run)

    assert result["(a) uncontended reservations/s at 32 clients ≥ 0.25 x pgbench tps"] == (
        "not measured",
        None,
    )
    assert result["worker CPU per reservation in (a) at 32 clients ≤ 1 ms"] == (
        "not measured",
        None,
    )
    assert result["(c) seat map reads/s at 32 clients ≥ 1,200"] == ("32 clients not run", None)
    assert len(result) == len(SPEED_TARGETS)
