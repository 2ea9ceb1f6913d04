"""The README: short, every shell block in it run by a test or marked with why not, each saying
where it runs, the walkthrough working when pasted as it is, its links resolving and its endpoint
table matching the API.

Marker convention, on the line right before a fenced shell block:
`<!-- run: NAME -->` (a test below runs every block of that name, in order) or
`<!-- not run: WHY -->`. The prose line before the marker says where the block runs: "On the
host" and "without Docker", "Docker only" or "with or without Docker"."""

from __future__ import annotations

import os
import re
import subprocess
from datetime import timedelta
from pathlib import Path

import pytest
from django.urls import Resolver404, resolve
from django.utils import timezone

from tests.docs.markdown import DOCS, README, ROOT, anchors, fenced_blocks, links, table_rows

MAX_LINES = 260
# Every `run:` name a test of this module executes.
WALKTHROUGH = "walkthrough"
SEED = "walkthrough-seed"
RUN_BY_TESTS = {WALKTHROUGH, SEED}
BASE_LINE = "BASE=http://127.0.0.1:8000"
WHERE = ("without Docker", "Docker only", "with or without Docker")
# What only works with the repository's virtualenv and local services, never through compose.
HOST_ONLY = re.compile(r"\.venv/bin/|\bmake (run|test|seed|rush|bench|install)\b")
WALKTHROUGH_TIMEOUT = 60


def readme() -> str:
    return README.read_text()


def shell_blocks() -> list:
    return [block for block in fenced_blocks(readme()) if block.is_shell]


def script(name: str) -> str:
    parts = [b.code for b in shell_blocks() if b.marker == ("run", name)]
    assert parts, f"no README block marked `<!-- run: {name} -->`"
    return "".join(parts)


def expected_output(code: str) -> list[re.Pattern]:
    """The `#>` lines of a script as patterns, `…` standing for anything."""
    return [
        re.compile(".*?".join(re.escape(part) for part in line[3:].split("…")))
        for line in code.splitlines()
        if line.startswith("#> ")
    ]


def assert_prints_in_order(output: str, patterns: list[re.Pattern]) -> None:
    lines = output.splitlines()
    position = 0
    for pattern in patterns:
        for index in range(position, len(lines)):
            if pattern.fullmatch(lines[index]):
                position = index + 1
                break
        else:
            raise AssertionError(
                f"the README says the walkthrough prints a line like {pattern.pattern!r} "
                f"(after line {position} of its output), but it printed:\n{output}"
            )


# (a) --------------------------------------------------------------------------------------------


def test_the_readme_is_short():
    count = len(readme().splitlines())
    assert count <= MAX_LINES, f"README.md has {count} lines; move the depth into docs/"


# (b) --------------------------------------------------------------------------------------------


def test_every_shell_block_is_run_by_a_test_or_says_why_not():
    blocks = shell_blocks()
    assert blocks
    for block in blocks:
        assert block.marker, (
            f"README.md line {block.line}: a shell block without `<!-- run: NAME -->` or "
            "`<!-- not run: WHY -->` right before it"
        )
        kind, value = block.marker
        if kind == "run":
            assert value in RUN_BY_TESTS, (
                f"README.md line {block.line}: no test runs blocks named {value!r}"
            )


def test_every_shell_block_says_where_it_runs():
    for block in shell_blocks():
        where = block.where
        says = f"README.md line {block.line}: the line before the block says {where!r}"
        assert "on the host" in where.lower(), f"{says}; where does it run?"
        assert any(w in where for w in WHERE), f"{says}; with Docker? ({' / '.join(WHERE)})"
        if "docker " in block.code:
            assert "Docker only" in where, f"{says}; it is Docker only"
        if HOST_ONLY.search(block.code):
            only_without = "without Docker" in where and "with or without" not in where
            assert only_without, f"{says}; it works only without Docker"


def test_the_walkthrough_names_its_base_url_once_at_the_top():
    code = script(WALKTHROUGH)
    assert code.splitlines()[0] == BASE_LINE
    assert code.count("127.0.0.1") == 1


# (c) --------------------------------------------------------------------------------------------


