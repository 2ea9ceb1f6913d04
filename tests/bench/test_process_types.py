"""CPU and memory by process type (bench.harness.CpuMonitor) from /proc snapshots."""

from __future__ import annotations

import os

import pytest

from bench.harness import CpuMonitor, Memory, Snapshot, proc_table, process_type

TICKS = os.sysconf("SC_CLK_TCK")
MIB = 1024 * 1024


def snapshot(at: float, busy: int, total: int, **processes: tuple[str, int, int]) -> Snapshot:
    return Snapshot(at, (busy, total), {int(pid[1:]): row for pid, row in processes.items()})


def test_cores_of_each_process_type_between_two_snapshots():
    before = snapshot(
        0.0,
        1000,
        4000,
        p1=("web", 10 * TICKS, 0),
        p2=("postgres", 0, 0),
        p3=("client", TICKS, 0),
    )
    after = snapshot(
        2.0,
        1000 + 3 * TICKS,
        4000 + 4 * TICKS,  # 2 s of 2 CPUs, 3 s of them busy
        p1=("web", 12 * TICKS, 0),  # 2 s of CPU in 2 s: one core
        p2=("postgres", TICKS, 0),
        p3=("client", TICKS, 0),
        p4=("rabbitmq", TICKS // 2, 0),  # started during the window: all its CPU counts
        p5=("py-spy", TICKS, 0),
    )

    cores = CpuMonitor.between(before, after)

    assert cores["web"] == pytest.approx(1.0)
    assert cores["postgres"] == pytest.approx(0.5)
    assert cores["client"] == 0
    assert cores["rabbitmq"] == pytest.approx(0.25)
    assert cores["py-spy"] == pytest.approx(0.5)
    assert cores["redis"] == cores["worker"] == cores["other"] == 0
    assert cores["app"] == pytest.approx(1.0)
    assert cores["machine"] == pytest.approx(0.75 * (os.cpu_count() or 1))


def test_memory_by_process_type_leaves_out_launchers_and_the_profiler():
    taken = snapshot(
        0.0,
        0,
        0,
        p1=("web", 0, 100 * MIB),
        p2=("web", 0, 300 * MIB),
        p3=("web", 0, 0),  # a launcher (`make`): rss recorded as 0
        p4=("redis", 0, 10 * MIB),
        p5=("py-spy", 0, 50 * MIB),
    )

    assert CpuMonitor.memory(taken) == {
        "web": Memory(400 * MIB, 2, 300 * MIB),
        "redis": Memory(10 * MIB, 1, 10 * MIB),
    }


@pytest.mark.parametrize(
    ("comm", "kind"),
    [
        ("postgres", "postgres"),
        ("redis-server", "redis"),
        ("beam.smp", "rabbitmq"),
        ("epmd", "rabbitmq"),
        ("erl_child_setup", "rabbitmq"),
        ("inet_gethost", "rabbitmq"),
        ("python", "other"),
        ("granian", "other"),
    ],
)
def test_services_are_told_apart_by_command_name(comm, kind):
    assert process_type(comm) == kind


def test_the_process_table_has_this_process_with_its_memory():
    me = proc_table()[os.getpid()]

    assert me.pgrp == os.getpgrp()
    assert me.rss > 10 * MIB
    assert me.ticks >= 0
