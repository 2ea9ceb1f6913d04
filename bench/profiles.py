"""Profiles beside the report: where one web process spends its CPU while a scenario runs.

During the profiled scenarios (BENCH_PROFILE, `abcd`) at BENCH_PROFILE_CLIENTS (32) clients,
py-spy samples the busiest process of the first web instance (the one using the most CPU over
the run's first half second, from /proc, whatever the server) for up to BENCH_PROFILE_SECONDS
(5) at BENCH_PROFILE_RATE (250) samples a second, and the run writes
bench/profiles/<scenario>.svg (a flame graph, drawn here from py-spy's raw samples) and
bench/profiles/<scenario>.txt (the top functions by inclusive and by self share of the samples).

Only the thread holding the GIL is sampled (`--gil`): a web process's Python code runs one thread
at a time, so that is where its CPU goes; threads waiting for a request or a lock, which py-spy
cannot always tell from running ones, stay out. py-spy's own CPU is measured and reported (about
0.1 of the 2 cores at 250 samples a second, 0.04 at 100). If py-spy cannot attach (no ptrace
permission, not installed), the profile says why and the run goes on.
"""

from __future__ import annotations

import colorsys
import html
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import zlib
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from .harness import LAUNCHERS, OUT_DIR, WORK_DIR, log, proc_table

SCENARIOS = os.environ.get("BENCH_PROFILE", "abcd")
CLIENTS = int(os.environ.get("BENCH_PROFILE_CLIENTS", "32"))
SECONDS = float(os.environ.get("BENCH_PROFILE_SECONDS", "5"))
RATE = int(os.environ.get("BENCH_PROFILE_RATE", "250"))
PROFILE_DIR = OUT_DIR / "profiles"
TOP = 15
# From the run's start: the clients ramp up, then the busiest process is picked over a window.
LEAD_SECONDS = 0.25
PICK_SECONDS = 0.25

Stacks = dict[tuple[str, ...], int]  # frames, outermost first -> samples


@dataclass
class Profile:
    scenario: str
    clients: int
    process: str = ""  # which process was sampled, for the report
    seconds: int = 0
    rate: int = RATE
    samples: int = 0
    inclusive: list[tuple[str, float]] = field(default_factory=list)  # (function, % of samples)
    own: list[tuple[str, float]] = field(default_factory=list)
    cpu_seconds: float | None = None  # py-spy's own
    svg: Path | None = None
    text: Path | None = None
    error: str | None = None


def wanted(scenario: str, clients: int) -> bool:
    return scenario in SCENARIOS and clients == CLIENTS


def clear() -> None:
    """Drop the last run's profiles: a scenario this run does not profile must not show an old
    one."""
    for old in (*PROFILE_DIR.glob("*.svg"), *PROFILE_DIR.glob("*.txt")):
        old.unlink()


class ProfileRecorder:
    """A harness.RunObserver: once the run has started, picks the busiest process of `group`
    (the first web instance's process group) and records it with py-spy for up to SECONDS."""

    def __init__(self, scenario: str, clients: int, group: int, name: str) -> None:
        self.profile = Profile(scenario, clients)
        self.group = group
        self.name = name
        self._thread: threading.Thread | None = None

    def started(self, seconds: float) -> None:
        duration = min(SECONDS, seconds - LEAD_SECONDS - PICK_SECONDS - 0.25)
        if duration < 1:
            self.profile.error = f"the level ran {seconds:g} s: too short for a profile"
            return
        self._thread = threading.Thread(target=self._record, args=(int(duration),), daemon=True)
        self._thread.start()

    def ended(self) -> None:
        if self._thread:
            self._thread.join(timeout=SECONDS + 30)

    def _record(self, seconds: int) -> None:
        try:
            self._sample(seconds)
        except Exception as exc:  # reported in place of the profile; the run goes on
            self.profile.error = repr(exc)

    def _sample(self, seconds: int) -> None:
        profile = self.profile
        spy = _py_spy()
        if spy is None:
            profile.error = "py-spy is not installed (make bench-install)"
            return
        time.sleep(LEAD_SECONDS)
        pid = busiest(self.group, PICK_SECONDS)
        if pid is None:
            profile.error = f"no process of {self.name} used any CPU"
            return
        profile.process = f"{self.name}, pid {pid}"
        profile.seconds = seconds
        WORK_DIR.mkdir(parents=True, exist_ok=True)
        raw = WORK_DIR / f"profile-{profile.scenario}.txt"
        raw.unlink(missing_ok=True)
        argv = [spy, "record", "--pid", str(pid), "--rate", str(RATE)]
        argv += ["--duration", str(seconds), "--gil", "--function", "--format", "raw"]
        argv += ["--output", str(raw)]
        returncode, output, profile.cpu_seconds = _run_measured(argv, seconds + 30)
        if returncode != 0 or not raw.exists():
            lines = output.strip().splitlines()
            profile.error = f"py-spy could not record pid {pid}: " + " ".join(lines[-3:])
            return
        stacks = parse_raw(raw.read_text())
        profile.samples = sum(stacks.values())
        profile.inclusive, profile.own = top_functions(stacks, TOP)
        PROFILE_DIR.mkdir(parents=True, exist_ok=True)
        title = f"({profile.scenario}) at {profile.clients} clients: {profile.process}"
        profile.svg = PROFILE_DIR / f"{profile.scenario}.svg"
        profile.svg.write_text(flame_svg(stacks, f"{title}, {seconds} s at {RATE} Hz"))
        profile.text = PROFILE_DIR / f"{profile.scenario}.txt"
        profile.text.write_text(top_text(profile, title))
        log(f"profile ({profile.scenario}): {profile.samples} samples of {profile.process}")


