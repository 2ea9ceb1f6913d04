"""(g)'s listeners (bench/stream_listeners.py) run as the benchmark runs them, for the tests."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable

from tests.processes import ROOT


def listeners(port: int, session_id: int, streams: int) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "bench.stream_listeners", str(port), str(session_id), str(streams)],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )


def what_listeners_read(
    port: int, session_id: int, streams: int, meanwhile: Callable[[], None]
) -> dict:
    """`streams` listeners of the session on the server at `port`: once all have their snapshot,
    `meanwhile()` runs; a second later they stop and report (their JSON line)."""
    crowd = listeners(port, session_id, streams)
    try:
        assert crowd.stdout.readline().split() == ["ready", str(streams)]
        meanwhile()
        time.sleep(1.0)
        out, _ = crowd.communicate(timeout=30)
    finally:
        if crowd.poll() is None:
            crowd.kill()
    return json.loads(out.strip().splitlines()[-1])
