"""`make run` puts nginx in front of its two web instances when nginx is installed: the same
proxy settings as compose (deploy/nginx/cinema-api.conf), run by `make nginx`. Against two real
web instances of this test run (`make web`)."""

from __future__ import annotations

import random
import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
import requests

from tests.concurrency import free_port
from tests.factories import make_session
from tests.processes import ROOT, process_env, stream_server, web_server

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

NGINX = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin:/usr/local/sbin")


def _procfile(name: str) -> dict[str, str]:
    lines = (ROOT / name).read_text().splitlines()
    return dict(line.split(": ", 1) for line in lines if line.strip())


def test_with_nginx_the_api_stays_on_port_8000_and_the_instances_move_behind_it():
    plain, fronted = _procfile("Procfile"), _procfile("Procfile.nginx")
    assert "BIND=127.0.0.1:8000" in plain["web"]
    assert fronted["nginx"] == "make --no-print-directory nginx"
    makefile = (ROOT / "Makefile").read_text()
    assert "NGINX_LISTEN ?= 127.0.0.1:8000" in makefile
    upstreams = re.search(r"^NGINX_UPSTREAMS \?= (.+)$", makefile, re.M).group(1).split()
    binds = [re.search(r"BIND=(\S+)", fronted[name]).group(1) for name in ("web", "web2")]
    assert binds == upstreams
    # Behind one proxy the instances take the client's address from its X-Forwarded-For hop.
    assert all(fronted[name].startswith("NUM_PROXIES=1 ") for name in ("web", "web2", "stream"))
    # The stream server runs in both, on the address nginx sends the stream path to.
    assert fronted["stream"] == "NUM_PROXIES=1 " + plain["stream"]
    assert "STREAM_BIND=127.0.0.1:8003" in plain["stream"]
    assert "STREAM_BIND ?= 127.0.0.1:8003" in makefile
    assert "NGINX_STREAM_UPSTREAMS ?= $(STREAM_BIND)" in makefile
    assert {k: v for k, v in fronted.items() if k not in ("nginx", "web", "web2", "stream")} == {
        k: v for k, v in plain.items() if k not in ("web", "web2", "stream")
    }


@contextmanager
def make_nginx(
    tmp_path: Path, web_ports: list[int], stream_port: int | None = None
) -> Iterator[str]:
    """`make nginx` in front of web instances on these ports (and a stream server); yields its
    base URL."""
    listen = f"127.0.0.1:{free_port()}"
    upstreams = " ".join(f"127.0.0.1:{port}" for port in web_ports)
    argv = ["make", "--no-print-directory", "nginx", f"NGINX={NGINX}", f"NGINX_LISTEN={listen}"]
    argv += [f"NGINX_UPSTREAMS={upstreams}", f"NGINX_PREFIX={tmp_path}"]
    if stream_port is not None:
        argv.append(f"NGINX_STREAM_UPSTREAMS=127.0.0.1:{stream_port}")
    proxy = subprocess.Popen(
        argv, cwd=ROOT, env=process_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    try:
        base = f"http://{listen}"
        _wait_for(base, proxy)
        yield base
    finally:
        proxy.terminate()
        proxy.communicate(timeout=15)


@pytest.mark.skipif(NGINX is None, reason="nginx is not installed (.ci/run installs it)")
def test_make_nginx_balances_the_two_instances_and_skips_one_that_is_down(tmp_path: Path):
    ports = [free_port(), free_port()]
    with (
        web_server(ports[0], new_session=True, NUM_PROXIES="1") as first,
        web_server(ports[1], NUM_PROXIES="1"),
        make_nginx(tmp_path, ports) as base,
    ):
        answer = requests.get(f"{base}/health", headers={"X-Request-ID": "via-nginx"}, timeout=5)
        assert answer.status_code == 200
        assert answer.headers["X-Request-ID"] == "via-nginx"
        assert requests.get(f"{base}/api/v1/no-such-thing", timeout=5).status_code == 404

        first.process.terminate()  # one instance goes away
        first.process.wait(timeout=15)
        statuses = [requests.get(f"{base}/health", timeout=5).status_code for _ in range(10)]
        assert statuses == [200] * 10


@pytest.mark.skipif(NGINX is None, reason="nginx is not installed (.ci/run installs it)")
def test_behind_make_nginx_the_app_counts_the_address_nginx_saw(tmp_path: Path):
    """nginx adds the client's address to X-Forwarded-For and the instance passes it on; with
    NUM_PROXIES=1 the app counts that hop, never an address the client wrote. Not even one in a
    header spelled with underscores, which the web server would take for X-Forwarded-For: nginx
    drops such headers."""
    client = f"127.{random.randrange(1, 255)}.{random.randrange(1, 255)}.{random.randrange(2, 255)}"
    web_port = free_port()
    with (
        web_server(web_port, NUM_PROXIES="1", DJANGO_SETTINGS_MODULE="tests.ops.probe_settings"),
        make_nginx(tmp_path, [web_port]) as base,
        httpx.Client(transport=httpx.HTTPTransport(local_address=client)) as http,
    ):
        spoofed = {"X-Forwarded-For": "203.0.113.9", "X_Forwarded_For": "198.51.100.7"}
        seen = http.get(f"{base}/probe/echo", headers=spoofed, timeout=5).json()
    assert seen["client_address"] == client
    assert seen["x_forwarded_for"] == f"203.0.113.9, {client}"
    assert seen["remote_addr"] == "127.0.0.1"  # nginx
    assert seen["host"] == base.removeprefix("http://")
    assert seen["url_scheme"] == "http"


def _wait_for(base: str, proxy: subprocess.Popen) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        assert proxy.poll() is None, proxy.communicate()[0].decode(errors="replace")
        try:
            if requests.get(f"{base}/health", timeout=1).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.1)
    raise AssertionError("nginx did not answer in time")


@pytest.mark.skipif(NGINX is None, reason="nginx is not installed (.ci/run installs it)")
def test_make_nginx_sends_the_seat_stream_to_the_stream_server_unbuffered(tmp_path: Path):
    session = make_session()
    web_port, stream_port = free_port(), free_port()
    with (
        web_server(web_port, NUM_PROXIES="1"),
        stream_server(stream_port, NUM_PROXIES="1", SSE_KEEPALIVE_SECONDS="0.2") as streams,
        make_nginx(tmp_path, [web_port], stream_port) as base,
    ):
        path = f"/api/v1/sessions/{session.id}/seats/stream"
        # Straight to a WSGI instance, the path is refused: it is the stream server's.
        direct = requests.get(f"http://127.0.0.1:{web_port}{path}", timeout=5)
        assert direct.status_code == 421
        assert direct.json()["code"] == "stream_server_only"
        with httpx.stream("GET", base + path, timeout=10) as answer:
            assert answer.status_code == 200
            assert answer.headers["content-type"].startswith("text/event-stream")
            lines = answer.iter_lines()
            assert next(lines).startswith("id: ")
            assert next(lines) == "event: snapshot"
            # Unbuffered: keep-alive comments come through one by one, as they are sent.
            started = time.monotonic()
            comments = 0
            for line in lines:
                comments += line == ": keep-alive"
                if comments == 3:
                    break
            assert time.monotonic() - started < 3
        assert requests.get(f"{streams}/health", timeout=5).status_code == 200
