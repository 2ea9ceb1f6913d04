"""A run's figures as data: bench/results.json (written by every run), bench/baseline.json (the
figures of an earlier run the report sets beside this one's), and the speed targets, judged on
either.

The figures of a run: {"format", "note", "started", "commit", "seconds", "levels", "machine",
"pgbench_tps", "scenarios": {scenario: [level, ...]}}, a level being {"clients", "unit", "rate"
(the scenario's headline figure: every answer for (b), successful operations otherwise),
"throughput", "p50", "p95", "p99", "conflicts", "conflict_p50", "conflict_p99", "errors",
"cpu_cores" and "cpu_ms_per_op" by process type (and "machine"), "memory" by process type
({"total_mib", "count", "largest_mib"}), and for (g) "streams" (the live seat maps' figures)};
latencies in ms. A baseline made from an older report
has only what that report showed: a figure it lacks is missing or null, and is shown as n/a.
To make a run the baseline: copy bench/results.json to bench/baseline.json and say in its
"note" what it is.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .harness import OUT_DIR, PROCESS_TYPES
from .scenarios import UNITS, LevelStats

RESULTS = OUT_DIR / "results.json"
BASELINE = OUT_DIR / "baseline.json"
FORMAT = 1
MIB = 1024 * 1024


def _round(value: float | None, digits: int = 2) -> float | None:
    return None if value is None else round(value, digits)


def level_figures(stats: LevelStats) -> dict:
    cpu = stats.extra.get("cpu") or {}
    memory = stats.extra.get("memory") or {}
    kinds = ("machine", *PROCESS_TYPES)
    return {
        "clients": stats.clients,
        "unit": UNITS[stats.scenario],
        "rate": _round(stats.rate, 1),
        "throughput": _round(stats.throughput, 1),
        "answered": _round(stats.answered, 1),
        "ok": stats.ok,
        "p50": _round(stats.p50),
        "p95": _round(stats.p95),
        "p99": _round(stats.p99),
        "conflicts": stats.conflicts,
        "conflict_p50": _round(stats.conflict_p50),
        "conflict_p99": _round(stats.conflict_p99),
        "errors": stats.errors,
        "cpu_cores": {kind: _round(cpu[kind], 3) for kind in kinds if kind in cpu},
        "cpu_ms_per_op": {
            kind: _round(stats.cpu_ms_per_op(kind), 3) for kind in kinds if kind in cpu
        },
        "memory": {
            kind: {
                "total_mib": _round(m.total / MIB, 1),
                "count": m.count,
                "largest_mib": _round(m.largest / MIB, 1),
            }
            for kind, m in memory.items()
        },
        **({"streams": stats.extra["streams"]} if "streams" in stats.extra else {}),
        **(
            {"controls": [_control_figures(c) for c in stats.extra["controls"]]}
            if "controls" in stats.extra
            else {}
        ),
    }


def _control_figures(control: dict) -> dict:
    """(g)'s rush without listeners: its rate and 409s (its double-sell check is in the report)."""
    return {
        "answered": _round(control["answered"], 1),
        "conflict_p50": _round(control["conflict_p50"]),
        "conflict_p99": _round(control["conflict_p99"]),
    }


def collect(
    levels: dict[str, list[LevelStats]],
    *,
    pgbench_tps: float | None,
    started: str,
    commit: str,
    seconds: float,
    machine: dict[str, str],
) -> dict:
    return {
        "format": FORMAT,
        "note": "",
        "started": started,
        "commit": commit,
        "seconds": seconds,
        "levels": sorted({s.clients for stats in levels.values() for s in stats}),
        "machine": machine,
        "pgbench_tps": _round(pgbench_tps, 1),
        "scenarios": {key: [level_figures(s) for s in stats] for key, stats in levels.items()},
    }


def write(figures: dict, path: Path = RESULTS) -> None:
    path.write_text(json.dumps(figures, indent=1, ensure_ascii=False) + "\n")


def load(path: Path = BASELINE) -> dict | None:
    """The figures in `path`, or None when there is no such file."""
    if not path.exists():
        return None
    figures = json.loads(path.read_text())
    if figures.get("format") != FORMAT:
        raise ValueError(f"{path}: format {figures.get('format')!r}, expected {FORMAT}")
    return figures


def level(figures: dict, scenario: str, clients: int) -> dict | None:
    return next(
        (x for x in figures.get("scenarios", {}).get(scenario, []) if x["clients"] == clients),
        None,
    )


# --- Speed targets -------------------------------------------------------------------------


@dataclass(frozen=True)
class SpeedTarget:
    scenario: str
    clients: int
    text: str
    value: Callable[[dict], float | None]  # from the level's figures
    limit: Callable[[dict], float | None]  # from the run's figures (pgbench's for (a))
    at_most: bool = False  # the value must stay at or under the limit (else: reach it)
    unit: str = "/s"
    profiled: bool = True  # a profile of a web process shows where this one's CPU goes


