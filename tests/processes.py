"""Start real server processes (the web instances, the uvicorn stream server, Celery) against the
test database."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import requests
from django.conf import settings
from django.db import connection

from tests.factories import PASSWORD

BIN = Path(sys.executable).parent
ROOT = Path(__file__).resolve().parent.parent


def process_env(**overrides: str) -> dict[str, str]:
    """The environment of a child process that shares this test run's database and Redis."""
    db = connection.settings_dict
    url = f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "cinema.settings.test",
        "DATABASE_URL": url,
        "REDIS_URL": settings.CACHES["default"]["LOCATION"],
        "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
        "RESERVATION_TTL_SECONDS": str(settings.RESERVATION_TTL_SECONDS),
        "DATABASE_CONN_MAX_AGE": "0",
    }
    env.update(overrides)
    return env


def login_over_http(base: str, email: str) -> str:
    """A session token from a running server's login endpoint (the factories' password)."""
    response = requests.post(
        f"{base}/_allauth/app/v1/auth/login",
        json={"email": email, "password": PASSWORD},
        timeout=10,
    )
    assert response.status_code == 200, response.text
    return response.json()["meta"]["session_token"]


def manage(*args: str, env: dict[str, str], timeout: float = 120) -> subprocess.CompletedProcess:
    """`manage.py <args>` in a child process with this environment, its output captured."""
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def _stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@contextmanager
def web_server(port: int, *, new_session: bool = False, **env: str) -> Iterator[str]:
    """A web instance serving the app on 127.0.0.1:port, started by `make web` as production
    starts it (same server, same options); yields its base URL, which carries the `make` process
    as `.process` (make passes a SIGTERM on to the server).

    With `new_session`, make leads a process group of its own (with the server and its workers),
    which `kill_group` can SIGKILL at once. The instance's metrics go to a folder of its own."""
    with tempfile.TemporaryDirectory(prefix="cinema-metrics-") as metrics_dir:
        process = subprocess.Popen(
            [
                "make",
                "--no-print-directory",
                "-s",
                "web",
                f"BIN={BIN}",
                f"BIND=127.0.0.1:{port}",
                f"METRICS_DIR={metrics_dir}",
            ],
            cwd=ROOT,
            env=process_env(**{"GRANIAN_LOG_LEVEL": "warning", **env}),
            start_new_session=new_session,
        )
        base = _Base(f"http://127.0.0.1:{port}")
        base.process = process
        try:
            wait_healthy(base, process, "make web")
            yield base
        finally:
            _stop(process)


def wait_healthy(base: str, process: subprocess.Popen, name: str) -> None:
    deadline = time.monotonic() + 30
    while True:
        try:
            if requests.get(f"{base}/health", timeout=1).status_code == 200:
                return
        except requests.RequestException:
            pass
        assert process.poll() is None, f"{name} exited at start-up"
        assert time.monotonic() < deadline, f"{name} did not start in time"
        time.sleep(0.2)


@contextmanager
def stream_server(port: int, **env: str) -> Iterator[str]:
    """The stream server (ASGI: uvicorn, as `make stream` runs it) on 127.0.0.1:port; yields its
    base URL, which carries the process as `.process`."""
    process = subprocess.Popen(
        [
            str(BIN / "uvicorn"),
            "cinema.asgi:application",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--loop",
            "uvloop",
            "--http",
            "httptools",
            "--lifespan",
            "off",
            "--no-access-log",
            "--log-level",
            "warning",
            "--timeout-graceful-shutdown",
            "2",
        ],
        cwd=ROOT,
        env=process_env(**env),
    )
    base = _Base(f"http://127.0.0.1:{port}")
    base.process = process
    try:
        wait_healthy(base, process, "uvicorn")
        yield base
    finally:
        _stop(process)


@contextmanager
def celery_worker(
    *, queues: str = "cinema.test", new_session: bool = False, **env: str
) -> Iterator[subprocess.Popen]:
    """A real Celery worker consuming the test queue from RabbitMQ.

    With `new_session`, the worker and its prefork children form a process group of their own,
    which `kill_group` can SIGKILL at once."""
    process = subprocess.Popen(
        [
            str(BIN / "celery"),
            "-A",
            "cinema",
            "worker",
            "-Q",
            queues,
            "--concurrency",
            "2",
            "--pool",
            "prefork",
            "--loglevel",
            "WARNING",
            "--without-heartbeat",
            "--without-gossip",
            "--without-mingle",
            # A unique node name: two workers (or test runs) on one host must not collide.
            "--hostname",
            f"test-{uuid.uuid4().hex[:8]}@%h",
        ],
        cwd=ROOT,
        env=process_env(**env),
        start_new_session=new_session,
    )
    try:
        yield process
    finally:
        _stop(process)


class _Base(str):
    """A base URL that also carries the process serving it (see `web_server`)."""

    process: subprocess.Popen


def children(pid: int) -> list[int]:
    """The processes whose parent is `pid`, from /proc."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with suppress(OSError):  # a process that ended meanwhile
            # After the command in parentheses: the state, then the parent's pid.
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(stat.parent.name))
    return found


def kill_group(process: subprocess.Popen) -> None:
    """SIGKILL a process started with `new_session=True` together with all its children (the
    prefork pool of a Celery worker, `make web` with its server and the server's workers), and reap
    it."""
    with suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=10)
