"""The image and the stack, read from their files (no Docker engine here nor in CI): a hashed lock
installs the dependencies everywhere, the Dockerfile builds in two stages into a runtime that only
runs the code, the build context leaves out what must never enter an image, and compose pins,
checks, keeps and stops its services as a long-running system needs."""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import pytest
import yaml
from django.conf import settings

ROOT = Path(__file__).resolve().parents[2]
APP_SERVICES = ["migrate", "api1", "api2", "stream", "worker", "beat"]
LONG_RUNNING = [
    "postgres",
    "redis",
    "rabbitmq",
    "api1",
    "api2",
    "stream",
    "worker",
    "beat",
    "nginx",
]
PYTHON_IMAGE = re.compile(r"^python:3\.11\.\d+-slim-bookworm$")


# --- A small Dockerfile reader ----------------------------------------------------------------
@dataclass
class Instruction:
    keyword: str
    args: str
    flags: dict[str, str] = field(default_factory=dict)


@dataclass
class Stage:
    image: str
    name: str | None
    instructions: list[Instruction] = field(default_factory=list)

    def all(self, keyword: str) -> list[Instruction]:
        return [i for i in self.instructions if i.keyword == keyword]

    def runs(self) -> str:
        return "\n".join(i.args for i in self.all("RUN"))


def logical_lines(text: str) -> list[str]:
    """Instructions one a line: comments dropped, continuations (`\\`) joined."""
    lines, pending = [], ""
    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith("#") or (not line and not pending):
            continue
        if line.endswith("\\"):
            pending += line[:-1].strip() + " "
            continue
        lines.append(pending + line)
        pending = ""
    assert not pending, "a continuation runs off the end of the file"
    return lines


def read_dockerfile(text: str) -> list[Stage]:
    stages: list[Stage] = []
    for line in logical_lines(text):
        keyword, _, args = line.partition(" ")
        args = args.strip()
        flags = {}
        while args.startswith("--"):
            flag, _, args = args.partition(" ")
            name, _, value = flag[2:].partition("=")
            flags[name] = value
            args = args.strip()
        if keyword.upper() == "FROM":
            words = args.split()
            name = words[2] if len(words) == 3 and words[1].upper() == "AS" else None
            stages.append(Stage(words[0], name))
        else:
            assert stages, f"{keyword} before the first FROM"
            stages[-1].instructions.append(Instruction(keyword.upper(), args, flags))
    return stages


def test_the_dockerfile_reader():
    stages = read_dockerfile(
        "# comment\nFROM a:1 AS one\nRUN x \\\n    # inside\n    && y\n\n"
        "FROM b:2\nCOPY --from=one --chown=u:u /s /d\nUSER u\n"
    )
    assert [(s.image, s.name) for s in stages] == [("a:1", "one"), ("b:2", None)]
    assert stages[0].runs() == "x && y"
    copy = stages[1].all("COPY")[0]
    assert copy.flags == {"from": "one", "chown": "u:u"}
    assert copy.args == "/s /d"


@pytest.fixture(scope="module")
def stages() -> list[Stage]:
    return read_dockerfile((ROOT / "Dockerfile").read_text())


@pytest.fixture(scope="module")
def build(stages) -> Stage:
    return stages[0]


@pytest.fixture(scope="module")
def runtime(stages) -> Stage:
    return stages[-1]


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


@pytest.fixture(scope="module")
def makefile() -> str:
    return (ROOT / "Makefile").read_text()


# --- Locks --------------------------------------------------------------------------------------
def normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def read_pins(path: Path) -> dict[str, str]:
    """`name==version` lines of a requirements file (not its `-r` includes)."""
    pins = {}
    for line in path.read_text().splitlines():
        found = re.match(r"^([A-Za-z0-9][A-Za-z0-9_.\-]*)(\[[^\]]*\])?==([^\s;\\]+)", line)
        if found:
            pins[normalise(found.group(1))] = found.group(3)
    return pins


def read_lock(path: Path) -> dict[str, tuple[str, list[str]]]:
    """Each requirement of a hashed lock: its version and its hashes."""
    entries = {}
    text = path.read_text().replace("\\\n", " ")
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        found = re.match(
            r"^([A-Za-z0-9][A-Za-z0-9_.\-]*)==([^\s;]+)(\s*;.*?)?((?:\s+--hash=\S+)+)\s*$", line
        )
        assert found, f"{path.name}: not an exact pin with hashes: {line!r}"
        hashes = found.group(4).split()
        entries[normalise(found.group(1))] = (found.group(2), hashes)
    return entries


