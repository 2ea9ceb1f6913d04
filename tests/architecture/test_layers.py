"""The layers of pyproject.toml's import-linter contracts hold, and a breach fails the check."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"


def lint_imports(cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(cwd)}
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_contracts_hold():
    result = lint_imports(ROOT)

    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def _copy(tmp_path: Path) -> Path:
    copy = tmp_path / "repo"
    shutil.copytree(ROOT / "apps", copy / "apps", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", copy / "pyproject.toml")
    return copy


def test_a_lower_layer_importing_a_higher_one_breaks_the_check(tmp_path):
    copy = _copy(tmp_path)
    errors = copy / "apps" / "sessions" / "services.py"
    errors.write_text(errors.read_text() + "\nfrom apps.bookings import selectors  # noqa\n")

    result = lint_imports(copy)

    assert result.returncode != 0
    assert "BROKEN" in result.stdout
    assert "apps.sessions.services -> apps.bookings.selectors" in result.stdout


def test_the_event_runtime_importing_a_domain_app_breaks_the_check(tmp_path):
    copy = _copy(tmp_path)
    relay = copy / "apps" / "events" / "relay.py"
    relay.write_text(relay.read_text() + "\nfrom apps.payments import event_types  # noqa\n")

    result = lint_imports(copy)

    assert result.returncode != 0
    assert "apps.events.relay -> apps.payments.event_types" in result.stdout
