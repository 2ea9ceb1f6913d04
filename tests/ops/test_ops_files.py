"""docker-compose.yml, the Makefile and the Dockerfile agree: every process is a make target."""

import contextlib
import http.server
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import requests
import yaml

ROOT = Path(__file__).resolve().parents[2]
SERVICES = {"postgres", "redis", "rabbitmq", "migrate", "api1", "api2", "worker", "beat", "nginx"}
MAKE_TARGET = re.compile(r"\bmake\s+([A-Za-z0-9_.-]+)")


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


@pytest.fixture(scope="module")
def make_targets() -> set[str]:
    text = (ROOT / "Makefile").read_text()
    return set(re.findall(r"^([A-Za-z0-9_.-]+)\s*:(?!=)", text, flags=re.MULTILINE))


def command_targets(command) -> list[str]:
    """Make targets a command runs: `make x`, or `sh -c "make a && make b"`."""
    text = command if isinstance(command, str) else " ".join(command)
    return MAKE_TARGET.findall(text)


def test_makefile_has_the_process_targets(make_targets):
    assert {"run", "web", "worker", "beat", "migrate", "seed", "test", "install"} <= make_targets


def test_compose_has_every_service(compose):
    assert set(compose["services"]) >= SERVICES


def test_rabbitmq_runs_the_management_image(compose):
    image = compose["services"]["rabbitmq"]["image"]
    assert image.startswith("rabbitmq:")
    assert image.endswith("-management")


@pytest.mark.parametrize("name", sorted(SERVICES - {"migrate"}))
def test_long_running_services_have_a_healthcheck(compose, name):
    healthcheck = compose["services"][name].get("healthcheck")
    assert healthcheck, f"{name} has no healthcheck"
    assert healthcheck["test"]


def test_migrate_runs_once(compose):
    migrate = compose["services"]["migrate"]
    assert "healthcheck" not in migrate
    assert migrate["restart"] == "no"


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("api1", ["web"]),
        ("api2", ["web"]),
        ("worker", ["worker"]),
        ("beat", ["beat"]),
        ("migrate", ["migrate", "seed"]),
    ],
)
def test_app_commands_are_make_targets(compose, make_targets, name, expected):
    targets = command_targets(compose["services"][name]["command"])

    assert targets == expected
    assert set(targets) <= make_targets


@pytest.mark.parametrize("name", ["api1", "api2", "worker", "beat"])
def test_app_services_wait_for_migrations(compose, name):
    depends_on = compose["services"][name]["depends_on"]
    assert depends_on["migrate"] == {"condition": "service_completed_successfully"}
    for dependency in ("postgres", "redis", "rabbitmq"):
        assert depends_on[dependency] == {"condition": "service_healthy"}


def test_dockerfile_cmd_is_a_make_target(make_targets):
    lines = (ROOT / "Dockerfile").read_text().splitlines()
    cmd = [line for line in lines if line.startswith("CMD ")]
    assert len(cmd) == 1
    command = json.loads(cmd[0].removeprefix("CMD "))

    assert command[0] == "make"
    assert command_targets(command) == ["web"]
    assert set(command_targets(command)) <= make_targets


def test_compose_nginx_uses_the_proxy_settings_of_make_nginx(compose):
    """One file of proxy settings for both: compose mounts it, `make nginx` includes it."""
    mounted = {c["source"]: c["target"] for c in compose["services"]["nginx"]["configs"]}
    assert compose["configs"]["nginx_api"]["file"] == "./deploy/nginx/cinema-api.conf"
    assert mounted["nginx_api"] == "/etc/nginx/cinema-api.conf"
    assert "include /etc/nginx/cinema-api.conf;" in compose["configs"]["nginx_conf"]["content"]
    assert "@API_CONF@" in (ROOT / "deploy/nginx/local.conf").read_text()


# --- Stopping: the stop signal reaches the server --------------------------------------------
FAKE_SERVER = """#!{python}
import os, signal, sys, time
from pathlib import Path

def stop(*_):
    Path({out!r}).write_text("graceful")
    sys.exit(0)

signal.signal(signal.SIGTERM, stop)
Path({ready!r}).write_text(str(os.getpid()))
time.sleep(60)
"""


