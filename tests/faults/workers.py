"""Celery workers a fault test starts, kills and starts again, isolated from other runs."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from amqp.exceptions import NotFound
from django.conf import settings

from apps.bookings.consumers import ExpirySchedulerConsumer
from apps.stats.consumers import SessionStatsConsumer
from tests.events.helpers import WORKER_START_TIMEOUT, queue_state, wait_until
from tests.processes import celery_worker

EXPIRY = ExpirySchedulerConsumer()
STATS = SessionStatsConsumer()
CONSUMERS = (EXPIRY, STATS)


@contextmanager
def fault_worker(task_queue: str, **env: str) -> Iterator:
    """A worker of this test alone, yielded once it consumes: its tasks (expiry ETAs) go to
    `task_queue` (see tests/faults/settings.py), its event consumers use this run's
    prefixed queues; it leads its own process group, so `kill_group` can SIGKILL it whole."""
    paths = ",".join(f"{type(c).__module__}.{type(c).__qualname__}" for c in CONSUMERS)
    with celery_worker(
        queues=task_queue,
        new_session=True,
        DJANGO_SETTINGS_MODULE="tests.faults.settings",
        CELERY_TASK_DEFAULT_QUEUE=task_queue,
        EVENT_QUEUE_PREFIX=settings.EVENT_QUEUE_PREFIX,
        EVENT_CONSUMERS=paths,
        **env,
    ) as process:
        wait_until(
            lambda: consuming(process, task_queue),
            timeout=WORKER_START_TIMEOUT,
            interval=0.1,
            what="the worker to consume",
        )
        yield process


def consuming(process, task_queue: str) -> bool:
    assert process.poll() is None, "the worker exited"
    try:
        return all(queue_state(c.queue_name)[1] >= 1 for c in CONSUMERS) and (
            queue_state(task_queue)[1] >= 1
        )
    except NotFound:  # a starting worker declares its task queue after its event consumers
        return False