RUNTIME_IN, DEV_IN = ROOT / "requirements.txt", ROOT / "requirements-dev.txt"
RUNTIME_LOCK, DEV_LOCK = ROOT / "requirements.lock", ROOT / "requirements-dev.lock"


@pytest.mark.parametrize("lock", [RUNTIME_LOCK, DEV_LOCK], ids=lambda p: p.name)
def test_every_locked_package_is_pinned_with_sha256_hashes(lock):
    entries = read_lock(lock)

    assert len(entries) > 20
    for name, (version, hashes) in entries.items():
        assert re.fullmatch(r"[0-9][0-9A-Za-z.+!-]*", version), (name, version)
        assert hashes, f"{name} has no hash"
        assert all(re.fullmatch(r"--hash=sha256:[0-9a-f]{64}", h) for h in hashes), name


@pytest.mark.parametrize(
    ("source", "lock"), [(RUNTIME_IN, RUNTIME_LOCK), (DEV_IN, DEV_LOCK)], ids=["runtime", "dev"]
)
def test_the_locks_are_up_to_date_with_the_files_people_edit(source, lock):
    """An edited requirements*.txt without `make lock` fails here, not on another machine."""
    wanted = read_pins(source)
    if source == DEV_IN:
        wanted |= read_pins(RUNTIME_IN)
    locked = {name: version for name, (version, _) in read_lock(lock).items()}

    stale = {n: (v, locked.get(n)) for n, v in wanted.items() if locked.get(n) != v}
    assert not stale, f"run `make lock`: {lock.name} disagrees with {source.name}: {stale}"


def test_the_runtime_lock_has_no_dev_tools_and_agrees_with_the_dev_lock():
    runtime = {name: version for name, (version, _) in read_lock(RUNTIME_LOCK).items()}
    dev = {name: version for name, (version, _) in read_lock(DEV_LOCK).items()}

    # (requests and PyYAML are pinned for the tests and needed at run time too: stripe, the
    # OpenAPI schema.)
    tools = {"pytest", "pytest-django", "ruff", "uv", "pip", "hypothesis", "schemathesis"}
    tools |= {"factory-boy", "honcho", "time-machine", "openapi-spec-validator", "import-linter"}
    assert tools <= set(read_pins(DEV_IN))
    assert not tools & set(runtime)
    assert {n: v for n, v in runtime.items() if dev.get(n) != v} == {}
    # The benchmark's chart library is the benchmark's alone: `make run` and CI never get it.
    assert "matplotlib" not in dev
    bench = {
        name: version for name, (version, _) in read_lock(ROOT / "requirements-bench.lock").items()
    }
    assert bench["matplotlib"] == read_pins(ROOT / "requirements-bench.txt")["matplotlib"]
    assert {n: v for n, v in dev.items() if bench.get(n) != v} == {}


