"""The web server as `make web` runs it (granian, WSGI): what it hands the app, how it stops on
SIGTERM, what it does when a worker dies, and how it refuses requests beyond its own limits
(never an HTML page, never a 5xx)."""

from __future__ import annotations

import os
import signal
import socket
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import suppress

import pytest
import requests
from django.db import connection

from tests.concurrency import free_port
from tests.processes import children, web_server

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

PROBE = {"DJANGO_SETTINGS_MODULE": "tests.ops.probe_settings"}


def _server_and_workers(base) -> tuple[int, list[int]]:
    """granian's main process (the child `make web` exec'd) and its worker processes."""
    (server,) = children(base.process.pid)
    return server, children(server)


def _wait(condition, seconds: float, message: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, message
        time.sleep(0.05)


def _refused(url: str) -> bool:
    try:
        requests.get(url, timeout=1)
    except requests.ConnectionError:
        return True
    return False


def test_the_app_reads_the_socket_peer_the_scheme_and_the_host_header():
    with web_server(free_port(), **PROBE) as base:
        seen = requests.get(
            f"{base}/probe/echo", headers={"X-Forwarded-For": "203.0.113.9"}, timeout=5
        ).json()
    port = base.rsplit(":", 1)[1]
    assert seen == {
        # Without a proxy in front (NUM_PROXIES=0) a client's X-Forwarded-For is passed on, and
        # ignored: the address that counts is the socket peer.
        "client_address": "127.0.0.1",
        "remote_addr": "127.0.0.1",
        "x_forwarded_for": "203.0.113.9",
        "url_scheme": "http",
        "is_secure": False,
        "host": f"127.0.0.1:{port}",
        "server": ["127.0.0.1", port],
    }


def test_on_sigterm_requests_in_flight_finish_and_new_connections_are_refused(tmp_path):
    started = tmp_path / "started"
    # Long enough that the refusal is seen while it runs, even when a loaded machine takes
    # several seconds to pass SIGTERM on to granian's workers (over 5 s once, in a full run).
    slow = 10
    with web_server(free_port(), **PROBE) as base, ThreadPoolExecutor(1) as pool:
        in_flight = pool.submit(
            requests.get,
            f"{base}/probe/slow",
            params={"seconds": str(slow), "started": str(started)},
            timeout=30,
        )
        _wait(started.exists, 10, "the slow request did not reach the app")
        stopping = time.monotonic()
        base.process.send_signal(signal.SIGTERM)  # to make, as docker stop and honcho do

        _wait(lambda: _refused(f"{base}/health"), slow - 1, "new connections were still accepted")
        assert not in_flight.done()  # refused while a request was still being answered
        answer = in_flight.result()
        assert answer.status_code == 200
        assert answer.json() == {"slept": float(slow)}
        base.process.wait(timeout=15)
    # It waited for the request, and no longer.
    assert slow - 1 < time.monotonic() - stopping < slow + 7


def test_a_worker_that_dies_is_started_again(tmp_path):
    with web_server(free_port()) as base:
        server, (worker,) = _server_and_workers(base)
        os.kill(worker, signal.SIGKILL)

        def serves_again() -> bool:
            try:
                return requests.get(f"{base}/health", timeout=1).status_code == 200
            except requests.RequestException:
                return False

        _wait(lambda: children(server) not in ([], [worker]), 10, "no new worker")
        _wait(serves_again, 20, "the instance did not serve again")
        assert _server_and_workers(base)[0] == server  # the same server, not a new start


def test_threads_the_server_ends_take_their_database_connections_with_them():
    """granian ends a thread that stays idle; its database connection must close with it
    (apps/ops/thread_connections.py), or every burst after a quiet spell leaves more behind."""

    def others() -> int:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
            return cursor.fetchone()[0]

    # Other tests of the run may hold connections of their own (a live server's threads).
    before = others()
    threads_idle = {"DATABASE_CONN_MAX_AGE": "60", "GRANIAN_BLOCKING_THREADS_IDLE_TIMEOUT": "5"}
    with web_server(free_port(), **threads_idle) as base, ThreadPoolExecutor(16) as pool:
        for _ in range(3):  # bursts on every thread, then a quiet spell that ends them
            statuses = pool.map(
                lambda _: requests.get(f"{base}/api/v1/movies", timeout=10).status_code, range(96)
            )
            assert set(statuses) == {200}
            time.sleep(7)
        left = others()
    assert left - before <= 1


def _raw(port: int, request: bytes) -> tuple[int, dict[str, str], bytes]:
    """Send raw bytes; the answer's status, headers and body."""
    data = b""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        # The server may answer and close before it has read everything.
        with suppress(BrokenPipeError, ConnectionResetError):
            sock.sendall(request)
        with suppress(ConnectionResetError):
            while chunk := sock.recv(65536):
                data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.lower().split(": ", 1) for line in header_lines)
    return int(status_line.split()[1]), headers, body


def _get(target: str, headers: str = "") -> bytes:
    return (
        f"GET {target} HTTP/1.1\r\nHost: 127.0.0.1\r\n{headers}Connection: close\r\n\r\n".encode()
    )


def test_requests_beyond_the_servers_limits_are_refused_without_a_page():
    longest = 65_534  # bytes of request target granian passes on
    query = "/api/v1/movies?search="
    cases = {
        "the longest target": (_get(query + "a" * (longest - len(query))), 200),
        "a longer target": (_get(query + "a" * (longest + 1 - len(query))), 414),
        "a 300 KB header": (_get("/api/v1/movies", f"Cookie: c={'c' * 300_000}\r\n"), 200),
        # Over granian's HTTP/1 buffer (417,792 bytes; a head a little over it may still pass
        # when it arrives in one read).
        "a 1 MB header": (_get("/api/v1/movies", f"X-Big: {'b' * 1_000_000}\r\n"), 431),
        "101 header fields": (_get("/api/v1/movies", "X-A: a\r\n" * 99), 431),
        "a malformed request line": (b"NOT HTTP\r\n\r\n", 400),
    }
    port = free_port()
    with web_server(port):
        answers = {name: _raw(port, request) for name, (request, _) in cases.items()}

    for name, (status, headers, body) in answers.items():
        assert status == cases[name][1], name
        if status == 200:  # the app's own answer
            assert headers["content-type"] == "application/json", name
        else:  # the server's: empty, never a page
            assert (body, headers.get("content-type")) == (b"", None), name
