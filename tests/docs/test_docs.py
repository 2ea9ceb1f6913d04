"""docs/: every environment variable the settings read is documented, and every test a page
names as evidence exists."""

from __future__ import annotations

import re

import pytest

from tests.docs.markdown import DOCS, README, ROOT

CONFIGURATION = DOCS / "configuration.md"
# env.str("NAME", ...), env.db("NAME"), os.environ.get("NAME"), os.environ["NAME"], getenv("NAME")
READS = re.compile(
    r"""(?:\benv(?:\.\w+)?|os\.environ\.get|os\.getenv|os\.environ\.setdefault|os\.environ)"""
    r"""[(\[]\s*["']([A-Z][A-Z0-9_]+)["']"""
)


def variables_read() -> set[str]:
    found = set()
    for path in (ROOT / "cinema").rglob("*.py"):
        found |= set(READS.findall(path.read_text()))
    return found


def test_the_scan_finds_the_settings_it_should():
    found = variables_read()
    assert {"DATABASE_URL", "RESERVATION_TTL_SECONDS", "PAYMENT_PROVIDER"} <= found
    assert "CINEMA_EVENT_CONSUMERS" in found  # read by the Celery app, not by the settings


def test_every_environment_variable_is_documented():
    documented = set(re.findall(r"`([A-Z][A-Z0-9_]+)`", CONFIGURATION.read_text()))
    missing = variables_read() - documented
    assert missing == set(), f"read by cinema/ but not in docs/configuration.md: {sorted(missing)}"


@pytest.mark.parametrize(
    "page",
    [README, *sorted(DOCS.glob("*.md"))],
    ids=lambda page: str(page.relative_to(ROOT)),
)
def test_every_test_a_page_names_exists(page):
    named = set(re.findall(r"\btests/[\w/]+\.py\b", page.read_text()))
    missing = sorted(path for path in named if not (ROOT / path).exists())
    assert missing == [], f"{page.name} names tests that do not exist"
