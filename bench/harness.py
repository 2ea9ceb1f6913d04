"""The benchmark's plumbing: configuration, the local stack, fixtures in the database, HTTP
clients, the closed-loop load driver and the statistics.

Nothing here knows about a particular scenario (see scenarios.py) or about the report
(report.py). The process that imports this module becomes a Django process pointed at the
benchmark's own database, Redis DB and RabbitMQ vhost (`configure()`), so that fixtures and the
double-sell checks can use the ORM directly.
"""

from __future__ import annotations

import contextlib
import json as jsonlib
import os
import random
import re
import select
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Protocol

import requests

ROOT = Path(__file__).resolve().parents[1]
OUT_DIR = ROOT / "bench"
WORK_DIR = Path(os.environ.get("BENCH_WORKDIR", "/tmp/cinema-bench"))
LOG_DIR = WORK_DIR / "logs"

DB_NAME = os.environ.get("BENCH_DB", "cinema_bench")
DB_URL = f"postgres://postgres@127.0.0.1:5432/{DB_NAME}"
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/12")
AMQP_VHOST = os.environ.get("BENCH_AMQP_VHOST", "cinema_bench")
SECONDS = float(os.environ.get("BENCH_SECONDS", "8"))
LEVELS = [int(x) for x in os.environ.get("BENCH_LEVELS", "8,32,64").split(",") if x.strip()]
EVENT_SECONDS = float(os.environ.get("BENCH_EVENT_SECONDS", "6"))
EVENT_CLIENTS = int(os.environ.get("BENCH_EVENT_CLIENTS", "16"))
PGBENCH_SECONDS = float(os.environ.get("BENCH_PGBENCH_SECONDS", str(SECONDS)))
PORTS = (8701, 8702)  # the two app instances every scenario talks to, clients alternating
TTL_PORT = 8703  # one more instance with a 2 s hold, for the expiry probe
# Where the sandbox provider (run by the worker) delivers its signed webhooks: the first instance.
WEBHOOK_URL = f"http://127.0.0.1:{PORTS[0]}/api/v1/payments/webhooks/fake"
PROBE_TTL_SECONDS = 2
ROWS, PER_ROW = 26, 40  # 1,040 seats: the big sessions
REQUEST_TIMEOUT = 30.0


def amqp_url(vhost: str) -> str:
    return f"amqp://guest:guest@127.0.0.1:5672/{'' if vhost == '/' else vhost}"


def server_env(**extra: str) -> dict[str, str]:
    """The environment of every process of the stack (and of this one). The sandbox provider
    is pinned (a PAYMENT_PROVIDER=stripe in the caller's shell would make (f) charge Stripe's
    test mode), and its webhooks go to the benchmark's own instance, not to `make run`'s :8000."""
    env = {k: v for k, v in os.environ.items() if k != "RESERVATION_TTL_SECONDS"}
    broker = amqp_url(AMQP_VHOST)
    env.update(
        DJANGO_SETTINGS_MODULE="cinema.settings.base",
        DATABASE_URL=DB_URL,
        REDIS_URL=REDIS_URL,
        CELERY_BROKER_URL=broker,
        EVENTS_BROKER_URL=broker,
        EVENT_QUEUE_PREFIX="bench.",
        LOG_LEVEL="WARNING",
        THROTTLE_RESERVATIONS="1000000/min",
        THROTTLE_RESERVATIONS_IP="1000000/min",
        THROTTLE_USER="1000000/min",
        THROTTLE_ANON="1000000/min",
        ACCOUNT_RATE_LIMITS_ENABLED="false",
        PAYMENT_PROVIDER="fake",
        PAYMENT_WEBHOOK_URL=WEBHOOK_URL,
        PYTHONUNBUFFERED="1",
    )
    env.update(extra)
    return env


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S', time.gmtime())}Z] {message}", flush=True)


# --- Isolation of the shared local services --------------------------------------------------


