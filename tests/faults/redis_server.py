"""A private redis-server a fault test owns: stopping it never touches the shared Redis."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import redis

from tests.concurrency import free_port


class _RedisProcess:
    """A redis-server process of the test's on a free port."""

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.process: subprocess.Popen | None = None

    def client(self) -> redis.Redis:
        return redis.Redis(
            host="127.0.0.1", port=self.port, socket_timeout=2, decode_responses=True
        )

    def _launch(self, arguments: list[str], timeout: float) -> None:
        """Run redis-server with `arguments` and wait until it answers PING."""
        assert not self.running, "already running"
        binary = shutil.which("redis-server") or "/usr/bin/redis-server"
        self.process = subprocess.Popen(
            [binary, *arguments], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        deadline = time.monotonic() + timeout
        while True:
            try:
                if self.client().ping():
                    return
            except redis.RedisError:
                pass
            assert self.process.poll() is None, f"redis-server {arguments} exited at start-up"
            assert time.monotonic() < deadline, f"redis-server {arguments} did not start in time"
            time.sleep(0.02)

    def kill(self) -> None:
        """SIGKILL, as a crashed host: no goodbye to its clients, its replica or Sentinels."""
        if self.running:
            self.process.kill()
            self.process.wait()

    def stop(self) -> None:
        """Terminate the server (SIGTERM; SIGKILL if it lingers) and wait until it is gone."""
        if not self.running:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None


class RedisServer(_RedisProcess):
    """`redis-server` on a free port, without persistence: a stop loses every key, as a crashed
    cache would; `start()` again brings up an empty server on the same port. With `replica_of`
    (the master's port) it is that master's replica."""

    def __init__(self, port: int | None = None, *, replica_of: int | None = None) -> None:
        super().__init__(port)
        self.replica_of = replica_of
        self._dir: tempfile.TemporaryDirectory | None = None

    def url(self, db: int = 0) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"

    def start(self, timeout: float = 10) -> RedisServer:
        # A replica writes the master's snapshot to its directory even with `--save ""`: one of
        # its own, so that no dump.rdb lands in the working directory of the tests.
        self._dir = self._dir or tempfile.TemporaryDirectory(prefix="cinema-redis-")
        arguments = ["--port", str(self.port), "--bind", "127.0.0.1", "--save", ""]
        arguments += ["--appendonly", "no", "--protected-mode", "no", "--dir", self._dir.name]
        if self.replica_of:
            arguments += ["--replicaof", "127.0.0.1", str(self.replica_of)]
        self._launch(arguments, timeout)
        return self


class RedisSentinel(_RedisProcess):
    """A Sentinel (`redis-server --sentinel`) on a free port watching the master at
    127.0.0.1:`master_port` under `name`, with failover timings short enough for a test: the
    master is judged down after `down_after_ms` without answers."""

    def __init__(self, master_port: int, *, name: str, quorum: int, down_after_ms: int = 1000):
        super().__init__()
        self.name = name
        self._config = (
            f"port {self.port}\nbind 127.0.0.1\nprotected-mode no\n"
            f"sentinel monitor {name} 127.0.0.1 {master_port} {quorum}\n"
            f"sentinel down-after-milliseconds {name} {down_after_ms}\n"
            f"sentinel failover-timeout {name} 10000\n"
            f"sentinel parallel-syncs {name} 1\n"
        )
        self._dir: tempfile.TemporaryDirectory | None = None

    def start(self, timeout: float = 10) -> RedisSentinel:
        # A Sentinel rewrites its configuration file as it learns: one of its own.
        self._dir = tempfile.TemporaryDirectory(prefix="cinema-sentinel-")
        config = Path(self._dir.name) / "sentinel.conf"
        config.write_text(self._config + f"dir {self._dir.name}\n")
        self._launch([str(config), "--sentinel"], timeout)
        return self

    def master_port(self) -> int | None:
        address = self.client().sentinel_get_master_addr_by_name(self.name)
        return int(address[1]) if address else None

    def knows(self, *, replicas: int, sentinels: int) -> bool:
        """Whether it has found the master's replicas and the other Sentinels (they find each
        other through the master, every two seconds)."""
        master = self.client().sentinel_master(self.name)
        return master["num-slaves"] >= replicas and master["num-other-sentinels"] >= sentinels

    def stop(self) -> None:
        super().stop()
        if self._dir is not None:
            self._dir.cleanup()
            self._dir = None
