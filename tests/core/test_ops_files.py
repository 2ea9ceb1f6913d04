"""docker-compose.yml, the Makefile and the Dockerfile agree: every process is a make target."""

import json
import re
from pathlib import Path

import pytest
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