def test_make_install_installs_the_hashed_dev_lock_and_reinstalls_when_a_lock_changes(makefile):
    rule = re.search(r"^\$\(VENV\)/\.installed:(.*)$", makefile, re.M)
    assert set(rule.group(1).split()) >= {"requirements-dev.lock", "requirements.lock"}

    dry_run = subprocess.run(
        ["make", "-n", "-B", "install", "VENV=/nonexistent/venv"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    installs = [line for line in dry_run.splitlines() if " install " in line]
    assert installs == [
        "/nonexistent/venv/bin/python -m pip install --quiet --require-hashes "
        "-r requirements-dev.lock"
    ]


def test_ci_and_make_test_install_through_make_install(makefile):
    assert (ROOT / ".ci/run").read_text().rstrip().splitlines()[-1] == "make test"
    test_rule = re.search(r"^test:(.*)$", makefile, re.M).group(1).split()
    assert "install" in test_rule


def test_make_lock_takes_hashes_from_pypi_only(makefile):
    """The machine's pip may read other indexes (pip.conf); uv reads none of that, and is told
    PyPI alone, so the hashes are those of the files PyPI publishes."""
    assert "LOCK_INDEX ?= https://pypi.org/simple" in makefile
    lock = re.search(r"^LOCK = ((?:.*\\\n)*.*)", makefile, re.M).group(1)
    for option in ("--generate-hashes", "--no-config", "--index-url $(LOCK_INDEX)", "--universal"):
        assert option in lock
    recipe = re.search(r"^lock:.*\n((?:\t.*\n)+)", makefile, re.M).group(1)
    assert "$(LOCK) requirements.txt -o requirements.lock" in recipe
    assert "requirements-dev.txt --constraint requirements.lock -o requirements-dev.lock" in recipe


# --- Dockerfile ---------------------------------------------------------------------------------
def test_the_image_builds_in_two_stages(stages):
    assert [stage.name for stage in stages] == ["build", "runtime"]


def test_the_base_image_is_pinned_to_an_exact_python_and_debian(stages):
    for stage in stages:
        assert PYTHON_IMAGE.match(stage.image), stage.image
    assert len({stage.image for stage in stages}) == 1


def test_the_build_stage_installs_the_runtime_lock_only_with_hashes_and_wheels(build, stages):
    copies = [i.args.split() for i in build.all("COPY")]
    assert copies[0] == ["requirements.lock", "./"]
    installs = [line for line in build.runs().splitlines() if "pip install" in line]
    assert len(installs) == 1
    for option in ("--require-hashes", "--only-binary=:all:", "-r requirements.lock"):
        assert option in installs[0]
    text = "\n".join(i.args for stage in stages for i in stage.instructions)
    assert "requirements-dev" not in text
    assert "requirements.txt" not in text


def test_the_build_stage_compiles_messages_and_collects_static(build, makefile):
    # The same targets as a local checkout uses (`make run` runs `static`).
    assert re.search(r"(^|&& )make messages static( &&|$)", build.runs(), re.M)
    for target in ("messages", "static"):
        assert re.search(rf"^{target}:", makefile, re.M)
    assert "compileall" in build.runs()


def test_the_runtime_stage_gets_the_built_app_and_no_build_tools(runtime):
    runs = runtime.runs()
    assert "pip install" not in runs
    packages = re.search(r"apt-get install -y --no-install-recommends ([^&]+)", runs).group(1)
    assert packages.split() == ["make"]
    for tool in ("gcc", "build-essential", "gettext", "curl", "-dev"):
        assert tool not in runs
    assert [(c.flags, c.args) for c in runtime.all("COPY")] == [({"from": "build"}, "/app /app")]


def test_the_code_belongs_to_root_and_the_app_user_only_runs_it(build, runtime):
    # No --chown: COPY makes root the owner; the build stage took write access from the rest.
    assert all("chown" not in copy.flags for copy in runtime.all("COPY"))
    assert "chmod -R go-w /app" in build.runs()
    runs = runtime.runs()
    assert "useradd" in runs
    assert not re.search(r"chown\b[^&]*\s/app\b", runs)
    owned = re.findall(r"install -d -o app -g app -m 0700 (\S+)", runs)
    assert owned == ["/var/lib/cinema"]

    keywords = [i.keyword for i in runtime.instructions]
    assert keywords.count("USER") == 1
    assert runtime.all("USER")[0].args == "app"
    assert keywords.index("USER") > keywords.index("COPY")
    assert runtime.all("WORKDIR")[0].args == "/app"


def test_the_demo_secret_volume_is_the_folder_the_image_gives_the_app_user(runtime, compose):
    env = compose["services"]["api1"]["environment"]
    folder = str(PurePosixPath(env["DEMO_SECRET_KEY_FILE"]).parent)
    assert f"install -d -o app -g app -m 0700 {folder}" in runtime.runs()
    for name in APP_SERVICES:
        assert f"demo-secret:{folder}" in compose["services"][name]["volumes"]


# --- The build context ------------------------------------------------------------------------
def dockerignore_patterns() -> list[str]:
    lines = (ROOT / ".dockerignore").read_text().splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def _pattern_regex(pattern: str) -> re.Pattern:
    """Docker's patterns (Go's filepath.Match, plus `**` for any number of folders)."""
    out, i = "", 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out, i = out + "(?:.*/)?", i + 3
        elif pattern.startswith("**", i):
            out, i = out + ".*", i + 2
        elif pattern[i] == "*":
            out, i = out + "[^/]*", i + 1
        elif pattern[i] == "?":
            out, i = out + "[^/]", i + 1
        elif pattern[i] == "[":
            end = pattern.index("]", i)
            out, i = out + pattern[i : end + 1], end + 1
        else:
            out, i = out + re.escape(pattern[i]), i + 1
    return re.compile(out + r"\Z")


def excluded_from_context(path: str, patterns: list[str]) -> bool:
    """Whether the build context leaves `path` out: the last pattern matching it or one of its
    folders decides (`!` takes it back in)."""
    parts = path.split("/")
    prefixes = ["/".join(parts[:n]) for n in range(1, len(parts) + 1)]
    excluded = False
    for pattern in patterns:
        negate = pattern.startswith("!")
        regex = _pattern_regex(pattern.removeprefix("!").strip("/"))
        if any(regex.match(prefix) for prefix in prefixes):
            excluded = not negate
    return excluded


def test_the_dockerignore_matcher():
    patterns = ["**/__pycache__", "*.log", "docs", "!docs/keep.md", ".env.*"]
    assert excluded_from_context("apps/x/__pycache__/a.pyc", patterns)
    assert excluded_from_context("a.log", patterns)
    assert not excluded_from_context("logs/a.txt", patterns)
    assert excluded_from_context("docs/a.md", patterns)
    assert not excluded_from_context("docs/keep.md", patterns)
    assert excluded_from_context(".env.production", patterns)
    assert not excluded_from_context(".env", patterns)


@pytest.mark.parametrize(
    "path",
    [
        ".venv/bin/python",
        ".venv/lib/python3.11/site-packages/django/__init__.py",
        ".git/HEAD",
        ".git/objects/ab/cdef",
        ".env",
        ".env.production",
        "apps/core/__pycache__/models.cpython-311.pyc",
        "__pycache__/x.pyc",
        "staticfiles/admin/css/base.css",
        ".pytest_cache/v/cache/nodeids",
        ".ruff_cache/CACHEDIR.TAG",
        ".hypothesis/examples/x",
        "bench/report.md",
        "bench/latency.png",
        "tests/conftest.py",
        "requirements-dev.lock",
        "requirements-dev.txt",
    ],
)
def test_the_build_context_leaves_out(path):
    assert excluded_from_context(path, dockerignore_patterns())


def test_the_build_context_keeps_everything_the_image_needs(stages):
    patterns = dockerignore_patterns()
    needed = ["Makefile", "manage.py", "requirements.lock", "pyproject.toml"]
    for folder in ("apps", "cinema", "locale", "deploy"):
        for path in (ROOT / folder).rglob("*"):
            if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc":
                needed.append(path.relative_to(ROOT).as_posix())
    # What the Dockerfile copies from the context by name.
    for stage in stages:
        for copy in stage.all("COPY"):
            if "from" not in copy.flags:
                needed += [s for s in copy.args.split()[:-1] if s != "."]

    left_out = [path for path in needed if excluded_from_context(path, patterns)]
    assert left_out == []
    assert len(needed) > 50


# --- Compose ------------------------------------------------------------------------------------
def test_one_service_builds_the_image_and_the_others_run_it(compose):
    services = compose["services"]
    builders = [name for name, service in services.items() if "build" in service]
    assert builders == ["migrate"]
    assert services["migrate"]["build"] == {"context": ".", "dockerfile": "Dockerfile"}
    images = {services[name]["image"] for name in APP_SERVICES}
    assert len(images) == 1
    # Everything else starts once migrate has run, so after the build.
    for name in set(APP_SERVICES) - {"migrate"}:
        assert services[name]["depends_on"]["migrate"] == {
            "condition": "service_completed_successfully"
        }


@pytest.mark.parametrize(
    ("name", "tag"),
    [
        ("postgres", r"16\.\d+"),
        ("redis", r"7\.\d+\.\d+"),
        ("rabbitmq", r"3\.13\.\d+-management"),
        ("nginx", r"1\.\d+\.\d+"),
    ],
)
def test_third_party_images_are_pinned_to_exact_releases(compose, name, tag):
    image = compose["services"][name]["image"]
    assert re.fullmatch(rf"{name}:{tag}", image), image


def test_health_checks_go_over_tcp(compose):
    services = compose["services"]
    postgres = services["postgres"]["healthcheck"]["test"]
    assert postgres[:2] == ["CMD", "pg_isready"]
    assert postgres[postgres.index("-h") + 1] == "127.0.0.1"
    redis = services["redis"]["healthcheck"]["test"]
    assert redis[:2] == ["CMD", "redis-cli"]
    assert redis[redis.index("-h") + 1] == "127.0.0.1"
    # Listeners' TCP ports, not the CLI's Erlang distribution link alone.
    assert "check_port_connectivity" in services["rabbitmq"]["healthcheck"]["test"]
    for name in ("api1", "api2", "nginx"):
        assert "http://127.0.0.1:8000/health" in " ".join(services[name]["healthcheck"]["test"])


def test_postgres_and_rabbitmq_keep_their_data_in_named_volumes(compose):
    services, volumes = compose["services"], compose["volumes"]
    assert "pgdata:/var/lib/postgresql/data" in services["postgres"]["volumes"]
    assert "rabbitmq-data:/var/lib/rabbitmq" in services["rabbitmq"]["volumes"]
    # RabbitMQ's node name (rabbit@<hostname>) names its data folder: it must not change.
    assert services["rabbitmq"]["hostname"] == "rabbitmq"
    assert {"pgdata", "rabbitmq-data", "demo-secret"} <= set(volumes)


@pytest.mark.parametrize("name", LONG_RUNNING)
def test_long_running_services_restart_unless_stopped(compose, name):
    assert compose["services"][name]["restart"] == "unless-stopped"


def duration_seconds(value: str) -> float:
    units = {"h": 3600, "m": 60, "s": 1, "ms": 0.001}
    parts = re.findall(r"(\d+(?:\.\d+)?)(ms|h|m|s)", value)
    assert "".join(n + u for n, u in parts) == value, value
    return sum(float(n) * units[u] for n, u in parts)


def test_api_instances_get_longer_to_stop_than_granian_gives_their_requests(compose, makefile):
    graceful = float(re.search(r"--workers-kill-timeout (\d+)", makefile).group(1))
    for name in ("api1", "api2"):
        grace = duration_seconds(compose["services"][name]["stop_grace_period"])
        assert grace >= graceful + 5, (name, grace, graceful)


def test_the_worker_gets_longer_to_stop_than_a_task_may_run(compose):
    grace = duration_seconds(compose["services"]["worker"]["stop_grace_period"])
    assert grace > settings.CELERY_TASK_TIME_LIMIT


def test_the_stream_server_runs_its_make_target_behind_nginx(compose, makefile):
    services = compose["services"]
    stream = services["stream"]
    assert stream["command"] == ["make", "stream"]
    assert stream["environment"]["STREAM_BIND"] == "0.0.0.0:8000"
    assert stream["expose"] == ["8000"]
    assert services["nginx"]["depends_on"]["stream"] == {"condition": "service_healthy"}
    # It gets longer to stop than uvicorn gives its open streams.
    graceful = float(re.search(r"--timeout-graceful-shutdown (\d+)", makefile).group(1))
    assert duration_seconds(stream["stop_grace_period"]) >= graceful + 5
    # nginx: one upstream of stream servers, and the stream path sent there unbuffered.
    assert re.search(
        r"upstream cinema_stream \{\s*server stream:8000;",
        compose["configs"]["nginx_conf"]["content"],
    )
    api_conf = (ROOT / compose["configs"]["nginx_api"]["file"]).read_text()
    location = re.search(
        r"location ~ \^/api/v1/sessions/\[0-9\]\+/seats/stream\$ \{(.*?)\}", api_conf, re.S
    ).group(1)
    assert "proxy_pass http://cinema_stream;" in location
    assert "proxy_buffering off;" in location
    assert "uvicorn cinema.asgi:application" in makefile


@pytest.mark.parametrize("name", APP_SERVICES)
def test_app_containers_run_make_under_an_init(compose, name):
    assert compose["services"][name]["init"] is True


def test_only_nginx_and_the_management_ui_are_published(compose):
    published = {n: s["ports"] for n, s in compose["services"].items() if "ports" in s}
    assert published == {"nginx": ["8000:8000"], "rabbitmq": ["127.0.0.1:15672:15672"]}


def test_metrics_stay_off_the_public_proxy_and_on_the_internal_network(compose, makefile):
    services = compose["services"]
    api_conf = (ROOT / compose["configs"]["nginx_api"]["file"]).read_text()
    assert re.search(r"location \^~ /metrics \{\s*return 404;\s*\}", api_conf)
    assert "include /etc/nginx/cinema-api.conf;" in compose["configs"]["nginx_conf"]["content"]
    for name in ("api1", "api2"):
        assert services[name]["expose"] == ["8000"]
    # The worker serves its own, on a port of the network only.
    bind = services["worker"]["environment"]["WORKER_METRICS_BIND"]
    host, _, port = bind.rpartition(":")
    assert services["worker"]["expose"] == [port]
    assert host == "0.0.0.0"  # noqa: S104 - inside its container, on the compose network
    assert "WORKER_METRICS_BIND ?=\n" in makefile


def test_demo_data_only_when_asked_for(compose):
    migrate = compose["services"]["migrate"]
    assert migrate["environment"]["SEED_DEMO"] == "${SEED_DEMO:-0}"
    command = " ".join(migrate["command"])
    assert 'if [ "$${SEED_DEMO:-0}" = 1 ]; then make seed; fi' in command