def _bash(code: str, *, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["bash", "-c", "set -euo pipefail\n" + code],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=WALKTHROUGH_TIMEOUT,
        check=False,
    )


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_the_walkthrough_runs_as_pasted(tmp_path, settings):
    # Imported here: the stack starts real processes, which the other tests do not need.
    from apps.sessions.models import Session
    from tests.events.helpers import distinct_session_ids
    from tests.payments.stack import payment_stack
    from tests.processes import process_env

    # As the README starts the stack: holds of five minutes (the web instance and the worker get
    # it).
    settings.RESERVATION_TTL_SECONDS = 300
    distinct_session_ids()

    # The README's `make seed`, on this test's database.
    seeded = _bash(script(SEED), env=process_env(), cwd=ROOT)
    assert seeded.returncode == 0, seeded.stdout + seeded.stderr
    session = Session.objects.get()
    if session.starts_at - timezone.now() < timedelta(minutes=5):
        pytest.skip("the demo session starts within minutes: the walkthrough would race it")

    code = script(WALKTHROUGH)
    with payment_stack(tmp_path) as stack, stack.worker():
        code = code.replace(BASE_LINE, f"BASE={stack.base}", 1)
        env = {
            "PATH": os.environ["PATH"],
            "HOME": str(tmp_path),
            "LANG": "C.UTF-8",
            "NO_PROXY": "*",
            "no_proxy": "*",
        }
        result = _bash(code, env=env, cwd=tmp_path)

    output = result.stdout
    print(output)  # shown with -s, or when the test fails
    assert result.returncode == 0, f"exit {result.returncode}\n{output}\n{result.stderr}"
    assert_prints_in_order(output, expected_output(code))
    # What the README promises, spelled out: Bob's 409, the 202s, the sale, the refund.
    assert '"status":409,"code":"seats_unavailable"' in output
    assert output.splitlines().count("202") == 2
    assert "[(True, 'paid', 'Movie X')]" in output
    assert '"status":"refunded"' in output
    assert "['available', 'available']" in output


def test_expected_output_patterns_match_only_what_they_say():
    patterns = expected_output("x\n#> pending 50.00 …\n#> 202\n")
    assert patterns[0].fullmatch("pending 50.00 2026-12-03T18:00:00-03:00")
    assert not patterns[0].fullmatch("pending 25.00 2026")
    assert patterns[1].fullmatch("202")
    assert not patterns[1].fullmatch("2020")


# (d) --------------------------------------------------------------------------------------------


def _broken_links(path: Path) -> list[str]:
    broken = []
    for target in links(path.read_text()):
        if re.match(r"[a-z]+:", target):  # http:, https:, mailto:
            continue
        file_part, _, anchor = target.partition("#")
        resolved = (path.parent / file_part).resolve() if file_part else path
        if not resolved.exists():
            broken.append(f"{target}: no such file")
        elif anchor and resolved.suffix == ".md" and anchor not in anchors(resolved.read_text()):
            broken.append(f"{target}: no such heading")
    return broken


def test_the_readme_links_to_every_page_of_docs():
    targets = {target.partition("#")[0] for target in links(readme())}
    pages = {f"docs/{page.name}" for page in DOCS.glob("*.md")}
    assert pages <= targets, f"not linked from the README: {sorted(pages - targets)}"


@pytest.mark.parametrize(
    "page",
    [README, *sorted(DOCS.glob("*.md"))],
    ids=lambda page: str(page.relative_to(ROOT)),
)
def test_links_resolve(page):
    assert _broken_links(page) == []


# The endpoint table ------------------------------------------------------------------------------

PLACEHOLDER = re.compile(r"\{[^}]*\}")
NOT_BUILT = "not built yet"


def _normalise(path: str) -> str:
    return PLACEHOLDER.sub("{}", path)


def readme_endpoints() -> tuple[dict[str, set[str]], set[str], set[str]]:
    """From the README's table: the API paths with their methods, the API paths not built yet,
    and the other paths (health, auth, admin...)."""
    api: dict[str, set[str]] = {}
    not_built: set[str] = set()
    other: set[str] = set()
    for row in table_rows(readme(), "## Endpoints"):
        methods = {m.strip() for m in row[0].split(",")}
        for path in re.findall(r"`(/[^`]*)`", row[1]):
            if not path.startswith("/api/v1/"):
                other.add(path)
            elif NOT_BUILT in " ".join(row):
                not_built.add(_normalise(path))
            else:
                assert _normalise(path) not in api, f"{path} twice in the table"
                api[_normalise(path)] = methods
    return api, not_built, other


def schema_endpoints() -> dict[str, set[str]]:
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator().get_schema(request=None, public=True)
    return {
        _normalise(path): {method.upper() for method in operations}
        for path, operations in schema["paths"].items()
    }


def test_the_endpoint_table_matches_the_openapi_schema():
    api, not_built, other = readme_endpoints()
    schema = schema_endpoints()
    # allauth's sign-up, login and logout are in the schema too, listed among the other paths.
    auth = {path for path in schema if path.startswith("/_allauth/")}
    assert auth <= {_normalise(path) for path in other}, "auth paths missing from the table"
    schema = {path: methods for path, methods in schema.items() if path not in auth}
    assert set(api) - set(schema) == set(), "in the README's table, not in the API"
    assert set(schema) - set(api) == set(), "in the API, missing from the README's table"
    wrong = {path: (api[path], schema[path]) for path in api if api[path] != schema[path]}
    assert wrong == {}, "methods differ: (README, schema)"
    built = not_built & set(schema)
    assert built == set(), f"built now: drop '{NOT_BUILT}' from these rows of the README"


def test_the_other_paths_of_the_endpoint_table_exist():
    _, _, other = readme_endpoints()
    assert {"/health", "/health/ready", "/_allauth/app/v1/auth/login"} <= other
    for path in other:
        try:
            resolve(PLACEHOLDER.sub("1", path))
        except Resolver404:
            pytest.fail(f"{path} is in the README's endpoint table but not served")