def _run_measured(argv: list[str], timeout: float) -> tuple[int, str, float]:
    """(exit code, output, CPU seconds) of a command: its CPU from the kernel's accounting when
    it is reaped, which a snapshot of /proc at the level's end would miss (it is gone by then)."""
    with tempfile.TemporaryFile("w+") as output:
        process = subprocess.Popen(argv, stdout=output, stderr=subprocess.STDOUT, text=True)
        killer = threading.Timer(timeout, process.kill)
        killer.start()
        try:
            _, status, usage = os.wait4(process.pid, 0)
        finally:
            killer.cancel()
        process.returncode = os.waitstatus_to_exitcode(status)
        output.seek(0)
        return process.returncode, output.read(), usage.ru_utime + usage.ru_stime


def _py_spy() -> str | None:
    beside = Path(sys.executable).with_name("py-spy")
    return str(beside) if beside.exists() else shutil.which("py-spy")


def busiest(group: int, window: float) -> int | None:
    """The process of a process group that used the most CPU over `window` seconds (a server's
    worker, not its supervisor nor the `make` that started it)."""
    before = proc_table()
    time.sleep(window)
    after = proc_table()
    used = {
        pid: row.ticks - before[pid].ticks
        for pid, row in after.items()
        if row.pgrp == group and row.comm not in LAUNCHERS and pid in before
    }
    pid = max(used, key=used.__getitem__, default=None)
    return pid if pid is not None and used[pid] > 0 else None


def parse_raw(text: str) -> Stacks:
    """py-spy's raw format (collapsed stacks): `frame;frame;...;frame count` a line."""
    stacks: Counter = Counter()
    for line in text.splitlines():
        frames, _, count = line.rpartition(" ")
        if frames and count.isdigit():
            stacks[tuple(frames.split(";"))] += int(count)
    return dict(stacks)


def top_functions(
    stacks: Stacks, count: int
) -> tuple[list[tuple[str, float]], list[tuple[str, float]]]:
    """The `count` functions with the largest share of samples, (function, %): inclusive (on the
    stack) and self (the innermost frame)."""
    total = sum(stacks.values())
    inclusive: Counter = Counter()
    own: Counter = Counter()
    for frames, samples in stacks.items():
        for frame in set(frames):  # a recursive function counts once a sample
            inclusive[frame] += samples
        own[frames[-1]] += samples

    def share(counter: Counter) -> list[tuple[str, float]]:
        return [(name, n * 100 / total) for name, n in counter.most_common(count)]

    return (share(inclusive), share(own)) if total else ([], [])


def top_text(profile: Profile, title: str) -> str:
    lines = [
        title,
        f"{profile.samples} samples in {profile.seconds} s at {profile.rate} Hz of the thread "
        "holding the GIL (none while no thread held it). % of samples.",
    ]
    for heading, rows in (("inclusive (on the stack)", profile.inclusive), ("self", profile.own)):
        lines += ["", f"top {len(rows)}, {heading}:"]
        lines += [f"{percent:6.1f}%  {name}" for name, percent in rows]
    return "\n".join(lines) + "\n"


def flame_svg(stacks: Stacks, title: str, width: int = 1200) -> str:
    """A flame graph: one box a frame, as wide as its share of the samples, callers below
    callees; hover a box for its function and share. Boxes narrower than a pixel are left out."""
    tree: dict = {}
    for frames, samples in stacks.items():
        level = tree
        for frame in frames:
            node = level.setdefault(frame, [0, {}])
            node[0] += samples
            level = node[1]
    total = sum(stacks.values()) or 1
    row, pad, top = 16, 10, 34
    boxes: list[tuple[float, int, float, str, int]] = []  # x, depth, width, frame, samples

    def place(level: dict, x: float, depth: int) -> None:
        for frame in sorted(level):
            samples, children = level[frame]
            box = samples / total * (width - 2 * pad)
            if box >= 1:
                boxes.append((x, depth, box, frame, samples))
                place(children, x, depth + 1)
            x += box

    place(tree, pad, 0)
    depth = max((box[1] for box in boxes), default=0) + 1
    height = top + depth * row + pad
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="monospace" font-size="11">',
        f'<rect width="{width}" height="{height}" fill="#fdfdf6"/>',
        f'<text x="{width / 2}" y="20" text-anchor="middle" font-size="14">'
        f"{html.escape(title)} ({total} samples)</text>",
    ]
    for x, level, box, frame, samples in boxes:
        y = height - pad - (level + 1) * row
        hue = (zlib.crc32(frame.split(" (")[0].encode()) % 55) / 360
        red, green, blue = (round(c * 255) for c in colorsys.hls_to_rgb(hue, 0.62, 0.85))
        label = frame if len(frame) * 6.6 < box - 4 else frame[: int((box - 4) / 6.6) - 2] + ".."
        name = html.escape(frame)
        out.append(
            f"<g><title>{name}: {samples} samples, {samples * 100 / total:.1f}%</title>"
            f'<rect x="{x:.1f}" y="{y}" width="{box:.1f}" height="{row - 1}" '
            f'fill="rgb({red},{green},{blue})"/>'
            + (
                f'<text x="{x + 2:.1f}" y="{y + row - 4}">{html.escape(label)}</text>'
                if box > 20
                else ""
            )
            + "</g>"
        )
    out.append("</svg>")
    return "\n".join(out) + "\n"
