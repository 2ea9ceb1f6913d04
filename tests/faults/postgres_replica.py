"""A private PostgreSQL primary and its streaming replica, which a test may pause, stop and start.

The shared server allows no replication connections, and a test must never stop it; so this
builds a cluster of its own (`initdb`) in a temporary folder, a replica of it (`pg_basebackup`),
each on a free port with a socket folder of its own, and removes both afterwards. PostgreSQL
refuses to run as root: when the tests do, its programs run as the `postgres` user. Every step
is bounded in time; built for speed, not durability (no fsync).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import psycopg

from tests.concurrency import free_port

STEP_TIMEOUT = 60


def _bin_dir() -> Path:
    with suppress(OSError, subprocess.SubprocessError):
        found = subprocess.run(
            ["pg_config", "--bindir"], capture_output=True, text=True, timeout=10, check=True
        )
        return Path(found.stdout.strip())
    return Path("/usr/lib/postgresql/15/bin")


def _as_postgres(*args: str | Path, timeout: float = STEP_TIMEOUT) -> None:
    """Run a PostgreSQL program, as the `postgres` user when this process is root."""
    command = [str(arg) for arg in args]
    if os.geteuid() == 0:
        command = ["runuser", "-u", "postgres", "--", *command]
    result = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)
    assert result.returncode == 0, f"{command} failed:\n{result.stdout}{result.stderr}"


def _give_to_postgres(path: Path) -> None:
    if os.geteuid() == 0:
        shutil.chown(path, "postgres", "postgres")


class PostgresServer:
    """One server of the pair: its data folder, port and socket folder."""

    def __init__(self, bin_dir: Path, data: Path, sockets: Path) -> None:
        self.bin_dir = bin_dir
        self.data = data
        self.sockets = sockets
        self.port = free_port()

    def url(self, database: str) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{database}"

    def start(self) -> None:
        options = (
            f"-p {self.port} -k {self.sockets} -c listen_addresses=127.0.0.1 "
            "-c fsync=off -c full_page_writes=off "
            "-c shared_buffers=32MB -c max_connections=60"
        )
        _as_postgres(
            self.bin_dir / "pg_ctl",
            "start",
            "-D",
            self.data,
            "-l",
            self.data.parent / f"{self.data.name}.log",
            "-o",
            options,
            "-w",
            "-t",
            str(STEP_TIMEOUT),
        )

    def stop(self) -> None:
        """Stop at once, as a crash would (`-m immediate`); SIGKILL if pg_ctl cannot."""
        if not (self.data / "postmaster.pid").exists():
            return
        try:
            _as_postgres(
                self.bin_dir / "pg_ctl",
                "stop",
                "-D",
                self.data,
                "-m",
                "immediate",
                "-w",
                timeout=20,
            )
        except (AssertionError, subprocess.TimeoutExpired):
            with suppress(OSError, ValueError):
                pid = int((self.data / "postmaster.pid").read_text().split()[0])
                os.kill(pid, signal.SIGKILL)

    def sql(self, query: str, params: Any = None, *, database: str = "postgres") -> list[tuple]:
        """Run one statement in autocommit, return its rows (none for a statement without)."""
        with (
            psycopg.connect(self.url(database), autocommit=True, connect_timeout=5) as conn,
            conn.cursor() as cursor,
        ):
            cursor.execute(query, params)
            return cursor.fetchall() if cursor.description else []


class ReplicatedPostgres:
    """A primary and a streaming replica of it, both started; see `replicated_postgres`."""

    def __init__(self, root: Path) -> None:
        bin_dir = _bin_dir()
        sockets = root / "sockets"
        sockets.mkdir()
        _give_to_postgres(sockets)
        self.primary = PostgresServer(bin_dir, root / "primary", sockets)
        self.replica = PostgresServer(bin_dir, root / "replica", sockets)
        self._bin_dir = bin_dir

    def start(self) -> None:
        primary = self.primary
        _as_postgres(
            self._bin_dir / "initdb",
            "-D",
            primary.data,
            "-U",
            "postgres",
            "--auth=trust",
            "--encoding=UTF8",
            "--locale=C.UTF-8",
            "--no-sync",
        )
        with (primary.data / "postgresql.conf").open("a") as conf:
            conf.write("wal_level = replica\nmax_wal_senders = 4\nhot_standby = on\n")
        with (primary.data / "pg_hba.conf").open("a") as hba:
            hba.write("host replication all 127.0.0.1/32 trust\n")
        primary.start()
        # A fast checkpoint: the default spreads it over minutes.
        _as_postgres(
            self._bin_dir / "pg_basebackup",
            "-h",
            "127.0.0.1",
            "-p",
            str(primary.port),
            "-U",
            "postgres",
            "-D",
            self.replica.data,
            "-R",
            "-X",
            "stream",
            "--checkpoint=fast",
            "--no-sync",
        )
        self.replica.start()

    def stop(self) -> None:
        self.replica.stop()
        self.primary.stop()

    def create_database(self, name: str) -> None:
        self.primary.sql(f'CREATE DATABASE "{name}"')

    def pause_replay(self) -> None:
        self.replica.sql("SELECT pg_wal_replay_pause()")

    def resume_replay(self) -> None:
        self.replica.sql("SELECT pg_wal_replay_resume()")

    def wait_for_replay(self, timeout: float = 30) -> None:
        """Until the replica has replayed everything the primary has written so far."""
        (target,) = self.primary.sql("SELECT pg_current_wal_lsn()")[0]
        deadline = time.monotonic() + timeout
        while True:
            caught_up = self.replica.sql(
                "SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn", [str(target)]
            )[0][0]
            if caught_up:
                return
            assert time.monotonic() < deadline, "the replica did not catch up in time"
            time.sleep(0.05)


@contextmanager
def replicated_postgres() -> Iterator[ReplicatedPostgres]:
    """A private primary and replica, stopped and removed however the test ends."""
    root = Path(tempfile.mkdtemp(prefix="cinema-pg-"))
    _give_to_postgres(root)
    pair = ReplicatedPostgres(root)
    try:
        pair.start()
        yield pair
    finally:
        try:
            pair.stop()
        finally:
            shutil.rmtree(root, ignore_errors=True)
