"""A private redis-server a fault test owns: stopping it never touches the shared Redis."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import redis

from tests.concurrency import free_port


class RedisServer:
    """`redis-server` on a free port, without persistence: a stop loses every key, as a crashed
    cache would; `start()` again brings up an empty server on the same port."""

    def __init__(self, port: int | None = None, *, replica_of: int | None = None) -> None:
        self.port = port or free_port()
        self.replica_of = replica_of  # the master's port, for a replica
        self.process: subprocess.Popen | None = None

    def url(self, db: int = 0) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"

    def client(self) -> redis.Redis:
        return redis.Redis(
            host="127.0.0.1", port=self.port, socket_timeout=2, decode_responses=True
        )

    def start(self, timeout: float = 10) -> RedisServer:
        assert self.process is None or self.process.poll() is not None, "already running"
        binary = shutil.which("redis-server") or "/usr/bin/redis-server"
        self.process = subprocess.Popen(
            [
                binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--protected-mode",
                "no",
                *(["--replicaof", "127.0.0.1", str(self.replica_of)] if self.replica_of else []),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + timeout
        while True:
            try:
                if self.client().ping():
                    return self
            except redis.RedisError:
                pass
            assert self.process.poll() is None, "redis-server exited at start-up"
            assert time.monotonic() < deadline, "redis-server did not start in time"
            time.sleep(0.02)

    def kill(self) -> None:
        """SIGKILL, as a crashed host: no goodbye to its clients, its replica or Sentinels."""
        if self.running:
            self.process.kill()
            self.process.wait()

    def stop(self) -> None:
        """Terminate the server (SIGTERM; SIGKILL if it lingers) and wait until it is gone."""
        if self.process is None or self.process.poll() is not None:
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


class RedisSentinel:
    """A Sentinel (`redis-server --sentinel`) on a free port watching the master at
    127.0.0.1:`master_port` under `name`, with failover timings short enough for a test: the
    master is judged down after `down_after_ms` without answers."""

    def __init__(self, master_port: int, *, name: str, quorum: int, down_after_ms: int = 1000):
        self.port = free_port()
        self.name = name
        self._config = (
            f"port {self.port}\nbind 127.0.0.1\nprotected-mode no\n"
            f"sentinel monitor {name} 127.0.0.1 {master_port} {quorum}\n"
            f"sentinel down-after-milliseconds {name} {down_after_ms}\n"
            f"sentinel failover-timeout {name} 10000\n"
            f"sentinel parallel-syncs {name} 1\n"
        )
        self._dir: tempfile.TemporaryDirectory | None = None
        self.process: subprocess.Popen | None = None

    def client(self) -> redis.Redis:
        return redis.Redis(
            host="127.0.0.1", port=self.port, socket_timeout=2, decode_responses=True
        )

    def start(self, timeout: float = 10) -> RedisSentinel:
        # A Sentinel rewrites its configuration file as it learns: one of its own.
        self._dir = tempfile.TemporaryDirectory(prefix="cinema-sentinel-")
        config = Path(self._dir.name) / "sentinel.conf"
        config.write_text(self._config + f"dir {self._dir.name}\n")
        binary = shutil.which("redis-server") or "/usr/bin/redis-server"
        self.process = subprocess.Popen(
            [binary, str(config), "--sentinel"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + timeout
        while True:
            try:
                if self.client().ping():
                    return self
            except redis.RedisError:
                pass
            assert self.process.poll() is None, "redis-server --sentinel exited at start-up"
            assert time.monotonic() < deadline, "the Sentinel did not start in time"
            time.sleep(0.02)

    def master_port(self) -> int | None:
        address = self.client().sentinel_get_master_addr_by_name(self.name)
        return int(address[1]) if address else None

    def knows(self, *, replicas: int, sentinels: int) -> bool:
        """Whether it has found the master's replicas and the other Sentinels (they find each
        other through the master, every two seconds)."""
        master = self.client().sentinel_master(self.name)
        return master["num-slaves"] >= replicas and master["num-other-sentinels"] >= sentinels

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self._dir is not None:
            self._dir.cleanup()
            self._dir = None