def reset_vhost() -> str | None:
    """A private RabbitMQ vhost, emptied on each run: the stack's Celery queue, the events
    exchange and the consumer queues stay apart from other people's. Returns a warning when it
    cannot be done (the run then uses the default vhost and the prefixed queues)."""
    global AMQP_VHOST
    if AMQP_VHOST == "/":
        return None
    commands = [
        ["rabbitmqctl", "-q", "delete_vhost", AMQP_VHOST],
        ["rabbitmqctl", "-q", "add_vhost", AMQP_VHOST],
        ["rabbitmqctl", "-q", "set_permissions", "-p", AMQP_VHOST, "guest", ".*", ".*", ".*"],
    ]
    try:
        for index, command in enumerate(commands):
            result = subprocess.run(command, capture_output=True, timeout=60)
            if result.returncode != 0 and index > 0:
                raise RuntimeError(result.stderr.decode().strip() or result.stdout.decode())
    except (OSError, RuntimeError, subprocess.TimeoutExpired) as exc:
        AMQP_VHOST = "/"
        return f"could not create the RabbitMQ vhost ({exc}); used the default vhost"
    return None


def flush_redis() -> None:
    import redis

    redis.Redis.from_url(REDIS_URL).flushdb()


def psql(sql: str, db: str = "postgres") -> str:
    result = subprocess.run(
        ["psql", "-h", "127.0.0.1", "-U", "postgres", "-d", db, "-qAtc", sql],
        check=True,
        capture_output=True,
    )
    return result.stdout.decode().strip()


def recreate_database() -> None:
    psql(f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")
    psql(f"CREATE DATABASE {DB_NAME}")
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput"],
        cwd=ROOT,
        env=server_env(),
        check=True,
        capture_output=True,
    )


def configure() -> None:
    """Make this process a Django process on the benchmark's database."""
    os.environ.update(server_env())
    import django

    django.setup()


# --- Processes of the stack ----------------------------------------------------------------


@dataclass
class Proc:
    name: str
    popen: subprocess.Popen
    log_path: Path


