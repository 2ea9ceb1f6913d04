"""Settings of a web instance that a test probes: the test settings, plus the views of
tests/ops/probe_urls.py."""

from cinema.settings.test import *  # noqa: F403

ROOT_URLCONF = "tests.ops.probe_urls"
