"""docker-compose.cluster.yml, read from its files (no Docker engine here nor in CI): every app
process is a make target of the one image, every service is checked for health and starts after
what it needs, and the standbys are wired as docs/scaling.md describes: Redis master, replica and
three Sentinels; a PostgreSQL streaming replica; a three-node RabbitMQ cluster with quorum queues.
The app's settings, loaded with the file's environment, use all of them."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.ops.test_ops_files import command_targets

ROOT = Path(__file__).resolve().parents[2]
IMAGE = "cinema-backend:local"
SENTINELS = ["sentinel1", "sentinel2", "sentinel3"]
RABBITMQ_NODES = ["rabbitmq1", "rabbitmq2", "rabbitmq3"]
STATEFUL = ["postgres", "postgres-replica", "redis-master", *SENTINELS, *RABBITMQ_NODES]


@pytest.fixture(scope="module")
def cluster() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.cluster.yml").read_text())


@pytest.fixture(scope="module")
def services(cluster) -> dict:
    return cluster["services"]


@pytest.fixture(scope="module")
def app_env(services) -> dict:
    return services["api1"]["environment"]


@pytest.fixture(scope="module")
def make_targets() -> set[str]:
    text = (ROOT / "Makefile").read_text()
    return set(re.findall(r"^([A-Za-z0-9_.-]+)\s*:(?!=)", text, flags=re.MULTILINE))


def app_services(services: dict) -> dict:
    return {name: s for name, s in services.items() if s.get("image") == IMAGE}


def running(services: dict, target: str) -> list[str]:
    return sorted(n for n, s in app_services(services).items() if s["command"] == ["make", target])


def config_file(cluster: dict, service: dict, target: str) -> str:
    """The text of the file a service gets mounted at `target` (a `configs` entry)."""
    source = next(c["source"] for c in service["configs"] if c["target"] == target)
    return (ROOT / cluster["configs"][source]["file"]).read_text()


def test_the_cluster_is_a_project_of_its_own(cluster):
    # Not the single-node file's project: its volumes (a database made without the replication
    # role) and containers are never taken over.
    single = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    assert cluster["name"] == "cinema-cluster"
    assert single.get("name") != cluster["name"]


def test_every_app_process_is_a_make_target_of_the_one_image(services, make_targets):
    apps = app_services(services)
    assert [name for name, s in apps.items() if "build" in s] == ["migrate"]
    assert services["migrate"]["build"] == {"context": ".", "dockerfile": "Dockerfile"}
    for name, service in apps.items():
        targets = command_targets(service["command"])
        assert targets, (name, service["command"])
        assert set(targets) <= make_targets, (name, targets)
    # The same image and the same targets as docker-compose.yml.
    single = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
    assert single["api1"]["image"] == IMAGE
    assert services["migrate"]["command"] == single["migrate"]["command"]


def test_three_api_instances_one_stream_server_two_workers_and_one_beat(cluster, services):
    assert running(services, "web") == ["api1", "api2", "api3"]
    assert running(services, "stream") == ["stream"]
    assert running(services, "worker") == ["worker1", "worker2"]
    assert running(services, "beat") == ["beat"]
    upstreams = cluster["configs"]["nginx_conf"]["content"]
    api = re.search(r"upstream cinema_api \{(.*?)\}", upstreams, re.S).group(1)
    assert re.findall(r"server (\w+):8000", api) == ["api1", "api2", "api3"]
    assert re.search(r"upstream cinema_stream \{\s*server stream:8000;", upstreams)
    assert cluster["configs"]["nginx_api"]["file"] == "./deploy/nginx/cinema-api.conf"


def test_every_long_running_service_has_a_health_check_and_restarts(services):
    for name, service in services.items():
        if name == "migrate":
            assert service["restart"] == "no"
            continue
        assert service["restart"] == "unless-stopped", name
        test = service["healthcheck"]["test"]
        assert test[0] == "CMD", name
        assert len(test) > 1, name


def test_start_order(services):
    for name, service in app_services(services).items():
        needs = service["depends_on"]
        for stateful in STATEFUL:
            assert needs[stateful] == {"condition": "service_healthy"}, (name, stateful)
        if name != "migrate":
            assert needs["migrate"] == {"condition": "service_completed_successfully"}, name
    assert services["postgres-replica"]["depends_on"] == {
        "postgres": {"condition": "service_healthy"}
    }
    assert services["redis-replica"]["depends_on"] == {
        "redis-master": {"condition": "service_healthy"}
    }
    for name in SENTINELS:
        assert set(services[name]["depends_on"]) == {"redis-master", "redis-replica"}
    assert services["nginx"]["depends_on"] == {
        name: {"condition": "service_healthy"} for name in ("api1", "api2", "api3", "stream")
    }


def test_redis_has_a_replica_and_three_sentinels_the_app_asks(cluster, services, app_env):
    replica = services["redis-replica"]["command"]
    assert replica[replica.index("--replicaof") + 1 :] == ["redis-master", "6379"]
    master_name = app_env["REDIS_SENTINEL_MASTER"]
    for name in SENTINELS:
        sentinel = services[name]
        assert sentinel["hostname"] == name
        assert sentinel["environment"] == {
            "SENTINEL_HOSTNAME": name,
            "REDIS_MASTER_HOST": "redis-master",
            "REDIS_SENTINEL_MASTER": master_name,
        }
        script = config_file(cluster, sentinel, sentinel["command"][-1])
        # Quorum 2 of 3: one Sentinel alone can neither start a failover nor stop one.
        assert "sentinel monitor $REDIS_SENTINEL_MASTER $REDIS_MASTER_HOST 6379 2" in script
        assert "port 26379" in script
    assert app_env["REDIS_SENTINELS"].split(",") == [f"{name}:26379" for name in SENTINELS]


def test_postgresql_has_a_streaming_replica_the_app_reads_the_catalogue_from(
    cluster, services, app_env
):
    primary, replica = services["postgres"], services["postgres-replica"]
    init = config_file(cluster, primary, "/docker-entrypoint-initdb.d/10-replication.sh")
    assert "CREATE ROLE replicator WITH REPLICATION LOGIN" in init
    assert "host replication replicator all scram-sha-256" in init
    assert replica["environment"]["PRIMARY_HOST"] == "postgres"
    start = config_file(cluster, replica, replica["command"][-1])
    assert re.search(
        r"pg_basebackup -h \"\$PRIMARY_HOST\".*-U replicator.*-R -X stream", start, re.S
    )
    assert start.rstrip().endswith("exec docker-entrypoint.sh postgres")
    assert primary["volumes"] != replica["volumes"]  # a copy of its own
    assert "@postgres:5432/cinema" in app_env["DATABASE_URL"]
    assert "@postgres-replica:5432/cinema" in app_env["DATABASE_REPLICA_URL"]


def test_rabbitmq_is_three_nodes_of_one_cluster_with_quorum_queues(cluster, services, app_env):
    cookies = set()
    for name in RABBITMQ_NODES:
        node = services[name]
        assert node["hostname"] == name  # the node name, rabbit@<hostname>, names its data
        assert node["volumes"] == [f"{name}-data:/var/lib/rabbitmq"]
        cookies.add(node["environment"]["RABBITMQ_CLUSTER_COOKIE"])
        conf = config_file(cluster, node, "/etc/rabbitmq/conf.d/20-cluster.conf")
        listed = re.findall(r"classic_config\.nodes\.\d+ = rabbit@(\w+)", conf)
        assert listed == RABBITMQ_NODES
        script = config_file(cluster, node, node["command"][-1])
        assert '"$RABBITMQ_CLUSTER_COOKIE" > /var/lib/rabbitmq/.erlang.cookie' in script
    assert len(cookies) == 1
    brokers = app_env["CELERY_BROKER_URL"].split(";")
    assert brokers == [f"amqp://guest:guest@{name}:5672//" for name in RABBITMQ_NODES]
    assert app_env["EVENTS_QUORUM_QUEUES"] == "true"


def test_only_nginx_and_one_management_ui_are_published(services):
    published = {n: s["ports"] for n, s in services.items() if "ports" in s}
    assert published == {"nginx": ["8000:8000"], "rabbitmq1": ["127.0.0.1:15672:15672"]}


def test_the_third_party_images_are_those_of_the_single_node_file(services):
    single = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
    assert services["postgres"]["image"] == services["postgres-replica"]["image"]
    assert services["postgres"]["image"] == single["postgres"]["image"]
    for name in ("redis-master", "redis-replica", *SENTINELS):
        assert services[name]["image"] == single["redis"]["image"]
    for name in RABBITMQ_NODES:
        assert services[name]["image"] == single["rabbitmq"]["image"]
    assert services["nginx"]["image"] == single["nginx"]["image"]


def test_the_scripts_of_the_stateful_services_are_valid_shell():
    for script in sorted((ROOT / "deploy/cluster").glob("*.sh")):
        result = subprocess.run(["sh", "-n", str(script)], capture_output=True, text=True)
        assert result.returncode == 0, (script.name, result.stderr)


def test_the_settings_use_every_standby_with_the_file_s_environment(app_env):
    """The settings module, loaded with the cluster's app environment (nothing is contacted)."""
    env = {
        key: re.sub(r"\$\{[A-Z_]+:-([^}]*)\}", r"\1", str(value))  # compose's defaults
        for key, value in app_env.items()
    }
    env |= {"DJANGO_SETTINGS_MODULE": "cinema.settings.base", "PATH": "/usr/bin:/bin"}
    probe = (
        "import json, django; django.setup(); from django.conf import settings as s; "
        "print(json.dumps({'cache': s.CACHES['default'], 'databases': sorted(s.DATABASES), "
        "'replica': s.DATABASES.get('replica', {}).get('HOST'), "
        "'quorum': s.EVENTS_QUORUM_QUEUES, 'broker': s.CELERY_BROKER_URL}))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    seen = json.loads(result.stdout.strip().splitlines()[-1])
    options = seen["cache"]["OPTIONS"]
    assert options["CONNECTION_FACTORY"] == "django_redis.pool.SentinelConnectionFactory"
    assert options["SENTINELS"] == [[name, 26379] for name in SENTINELS]
    assert seen["cache"]["LOCATION"] == "redis://cinema/0"
    assert seen["databases"] == ["default", "replica"]
    assert seen["replica"] == "postgres-replica"
    assert seen["quorum"] is True
    assert seen["broker"].count(";") == 2