def _rate(x: dict) -> float | None:
    return x.get("rate")


def _at_least(scenario: str, what: str, floor: float) -> SpeedTarget:
    """A target on the scenario's figure at 32 clients."""
    return SpeedTarget(
        scenario,
        32,
        f"({scenario}) {what} at 32 clients ≥ {floor:,.0f}",
        _rate,
        lambda figures: floor,
    )


SPEED_TARGETS = (
    SpeedTarget(
        "a",
        32,
        "(a) uncontended reservations/s at 32 clients ≥ 0.25 x pgbench tps",
        _rate,
        lambda figures: 0.25 * figures["pgbench_tps"] if figures.get("pgbench_tps") else None,
    ),
    _at_least("b", "rush answers/s", 1000),
    SpeedTarget(
        "b",
        64,
        "(b) rush 409 p99 at 64 clients ≤ 150 ms",
        lambda x: x.get("conflict_p99"),
        lambda figures: 150.0,
        at_most=True,
        unit=" ms",
    ),
    _at_least("c", "seat map reads/s", 1200),
    _at_least("d", "reserve-then-pay flows/s", 80),
    _at_least("e", "empty requests/s", 2000),
    SpeedTarget(
        "a",
        32,
        "worker CPU per reservation in (a) at 32 clients ≤ 1 ms",
        lambda x: x.get("cpu_ms_per_op", {}).get("worker"),
        lambda figures: 1.0,
        at_most=True,
        unit=" ms",
        profiled=False,
    ),
)


@dataclass(frozen=True)
class Verdict:
    target: SpeedTarget
    measured: str
    ok: bool | None  # None: not measured (level not run, figure missing)


def _shown(value: float, unit: str) -> str:
    return f"{value:,.0f}{unit}" if unit == "/s" else f"{value:,.1f}{unit}"


def speed_targets(figures: dict) -> list[Verdict]:
    """Each speed target judged on a run's figures."""
    verdicts = []
    for target in SPEED_TARGETS:
        found = level(figures, target.scenario, target.clients)
        value = target.value(found) if found else None
        limit = target.limit(figures)
        if found is None:
            verdicts.append(Verdict(target, f"{target.clients} clients not run", None))
        elif value is None or limit is None:
            verdicts.append(Verdict(target, "not measured", None))
        else:
            ok = value <= limit if target.at_most else value >= limit
            measured = _shown(value, target.unit)
            if target.scenario == "a" and target.unit == "/s":
                measured += f" (0.25 x {figures['pgbench_tps']:,.0f} tps = {limit:,.0f}/s)"
            verdicts.append(Verdict(target, measured, ok))
    return verdicts


# --- Before and after ------------------------------------------------------------------------

# (title, the figure in a level, digits): the main columns, baseline beside this run.
COMPARED: tuple[tuple[str, Callable[[dict], float | None], int], ...] = (
    ("throughput", _rate, 0),
    ("p99 ms", lambda x: x.get("p99"), 1),
    *(
        (f"{kind} CPU ms per op", lambda x, kind=kind: x.get("cpu_ms_per_op", {}).get(kind), 2)
        for kind in ("machine", *PROCESS_TYPES)
    ),
)


def _change(before: float | None, after: float | None, digits: int) -> str:
    if before is None and after is None:
        return "n/a"
    if before is None or after is None:
        return f"{'n/a' if before is None else f'{before:,.{digits}f}'} → " + (
            "n/a" if after is None else f"{after:,.{digits}f}"
        )
    text = f"{before:,.{digits}f} → {after:,.{digits}f}"
    if before:
        text += f" ({(after - before) / before * 100:+.0f}%)"
    return text


def comparison(current: dict, baseline: dict) -> tuple[list[str], list[list[str]]]:
    """(header, rows) of the before/after table: one row a scenario level that both runs have,
    a column a main figure that both have somewhere; each cell "baseline → this run (change)"."""
    pairs = []
    for scenario, levels in current.get("scenarios", {}).items():
        for now in levels:
            before = level(baseline, scenario, now["clients"])
            if before:
                pairs.append((scenario, now, before))
    columns = [
        (title, value, digits)
        for title, value, digits in COMPARED
        if any(value(now) is not None and value(before) is not None for _, now, before in pairs)
    ]
    header = ["run", "unit", *(title for title, _, _ in columns)]
    rows = [
        [
            f"({scenario}) {now['clients']}",
            now["unit"],
            *(_change(value(before), value(now), digits) for _, value, digits in columns),
        ]
        for scenario, now, before in pairs
    ]
    return header, rows
