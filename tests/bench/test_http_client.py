"""The load generator's HTTP client (bench.harness.Client) against a real local HTTP server: what
it reads, when it reconnects, and that it stops on what it cannot read."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from bench.harness import Client, Recorder, UnsupportedResponse, parse_head, run_closed_loop

BIG = b"x" * (1024 * 1024 + 17)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    connections: list[int] = []  # one entry a connection the server accepted
    requests: list[tuple[str, str, dict[str, str], bytes]] = []

    def setup(self) -> None:
        super().setup()
        Handler.connections.append(1)

    def log_message(self, *args) -> None:
        pass

    def _answer(self, status: int, body: bytes, *headers: tuple[str, str]) -> None:
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        if status not in (204, 304):
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        Handler.requests.append((self.command, self.path, dict(self.headers), b""))
        if self.path == "/json":
            self._answer(200, b'{"status": "ok"}', ("Content-Type", "application/json"))
        elif self.path == "/big":
            self._answer(200, BIG)
        elif self.path == "/empty":
            self._answer(204, b"")
        elif self.path == "/close":
            self._answer(200, b"bye", ("Connection", "close"))
            self.close_connection = True
        elif self.path == "/drop-after":  # closes without saying so, like an idle time-out
            self._answer(200, b"done")
            self.close_connection = True
        elif self.path == "/chunked":
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            self.wfile.write(b"5\r\nhello\r\n0\r\n\r\n")
        elif self.path == "/unframed":
            self.send_response(200)
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(b"until the end")
            self.close_connection = True
        else:
            self._answer(404, b"no")

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        Handler.requests.append((self.command, self.path, dict(self.headers), body))
        self._answer(201, body, ("Content-Type", "application/json"))


@pytest.fixture
def port():
    Handler.connections = []
    Handler.requests = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


@pytest.fixture
def client(port):
    client = Client(port, "token-1")
    yield client
    client.close()


def test_a_get_returns_status_body_and_the_time_to_its_last_byte(client):
    status, body, seconds = client.call("GET", "/json")

    assert (status, body) == (200, b'{"status": "ok"}')
    assert 0 < seconds < 5
    ((method, path, headers, _),) = Handler.requests
    assert (method, path) == ("GET", "/json")
    assert headers["X-Session-Token"] == "token-1"
    assert headers["Accept-Language"] == "en"
    assert headers["Host"].startswith("127.0.0.1:")


def test_a_post_sends_its_json_with_its_length(client):
    status, body, _ = client.call("POST", "/api/v1/reservations", {"session": 1, "seats": [2, 3]})

    assert status == 201
    assert json.loads(body) == {"session": 1, "seats": [2, 3]}
    ((_, _, headers, sent),) = Handler.requests
    assert headers["Content-Type"] == "application/json"
    assert int(headers["Content-Length"]) == len(sent)


def test_requests_share_one_kept_alive_connection(client):
    answers = [client.call("GET", path)[:2] for path in ("/json", "/big", "/empty", "/json")]

    assert answers == [
        (200, b'{"status": "ok"}'),
        (200, BIG),
        (204, b""),
        (200, b'{"status": "ok"}'),
    ]
    assert len(Handler.connections) == 1


def test_connection_close_is_obeyed_and_the_next_call_reconnects(client):
    assert client.call("GET", "/close")[:2] == (200, b"bye")
    assert client.sock is None

    assert client.call("GET", "/json")[0] == 200
    assert len(Handler.connections) == 2


def test_a_connection_the_server_dropped_while_idle_is_replaced_before_sending(client):
    assert client.call("GET", "/drop-after")[:2] == (200, b"done")
    time.sleep(0.2)  # the server's FIN arrives

    assert client.call("GET", "/json")[:2] == (200, b'{"status": "ok"}')
    assert len(Handler.connections) == 2


@pytest.mark.parametrize("path", ["/chunked", "/unframed"])
def test_an_answer_it_cannot_frame_stops_it(client, path):
    with pytest.raises(UnsupportedResponse):
        client.call("GET", path)


def test_a_refused_connection_is_a_failed_request_with_status_0():
    client = Client(1)  # nothing listens on port 1

    status, body, seconds = client.call("GET", "/health")

    assert status == 0
    assert b"ConnectionRefusedError" in body
    assert seconds >= 0


def test_an_unreadable_answer_stops_the_whole_run(port):
    clients = [Client(port) for _ in range(3)]

    def operation(index: int, client: Client, recorder: Recorder) -> bool:
        client.call("GET", "/chunked" if index == 1 else "/json")
        return True

    with pytest.raises(UnsupportedResponse):
        run_closed_loop(clients, 0.3, operation)
    for client in clients:
        client.close()


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (b"HTTP/1.1 200 OK\r\nContent-Length: 12", (200, 12, True)),
        (b"HTTP/1.1 409 Conflict\r\ncontent-length:3\r\nConnection: close", (409, 3, False)),
        (b"HTTP/1.1 304 Not Modified\r\nETag: x", (304, 0, True)),
        (b"HTTP/1.0 200 OK\r\nContent-Length: 1", (200, 1, False)),
        (b"HTTP/1.0 200 OK\r\nContent-Length: 1\r\nConnection: Keep-Alive", (200, 1, True)),
    ],
)
def test_the_head_gives_status_length_and_whether_to_keep_the_connection(head, expected):
    assert parse_head(head) == expected


@pytest.mark.parametrize(
    "head",
    [
        b"HTTP/2 200\r\nContent-Length: 1",
        b"garbage",
        b"HTTP/1.1 100 Continue",
        b"HTTP/1.1 200 OK",
        b"HTTP/1.1 200 OK\r\nContent-Length: -1",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked",
    ],
)
def test_a_head_it_does_not_support_is_refused(head):
    with pytest.raises(UnsupportedResponse):
        parse_head(head)