@pytest.mark.parametrize(
    ("target", "binary"), [("web", "granian"), ("worker", "celery"), ("beat", "celery")]
)
def test_a_sigterm_to_make_reaches_the_server_for_its_graceful_shutdown(tmp_path, target, binary):
    """`docker stop` (and honcho) signal make, which passes SIGTERM to its own child only: the
    targets exec the server, so that child is granian or celery, not a shell that would die and
    leave the server to be killed at the end of the grace period."""
    out, ready = tmp_path / "stopped", tmp_path / "ready"
    fake = tmp_path / "bin" / binary
    fake.parent.mkdir()
    fake.write_text(FAKE_SERVER.format(python=sys.executable, out=str(out), ready=str(ready)))
    fake.chmod(0o755)
    make = subprocess.Popen(
        [
            "make",
            "--no-print-directory",
            "-s",
            target,
            f"BIN={fake.parent}",
            f"METRICS_DIR={tmp_path / 'metrics'}",
        ],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 20
        while not ready.exists():
            assert make.poll() is None
            assert time.monotonic() < deadline
            time.sleep(0.05)
        make.send_signal(signal.SIGTERM)
        make.wait(timeout=20)
    finally:
        if make.poll() is None:
            make.kill()
        if ready.exists() and not out.exists():  # a server left behind by a failure
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(ready.read_text()), signal.SIGKILL)
    assert out.read_text() == "graceful"


# --- The worker's metrics ----------------------------------------------------------------------
def make_dry_run(*args: str) -> str:
    return subprocess.run(
        ["make", "-n", "--no-print-directory", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout


def test_the_worker_serves_its_metrics_only_when_asked_to():
    assert "worker_metrics" not in make_dry_run("worker", "WORKER_METRICS_BIND=")
    command = make_dry_run("worker", "WORKER_METRICS_BIND=0.0.0.0:9100")
    assert "WORKER_METRICS_BIND=0.0.0.0:9100" in command
    assert "--include deploy.worker_metrics" in command


def test_compose_worker_serves_its_metrics(compose):
    worker = compose["services"]["worker"]
    assert command_targets(worker["command"]) == ["worker"]
    assert worker["environment"]["WORKER_METRICS_BIND"].endswith(":9100")


WORKER_METRICS_SCRIPT = """
import sys, urllib.request
from prometheus_client import Counter
from deploy import worker_metrics

Counter("cinema_test_worker_total", "A figure a pool process wrote.").inc(3)
worker_metrics.serve_metrics()
url = "http://127.0.0.1:" + sys.argv[1] + "/metrics"
print(urllib.request.urlopen(url, timeout=5).read().decode())
"""


def test_the_worker_metrics_server_serves_the_multiprocess_folder(tmp_path):
    from tests.concurrency import free_port

    port = free_port()
    env = {
        **os.environ,
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path),
        "WORKER_METRICS_BIND": f"127.0.0.1:{port}",
    }
    result = subprocess.run(
        [sys.executable, "-c", WORKER_METRICS_SCRIPT, str(port)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "cinema_test_worker_total 3.0" in result.stdout
    assert list(tmp_path.glob("counter_*.db"))


def test_the_worker_metrics_bind_is_parsed_as_host_and_port():
    from deploy.worker_metrics import parse_bind

    assert parse_bind("0.0.0.0:9100") == ("0.0.0.0", 9100)  # noqa: S104
    assert parse_bind("[::]:9100") == ("::", 9100)
    assert parse_bind(":9100") == ("127.0.0.1", 9100)


# --- nginx keeps /metrics internal -------------------------------------------------------------
NGINX = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin:/usr/local/sbin")


class _Upstream(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = f"upstream {self.path}".encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.mark.skipif(NGINX is None, reason="nginx is not installed (.ci/run installs it)")
def test_the_proxy_answers_404_to_metrics_and_passes_the_rest(tmp_path):
    """deploy/nginx/cinema-api.conf, as compose and `make nginx` run it, before a stand-in API."""
    from tests.concurrency import free_port

    upstream = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Upstream)
    threading.Thread(target=upstream.serve_forever, daemon=True).start()
    listen = f"127.0.0.1:{free_port()}"
    proxy = subprocess.Popen(
        [
            "make",
            "--no-print-directory",
            "nginx",
            f"NGINX={NGINX}",
            f"NGINX_LISTEN={listen}",
            f"NGINX_UPSTREAMS=127.0.0.1:{upstream.server_address[1]}",
            f"NGINX_PREFIX={tmp_path}",
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        base = f"http://{listen}"
        deadline = time.monotonic() + 20
        while True:
            assert proxy.poll() is None, proxy.communicate()[0].decode(errors="replace")
            try:
                first = requests.get(f"{base}/health", timeout=1)
                break
            except requests.ConnectionError:
                assert time.monotonic() < deadline, "nginx did not answer in time"
                time.sleep(0.1)
        assert (first.status_code, first.text) == (200, "upstream /health")
        assert requests.get(f"{base}/api/v1/movies", timeout=5).text == "upstream /api/v1/movies"
        for path in ("/metrics", "/metrics/", "//metrics", "/%6Detrics", "/api/../metrics"):
            answer = requests.get(f"{base}{path}", timeout=5)
            assert answer.status_code == 404, path
            assert "upstream" not in answer.text, path
    finally:
        proxy.terminate()
        proxy.communicate(timeout=15)
        upstream.shutdown()
