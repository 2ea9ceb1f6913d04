"""A private RabbitMQ node a fault test owns: stopping or killing it never touches the shared
broker."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
from contextlib import suppress
from pathlib import Path

from kombu import Connection

from tests.concurrency import free_port

# The Debian package's scripts themselves: the wrappers it puts on the PATH switch to the
# `rabbitmq` user, whose home holds the shared node's cookie and whose env file names that node.
_SCRIPTS = Path("/usr/lib/rabbitmq/bin")


def _script(name: str) -> str:
    installed = _SCRIPTS / name
    return str(installed) if installed.exists() else (shutil.which(name) or name)


class RabbitMQNode:
    """`rabbitmq-server` on free ports, with its data, logs and Erlang cookie in a temporary
    directory. Its data outlives `stop()` and `kill()`: `start()` again brings the same node back
    with its durable queues and the messages RabbitMQ kept on disk. No plugins, so no management
    listener competes with the shared node's; the shared epmd only learns one more node name."""

    def __init__(self) -> None:
        self.port = free_port()
        self.dist_port = free_port()
        self.name = f"cinema_t{self.port}@localhost"
        self.home = Path(tempfile.mkdtemp(prefix="cinema-rabbitmq-"))
        self.process: subprocess.Popen | None = None
        (self.home / "enabled_plugins").write_text("[].\n")
        (self.home / "rabbitmq-env.conf").write_text("")
        (self.home / "rabbitmq.conf").write_text(f"listeners.tcp.1 = 127.0.0.1:{self.port}\n")

    @property
    def url(self) -> str:
        return f"amqp://guest:guest@127.0.0.1:{self.port}//"

    def _env(self) -> dict[str, str]:
        home = str(self.home)
        return {
            **os.environ,
            "HOME": home,  # the Erlang cookie the node and rabbitmqctl share
            "RABBITMQ_NODENAME": self.name,
            "RABBITMQ_NODE_PORT": str(self.port),
            "RABBITMQ_DIST_PORT": str(self.dist_port),
            "RABBITMQ_CONF_ENV_FILE": f"{home}/rabbitmq-env.conf",
            "RABBITMQ_CONFIG_FILE": f"{home}/rabbitmq",
            "RABBITMQ_ENABLED_PLUGINS_FILE": f"{home}/enabled_plugins",
            "RABBITMQ_MNESIA_BASE": f"{home}/mnesia",
            "RABBITMQ_LOG_BASE": f"{home}/log",
            "RABBITMQ_PID_FILE": f"{home}/node.pid",
            "RABBITMQ_PLUGINS_EXPAND_DIR": f"{home}/plugins",
            "ERL_EPMD_ADDRESS": "127.0.0.1",
        }

    def start(self, timeout: float = 60) -> RabbitMQNode:
        """Start the node and return once it accepts AMQP connections (4 to 7 s on a small
        machine)."""
        assert not self.running, "already running"
        with (self.home / "server.out").open("ab") as output:
            self.process = subprocess.Popen(
                [_script("rabbitmq-server")],
                env=self._env(),
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
                cwd=self.home,
                # The wrapper script, the Erlang VM and its helpers: one group for kill().
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        while not self.accepts_connections():
            if self.process.poll() is not None:
                raise AssertionError(f"rabbitmq-server exited at start-up:\n{self.log_tail()}")
            if time.monotonic() >= deadline:
                self.kill()
                raise AssertionError(f"rabbitmq-server did not start in time:\n{self.log_tail()}")
            time.sleep(0.2)
        return self

    def accepts_connections(self) -> bool:
        try:
            with Connection(self.url, connect_timeout=1) as conn:
                conn.connect()
        except Exception:
            return False
        return True

    def ctl(self, *args: str, timeout: float = 60) -> str:
        """`rabbitmqctl` against this node; returns its output, raises if it fails."""
        result = subprocess.run(
            [_script("rabbitmqctl"), "-n", self.name, "-q", *args],
            env=self._env(),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        assert result.returncode == 0, f"rabbitmqctl {' '.join(args)}: {result.stderr}"
        return result.stdout

    def queue_types(self) -> dict[str, str]:
        """Every queue of the node, by name, with its type (`classic`, `quorum`, `stream`)."""
        rows = self.ctl("list_queues", "name", "type", "--no-table-headers")
        return dict(line.rsplit("\t", 1) for line in rows.splitlines() if "\t" in line)

    def stop(self, timeout: float = 60) -> None:
        """A clean shutdown (`rabbitmqctl stop`), as an operator's restart does; SIGKILL if it
        does not finish in time."""
        if not self.running:
            return
        try:
            self.ctl("stop", timeout=timeout)
            self.process.wait(timeout=timeout)
        except (AssertionError, subprocess.TimeoutExpired):
            self.kill()

    def kill(self) -> None:
        """A crash: SIGKILL the Erlang VM and everything it started, nothing written on the way
        out. Messages RabbitMQ confirmed are on disk; the rest is gone."""
        if self.process is None:
            return
        with suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        with suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=10)

    def remove(self) -> None:
        """Stop the node for good and delete its data."""
        try:
            self.kill()
        finally:
            shutil.rmtree(self.home, ignore_errors=True)

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def log_tail(self, lines: int = 30) -> str:
        logs = [*sorted((self.home / "log").glob("*.log")), self.home / "server.out"]
        text = "".join(path.read_text(errors="replace") for path in logs if path.exists())
        return "\n".join(text.splitlines()[-lines:])
