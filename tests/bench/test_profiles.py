"""Profiles beside the report (bench.profiles): py-spy's raw samples read, ranked and drawn, and
the process it samples picked from /proc."""

from __future__ import annotations

import subprocess
import sys
import xml.etree.ElementTree as ET

import pytest

from bench import profiles
from bench.profiles import Profile, flame_svg, parse_raw, top_functions, top_text

RAW = """\
main (app.py:1);handle (app.py:10);render (json.py:5) 6
main (app.py:1);handle (app.py:10);query (db.py:20) 3
main (app.py:1);walk (tree.py:3);walk (tree.py:3) 1
garbage line
"""


def test_raw_samples_are_stacks_with_counts():
    assert parse_raw(RAW) == {
        ("main (app.py:1)", "handle (app.py:10)", "render (json.py:5)"): 6,
        ("main (app.py:1)", "handle (app.py:10)", "query (db.py:20)"): 3,
        ("main (app.py:1)", "walk (tree.py:3)", "walk (tree.py:3)"): 1,
    }


def test_top_functions_by_inclusive_and_self_share():
    inclusive, own = top_functions(parse_raw(RAW), 3)

    assert inclusive == [
        ("main (app.py:1)", 100.0),
        ("handle (app.py:10)", 90.0),
        ("render (json.py:5)", 60.0),
    ]
    assert own == [
        ("render (json.py:5)", 60.0),
        ("query (db.py:20)", 30.0),
        ("walk (tree.py:3)", 10.0),
    ]


def test_a_recursive_function_counts_once_a_sample():
    inclusive, _ = top_functions(parse_raw(RAW), 10)

    assert dict(inclusive)["walk (tree.py:3)"] == 10.0


def test_no_samples_no_top():
    assert top_functions({}, 5) == ([], [])


def test_the_text_table_lists_both_rankings():
    inclusive, own = top_functions(parse_raw(RAW), 2)
    profile = Profile("a", 32, samples=10, seconds=5, rate=250, inclusive=inclusive, own=own)

    text = top_text(profile, "(a) at 32 clients")

    assert text.splitlines()[:2] == [
        "(a) at 32 clients",
        "10 samples in 5 s at 250 Hz of the thread holding the GIL (none while no thread held "
        "it). % of samples.",
    ]
    assert "top 2, inclusive (on the stack):\n 100.0%  main (app.py:1)\n  90.0%  handle" in text
    assert "top 2, self:\n  60.0%  render (json.py:5)\n  30.0%  query (db.py:20)\n" in text


def test_the_flame_graph_is_svg_with_a_box_a_frame():
    svg = ET.fromstring(flame_svg(parse_raw(RAW), "(a) <32> & more"))  # noqa: S314 (ours)

    namespace = "{http://www.w3.org/2000/svg}"
    titles = [title.text for title in svg.iter(f"{namespace}title")]
    assert titles == [
        "main (app.py:1): 10 samples, 100.0%",
        "handle (app.py:10): 9 samples, 90.0%",
        "query (db.py:20): 3 samples, 30.0%",
        "render (json.py:5): 6 samples, 60.0%",
        "walk (tree.py:3): 1 samples, 10.0%",
        "walk (tree.py:3): 1 samples, 10.0%",
    ]
    heading = next(svg.iter(f"{namespace}text")).text
    assert heading == "(a) <32> & more (10 samples)"
    boxes = {
        g.find(f"{namespace}title").text.split(":")[0]: float(
            g.find(f"{namespace}rect").get("width")
        )
        for g in svg.iter(f"{namespace}g")
    }
    assert boxes["main (app.py"] == pytest.approx(1180)  # the whole width less the margins
    assert boxes["render (json.py"] == pytest.approx(1180 * 0.6)


def test_the_busiest_process_of_a_group_is_picked():
    spin = "import time\nend = time.time() + 5\nwhile time.time() < end: pass"
    busy = subprocess.Popen([sys.executable, "-c", spin], process_group=0)
    idle = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(5)"], process_group=busy.pid
    )
    try:
        assert profiles.busiest(busy.pid, 0.3) == busy.pid
        assert profiles.busiest(idle.pid, 0.1) is None  # no process in that group
    finally:
        for process in (busy, idle):
            process.kill()
            process.wait()


def test_a_level_too_short_for_a_profile_says_so():
    recorder = profiles.ProfileRecorder("a", 32, group=1, name="web-8701")

    recorder.started(1.5)
    recorder.ended()

    assert recorder.profile.error == "the level ran 1.5 s: too short for a profile"
    assert recorder.profile.svg is None


def record(monkeypatch, tmp_path, argv: list[str], scenario: str) -> tuple[Profile, int]:
    """A profile recorded while `argv` runs in a process group of its own, and that process's
    pid; the profile's files go to tmp_path."""
    monkeypatch.setattr(profiles, "PROFILE_DIR", tmp_path)
    monkeypatch.setattr(profiles, "WORK_DIR", tmp_path / "work")
    monkeypatch.setattr(profiles, "SECONDS", 1)
    process = subprocess.Popen(argv, process_group=0)
    try:
        recorder = profiles.ProfileRecorder(scenario, 32, group=process.pid, name="web-test")
        recorder.started(3.0)
        recorder.ended()
    finally:
        process.kill()
        process.wait()
    return recorder.profile, process.pid


def test_a_process_py_spy_cannot_attach_to_is_reported(monkeypatch, tmp_path):
    monkeypatch.setattr(profiles, "_py_spy", lambda: "/bin/false")
    monkeypatch.setattr(profiles, "busiest", lambda group, window: group)

    profile, pid = record(monkeypatch, tmp_path, ["sleep", "5"], "c")

    assert profile.error.startswith(f"py-spy could not record pid {pid}")
    assert profile.process == f"web-test, pid {pid}"
    assert profile.svg is None
    assert [path.name for path in tmp_path.iterdir()] == ["work"]


SPIN = """
import time


def spin_here(end):
    while time.time() < end:
        pass


spin_here(time.time() + 6)
"""


@pytest.mark.skipif(profiles._py_spy() is None, reason="py-spy comes with make bench-install")
def test_py_spy_records_the_busiest_process_of_the_group(monkeypatch, tmp_path):
    profile, pid = record(monkeypatch, tmp_path, [sys.executable, "-c", SPIN], "b")

    assert profile.error is None
    assert profile.process == f"web-test, pid {pid}"
    assert profile.samples > 0
    assert 0 < profile.cpu_seconds < 5
    assert profile.own[0][0].startswith("spin_here (<string>:")
    assert profile.svg == tmp_path / "b.svg"
    assert "spin_here" in profile.svg.read_text()
    assert profile.text.read_text().startswith(f"(b) at 32 clients: web-test, pid {pid}\n")