class Stack:
    """Every process the run starts, each in its own process group, all stopped by `stop()`."""

    def __init__(self) -> None:
        self.procs: list[Proc] = []
        LOG_DIR.mkdir(parents=True, exist_ok=True)

    def start(self, name: str, argv: list[str], env: dict[str, str], **kwargs) -> Proc:
        log_path = LOG_DIR / f"{name}.log"
        with open(log_path, "wb") as out:
            popen = subprocess.Popen(
                argv,
                cwd=ROOT,
                env=env,
                stdout=kwargs.pop("stdout", out),
                stderr=subprocess.STDOUT,
                start_new_session=True,
                **kwargs,
            )
        proc = Proc(name, popen, log_path)
        self.procs.append(proc)
        return proc

    def make(self, name: str, target: str, env: dict[str, str], **variables: str) -> Proc:
        argv = ["make", "--no-print-directory", "-s", target]
        argv += [f"{key}={value}" for key, value in variables.items()]
        return self.start(name, argv, env)

    def check_alive(self) -> None:
        for proc in self.procs:
            if proc.popen.poll() is not None:
                tail = proc.log_path.read_text(errors="replace")[-2000:]
                raise RuntimeError(f"{proc.name} exited ({proc.popen.returncode}):\n{tail}")

    def stop(self, timeout: float = 25.0) -> None:
        """SIGTERM to each server itself (the child of `make`, so granian and celery shut down
        gracefully), then SIGKILL to whatever is left of each process group."""
        processes = proc_table()
        for proc in self.procs:
            with contextlib.suppress(ProcessLookupError):
                os.kill(_server_pid(proc.popen.pid, processes), signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for proc in self.procs:
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.popen.wait(max(0.1, deadline - time.monotonic()))
        for proc in self.procs:
            _signal_group(proc.popen, signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.popen.wait(5)
        self.procs.clear()

    def group(self, name: str) -> int:
        """The process group of the process started as `name`."""
        return next(proc.popen.pid for proc in self.procs if proc.name == name)

    def groups(self, role: str) -> set[int]:
        """Process groups of one role: "web" (the API instances), "worker" (Celery worker and
        beat) or "probe" (the measuring side)."""
        return {proc.popen.pid for proc in self.procs if _role(proc.name) == role}


def _role(name: str) -> str:
    if name.startswith(("web", "probe")):
        return name.split("-")[0]
    return "worker"


def _server_pid(pid: int, processes: dict[int, ProcRow]) -> int:
    """The server under `make` and the `sh -c` it runs the recipe with: signalling make or the
    shell would leave granian or celery without their graceful shutdown."""
    while pid in processes and processes[pid].comm in ("make", "sh", "dash", "bash"):
        children = [child for child, row in processes.items() if row.ppid == pid]
        if len(children) != 1:
            break
        pid = children[0]
    return pid


def _signal_group(popen: subprocess.Popen, sig: int) -> None:
    # The group this run created for the process (its id is the process's own pid).
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(popen.pid, sig)


@dataclass(frozen=True)
class ProcRow:
    comm: str
    ppid: int
    pgrp: int
    ticks: int  # user + system CPU time, in clock ticks
    rss: int = 0  # resident memory, bytes


PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")


def proc_row(pid: int) -> ProcRow:
    """One process's figures from /proc/<pid>/stat (OSError when it is gone)."""
    raw = Path(f"/proc/{pid}/stat").read_text()
    comm = raw[raw.index("(") + 1 : raw.rindex(")")]
    fields = raw[raw.rindex(")") + 2 :].split()
    # fields[0] is field 3 of stat (the state): ppid and pgrp are fields 4 and 5, utime and
    # stime 14 and 15, rss (in pages) 24.
    return ProcRow(
        comm,
        int(fields[1]),
        int(fields[2]),
        int(fields[11]) + int(fields[12]),
        int(fields[21]) * PAGE_SIZE,
    )


def proc_table() -> dict[int, ProcRow]:
    table = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            table[int(entry)] = proc_row(int(entry))
        except OSError:
            continue
    return table


def _machine_jiffies() -> tuple[int, int]:
    """(busy, total) jiffies of all CPUs since boot."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + (values[4] if len(values) > 4 else 0)
    total = sum(values[:8])
    return total - idle, total


# The process types of the CPU and memory tables, in their order. The app's processes are told
# apart by the process group the run started them in (whatever the server), the shared services
# by their command name.
PROCESS_TYPES = ("client", "web", "worker", "postgres", "redis", "rabbitmq", "other")
SERVICES = {
    "postgres": ("postgres",),
    "redis": ("redis-server",),
    "rabbitmq": ("beam.smp", "epmd", "erl_child_setup", "inet_gethost"),
}
PROFILER = "py-spy"  # a child of this process that measures, not load: counted apart
# What starts a server without being one (`make`, the shell of its recipe): its CPU is counted
# with its server's, but it is left out of the memory table, where it would only add a small
# process to each instance.
LAUNCHERS = ("make", "sh", "dash", "bash", "env")


@dataclass(frozen=True)
class Snapshot:
    at: float  # time.monotonic()
    machine: tuple[int, int]  # (busy, total) jiffies
    # pid -> (process type, CPU ticks, rss bytes; 0 for a launcher)
    processes: dict[int, tuple[str, int, int]]


@dataclass(frozen=True)
class Memory:
    """Resident memory of the processes of one type."""

    total: int  # bytes, summed: shared pages count once per process mapping them
    count: int
    largest: int  # bytes, the largest single process


class CpuMonitor:
    """Where the CPU went during a run, in cores, and the memory each kind of process holds: the
    load generator ("client": this process, its pgbench/psql children and the events probe), the
    app's web instances and its worker (Celery worker and beat), PostgreSQL, Redis and RabbitMQ
    (shared: they serve other users of the machine too) and every other process on the machine,
    which the benchmark does not control. py-spy, when it records a profile, is counted apart
    ("profiler")."""

    def __init__(self, stack: Stack) -> None:
        self.stack = stack
        self.me = os.getpid()
        self.my_group = os.getpgrp()

    def _category(self, pid: int, row: ProcRow, roles: dict[str, set[int]]) -> str:
        if pid == self.me or row.pgrp == self.my_group or row.pgrp in roles["probe"]:
            return PROFILER if row.comm == PROFILER else "client"
        for role in ("web", "worker"):
            if row.pgrp in roles[role]:
                return role
        return process_type(row.comm)

    def snapshot(self) -> Snapshot:
        roles = {role: self.stack.groups(role) for role in ("web", "worker", "probe")}
        rows = {}
        for pid, row in proc_table().items():
            category = self._category(pid, row, roles)
            launcher = category in ("web", "worker") and row.comm in LAUNCHERS
            rows[pid] = (category, row.ticks, 0 if launcher else row.rss)
        return Snapshot(time.monotonic(), _machine_jiffies(), rows)

    @staticmethod
    def between(before: Snapshot, after: Snapshot) -> dict[str, float]:
        """Cores of each process type between two snapshots, "app" (web and worker) and
        "machine" (every CPU's busy time, from /proc/stat)."""
        wall = max(after.at - before.at, 1e-6)
        ticks = os.sysconf("SC_CLK_TCK")
        cores = dict.fromkeys((*PROCESS_TYPES, PROFILER), 0.0)
        for pid, (category, used, _) in after.processes.items():
            previous = before.processes.get(pid)
            delta = used - previous[1] if previous and previous[1] <= used else used
            cores[category] += delta / ticks / wall
        cores["app"] = cores["web"] + cores["worker"]
        busy0, total0 = before.machine
        busy1, total1 = after.machine
        cores["machine"] = (busy1 - busy0) / max(total1 - total0, 1) * (os.cpu_count() or 1)
        return cores

    @staticmethod
    def memory(snapshot: Snapshot) -> dict[str, Memory]:
        """Resident memory by process type at the snapshot (launchers, kernel threads and the
        profiler left out)."""
        sizes: dict[str, list[int]] = {}
        for category, _, rss in snapshot.processes.values():
            if rss and category in PROCESS_TYPES:
                sizes.setdefault(category, []).append(rss)
        return {key: Memory(sum(values), len(values), max(values)) for key, values in sizes.items()}


def process_type(comm: str) -> str:
    """The process type of a process outside the run's own groups, by its command name."""
    for key, names in SERVICES.items():
        if comm.startswith(names):
            return key
    return "other"


cpu_monitor: CpuMonitor | None = None


def wait_http(stack: Stack, port: int, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        stack.check_alive()
        try:
            if requests.get(f"http://127.0.0.1:{port}/health", timeout=2).ok:
                return
        except requests.RequestException:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"the server on port {port} did not answer /health in {timeout:.0f} s")


def wait_queue(stack: Stack, queue: str, timeout: float = 90.0) -> None:
    """Until the worker has declared its consumer queue (events published before are lost to
    it: the exchange routes them nowhere)."""
    from kombu import Connection

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        stack.check_alive()
        try:
            with Connection(amqp_url(AMQP_VHOST), connect_timeout=2) as connection:
                connection.default_channel.queue_declare(queue=queue, passive=True)
                return
        except Exception:  # not declared yet (or broker busy): try again
            time.sleep(0.5)
    raise RuntimeError(f"the Celery worker did not declare {queue} in {timeout:.0f} s")


def task_queues(task_names: Iterable[str]) -> set[str]:
    """The queues the app's Celery routing sends these tasks to (what the web instances publish
    them on), resolved by the app's own router rather than assumed."""
    from cinema.celery import app

    return {app.amqp.router.route({}, name)["queue"].name for name in task_names}


def wait_consumers(stack: Stack, queues: Iterable[str], timeout: float = 90.0) -> None:
    """Until each queue has a consumer. A queue can exist without one (beat or a web instance
    declares it when it publishes), and tasks on it would then wait forever."""
    from kombu import Connection

    waiting = set(queues)
    deadline = time.monotonic() + timeout
    while waiting and time.monotonic() < deadline:
        stack.check_alive()
        # Not declared yet (or the broker busy): try again.
        with (
            contextlib.suppress(Exception),
            Connection(amqp_url(AMQP_VHOST), connect_timeout=2) as connection,
        ):
            for queue in sorted(waiting):
                declared = connection.default_channel.queue_declare(queue=queue, passive=True)
                if declared.consumer_count:
                    waiting.discard(queue)
        if waiting:
            time.sleep(0.5)
    if waiting:
        raise RuntimeError(f"no Celery worker consumes {sorted(waiting)} after {timeout:.0f} s")


# --- Fixtures in the database --------------------------------------------------------------


class Fixtures:
    """Users with session tokens, one big room and as many 1,040-seat sessions as needed."""

    def __init__(self) -> None:
        from apps.catalog.models import Movie
        from apps.rooms.layout import grid
        from apps.rooms.models import Cinema
        from apps.rooms.services import room_create

        cinema = Cinema.objects.create(name="Bench", city="Bench")
        self.movie = Movie.objects.create(title_pt_br="Bench", duration_minutes=100)
        self.big_room = room_create(cinema=cinema, name="Big", positions=grid(ROWS, PER_ROW))
        self.small_room = room_create(cinema=cinema, name="Small", positions=grid(4, 5))
        self._slot = 0

    def session(self, *, small: bool = False):
        """A new session a few days ahead (each in its own 3 h slot: rooms never overlap)."""
        from django.utils import timezone

        from apps.sessions.services import session_create

        self._slot += 1
        starts_at = timezone.now() + timedelta(days=2, hours=3 * self._slot)
        return session_create(
            movie=self.movie,
            room=self.small_room if small else self.big_room,
            starts_at=starts_at,
            price=Decimal("20.00"),
        )

    @staticmethod
    def seat_ids(session) -> list[int]:
        return list(session.seats.order_by("id").values_list("id", flat=True))

    @staticmethod
    def users(count: int, prefix: str) -> list[tuple[int, str]]:
        """`count` users and a session token for each, written directly (no password hashing,
        no signup round trips): the token is a Django session key, as allauth's app client uses."""
        from django.contrib.auth.hashers import make_password

        from apps.accounts.models import User
        from bench.tokens import session_token_for

        password = make_password(None)
        users = User.objects.bulk_create(
            User(email=f"{prefix}{i}@bench.example", password=password) for i in range(count)
        )
        return [(user.pk, session_token_for(user)) for user in users]


class SeatPool:
    """Seats nobody has asked for yet, handed out once each (thread-safe), session by session and
    in random order within a session, like a sale filling a room."""

    def __init__(self, fixtures: Fixtures, name: str) -> None:
        self.fixtures = fixtures
        self.name = name
        self.session_ids: list[int] = []
        self._items: list[tuple[int, int]] = []
        self._lock = threading.Lock()
        self.exhausted = False

    def top_up(self, at_least: int) -> None:
        """Called between runs (never while clients run): enough seats for `at_least` more."""
        while len(self._items) < at_least:
            session = self.fixtures.session()
            seats = self.fixtures.seat_ids(session)
            random.shuffle(seats)
            self.session_ids.append(session.id)
            # Consumed from the end: new sessions go first in the list.
            self._items = [(session.id, seat) for seat in seats] + self._items
        self.exhausted = False

    def take(self) -> tuple[int, int] | None:
        with self._lock:
            if not self._items:
                self.exhausted = True
                return None
            return self._items.pop()

    def take_group(self, count: int) -> tuple[int, list[int]] | None:
        """Up to `count` seats of one session for one reservation (fewer when the session's
        seats run out first: a reservation cannot span sessions)."""
        with self._lock:
            if not self._items:
                self.exhausted = True
                return None
            session_id, seat = self._items.pop()
            seats = [seat]
            while len(seats) < count and self._items and self._items[-1][0] == session_id:
                seats.append(self._items.pop()[1])
            return session_id, sorted(seats)

    def __len__(self) -> int:
        return len(self._items)


# --- HTTP clients and the load driver ------------------------------------------------------


class UnsupportedResponse(RuntimeError):
    """An answer the load generator's client does not read (no Content-Length, chunked, 1xx, not
    HTTP/1.x): it stops the run instead of being counted as anything."""


def parse_head(head: bytes) -> tuple[int, int, bool]:
    """(status, body length, whether the connection stays open) of a response's status line and
    headers, `head` being everything before the blank line. A body is framed by Content-Length
    alone; anything else raises UnsupportedResponse."""
    if not (head.startswith(b"HTTP/1.") and head[8:9] == b" " and head[9:12].isdigit()):
        raise UnsupportedResponse(f"not an HTTP/1.x status line: {head[:80]!r}")
    status = int(head[9:12])
    if status < 200:
        raise UnsupportedResponse(f"interim answer {status}: the client sends no Expect")
    lower = head.lower()
    if _header(lower, b"transfer-encoding") is not None:
        raise UnsupportedResponse("a Transfer-Encoding body (chunked): only Content-Length is read")
    length = _header(lower, b"content-length")
    if length is not None and length.isdigit():
        size = int(length)
    elif length is None and status in (204, 304):
        size = 0
    else:
        raise UnsupportedResponse(f"answer {status} with Content-Length {length!r}")
    connection = _header(lower, b"connection") or b""
    if head.startswith(b"HTTP/1.0"):
        return status, size, b"keep-alive" in connection
    return status, size, b"close" not in connection


def _header(lower: bytes, name: bytes) -> bytes | None:
    """The value of the first header `name` in a lower-cased head, or None."""
    start = lower.find(b"\r\n" + name + b":")
    if start < 0:
        return None
    start += len(name) + 3
    end = lower.find(b"\r\n", start)
    return lower[start : end if end >= 0 else None].strip()


class Client:
    """One simulated user: its own keep-alive HTTP/1.1 connection to one app instance.

    A minimal client on a raw socket, not requests or http.client: the load generator shares the
    machine's cores with the app, and whatever it spends per request the servers lack. The
    request's bytes are built from a header block encoded once (a GET's are kept whole); the
    answer is read as a status line, headers and a Content-Length body (`parse_head`), and a
    `Connection: close` answer closes the connection for the next call to open a new one.
    Measured on GET /health at 32 clients: about 65 µs of this process's CPU per request, where
    http.client took 170 µs (and requests about four times as much as http.client).
    """

    def __init__(self, port: int, token: str | None = None) -> None:
        self.address = ("127.0.0.1", port)
        self.sock: socket.socket | None = None
        headers = f"Host: 127.0.0.1:{port}\r\nAccept-Language: en\r\n"
        if token:
            headers += f"X-Session-Token: {token}\r\n"
        self._headers = headers.encode("latin-1")
        self._requests: dict[tuple[str, str], bytes] = {}  # bodiless requests, whole

    def call(self, method: str, path: str, json: dict | None = None) -> tuple[int, bytes, float]:
        """(status, body, seconds from the start of the call to the body's last byte); status 0
        when the request failed without an answer (the connection is then dropped)."""
        started = time.perf_counter()
        request = self._request(method, path, json)
        try:
            sock = self._connection()
            sock.sendall(request)
            status, content, keep = self._response(sock)
            if not keep:
                self.close()
        except OSError as exc:
            self.close()
            status, content = 0, repr(exc).encode()
        return status, content, time.perf_counter() - started

    def _request(self, method: str, path: str, json: dict | None) -> bytes:
        if json is None:
            request = self._requests.get((method, path))
            if request is None:
                request = f"{method} {path} HTTP/1.1\r\n".encode() + self._headers + b"\r\n"
                self._requests[(method, path)] = request
            return request
        body = jsonlib.dumps(json).encode()
        return b"".join(
            (
                f"{method} {path} HTTP/1.1\r\n".encode(),
                self._headers,
                b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(body),
                body,
            )
        )

    def _connection(self) -> socket.socket:
        """The open connection, or a new one. A kept-alive connection the server has closed reads
        as ready (at EOF): it is replaced rather than sent a request the server will never see."""
        sock = self.sock
        if sock is not None and select.select([sock], [], [], 0)[0]:
            self.close()
            sock = None
        if sock is None:
            sock = socket.create_connection(self.address, timeout=REQUEST_TIMEOUT)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            # A blocking socket with the time-out in the kernel: one system call per send or
            # receive, where Python's own time-out polls around each of them. A receive that
            # times out raises OSError (EAGAIN), a failed request like any other.
            sock.settimeout(None)
            timeval = struct.pack("ll", int(REQUEST_TIMEOUT), 0)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, timeval)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, timeval)
            self.sock = sock
        return sock

    @staticmethod
    def _response(sock: socket.socket) -> tuple[int, bytes, bool]:
        data = sock.recv(65536)
        end = data.find(b"\r\n\r\n")
        while end < 0:
            more = sock.recv(65536)
            if not more:
                raise ConnectionError("connection closed before the end of the headers")
            data += more
            end = data.find(b"\r\n\r\n", max(0, len(data) - len(more) - 3))
        status, length, keep = parse_head(data[:end])
        body = data[end + 4 :]
        if len(body) < length:
            chunks, received = [body], len(body)
            while received < length:
                more = sock.recv(max(65536, length - received))
                if not more:
                    raise ConnectionError(f"connection closed {length - received} bytes early")
                chunks.append(more)
                received += len(more)
            body = b"".join(chunks)
        if len(body) != length:
            raise UnsupportedResponse(f"{len(body) - length} bytes after the body")
        return status, body, keep

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
            self.sock = None


@dataclass
class Recorder:
    """One client thread's samples: (kind, started at [s since the run began], seconds, status)."""

    origin: float
    samples: list[tuple[str, float, float, int]] = field(default_factory=list)
    notes: Counter = field(default_factory=Counter)

    def add(self, kind: str, started: float, seconds: float, status: int) -> None:
        self.samples.append((kind, started - self.origin, seconds, status))


@dataclass
class RunResult:
    clients: int
    wall: float
    started_at: float  # time.time() at the start, for matching events to runs
    ended_at: float
    samples: list[tuple[str, float, float, int]]
    notes: Counter
    cpu: dict[str, float] | None = None
    memory: dict[str, Memory] | None = None  # at the end of the run

    def of(self, kind: str) -> list[tuple[float, float, int]]:
        return [(t, s, status) for k, t, s, status in self.samples if k == kind]


Operation = Callable[[int, Client, Recorder], bool]


class RunObserver(Protocol):
    """Told when a closed-loop run starts and when it has ended (profiles.py records one)."""

    def started(self, seconds: float) -> None: ...

    def ended(self) -> None: ...


# The observer of the next runs, if any (`observed`).
run_observer: RunObserver | None = None


@contextlib.contextmanager
def observed(observer: RunObserver | None):
    """The runs started inside the block are told to `observer` (None: to nobody)."""
    global run_observer
    run_observer = observer
    try:
        yield
    finally:
        run_observer = None


def run_closed_loop(clients: list[Client], seconds: float, operation: Operation) -> RunResult:
    """Each client thread repeats `operation(index, client, recorder)` back to back until the
    time is up (or the operation returns False); operations started before the deadline finish
    and count. The wall time runs from the common start to the last thread's end. An exception
    in an operation (an answer the client cannot read, a bug) stops its thread and is raised
    here once the others are done: the run is not reported with fewer clients."""
    recorders: list[Recorder] = []
    failures: list[BaseException] = []
    barrier = threading.Barrier(len(clients) + 1)
    deadline_box: list[float] = []

    def loop(index: int, client: Client) -> None:
        barrier.wait()
        recorder = Recorder(origin=started)
        recorders.append(recorder)
        deadline = deadline_box[0]
        try:
            while time.perf_counter() < deadline:
                if not operation(index, client, recorder):
                    break
        except BaseException as exc:
            failures.append(exc)

    threads = [
        threading.Thread(target=loop, args=(i, c), daemon=True) for i, c in enumerate(clients)
    ]
    for thread in threads:
        thread.start()
    before = cpu_monitor.snapshot() if cpu_monitor else None
    started = time.perf_counter()
    started_at = time.time()
    deadline_box.append(started + seconds)
    barrier.wait()
    observer = run_observer
    if observer:
        observer.started(seconds)
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - started
    if observer:
        observer.ended()
    if failures:
        raise failures[0]
    cpu = memory = None
    if before:
        after = cpu_monitor.snapshot()
        cpu, memory = CpuMonitor.between(before, after), CpuMonitor.memory(after)
    samples = [sample for recorder in recorders for sample in recorder.samples]
    notes = sum((recorder.notes for recorder in recorders), Counter())
    return RunResult(len(clients), wall, started_at, time.time(), samples, notes, cpu, memory)


def make_clients(tokens: Iterable[tuple[int, str]], count: int) -> list[Client]:
    tokens = list(tokens)
    return [Client(PORTS[i % len(PORTS)], tokens[i % len(tokens)][1]) for i in range(count)]


# --- Statistics ----------------------------------------------------------------------------


def percentile(values: list[float], p: float) -> float | None:
    """Linear interpolation between closest ranks (numpy's default)."""
    if not values:
        return None
    ordered = sorted(values)
    position = (len(ordered) - 1) * p / 100
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def parse_time(value: str) -> float:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


# --- Machine ---------------------------------------------------------------------------------


def machine() -> dict[str, str]:
    import platform
    from importlib.metadata import version

    from django.db import connection

    cpuinfo = Path("/proc/cpuinfo").read_text()
    model = re.search(r"^model name\s*:\s*(.+)$", cpuinfo, re.M)
    meminfo = Path("/proc/meminfo").read_text()
    mem_kb = int(re.search(r"^MemTotal:\s*(\d+)", meminfo, re.M).group(1))
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        pg_version = cursor.fetchone()[0]
    try:
        import redis

        redis_version = redis.Redis.from_url(REDIS_URL).info("server")["redis_version"]
    except Exception:
        redis_version = "?"
    try:
        from kombu import Connection

        with Connection(amqp_url(AMQP_VHOST), connect_timeout=3) as conn:
            conn.connect()
            props = conn.connection.server_properties
            rabbit = props.get("version", "?")
            rabbit = rabbit.decode() if isinstance(rabbit, bytes) else str(rabbit)
    except Exception:
        rabbit = "?"
    makefile = (ROOT / "Makefile").read_text()

    def make_default(name: str) -> str:
        found = re.search(rf"^{name}\s*\?=\s*(\S+)", makefile, re.M)
        return found.group(1) if found else "?"

    return {
        "nproc": str(os.cpu_count()),
        "cpu": model.group(1).strip() if model else "?",
        "ram": f"{mem_kb / 1024 / 1024:.1f} GiB",
        "kernel": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "postgresql": pg_version,
        "redis": redis_version,
        "rabbitmq": rabbit,
        "django": version("django"),
        "granian": version("granian"),
        "celery": version("celery"),
        "web_workers": make_default("WEB_WORKERS"),
        "web_threads": make_default("WEB_THREADS"),
        "worker_concurrency": make_default("WORKER_CONCURRENCY"),
    }
