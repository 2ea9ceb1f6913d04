"""A running payment stack for end-to-end tests: a web instance serving the API (and the webhooks),
and a Celery worker consuming this test's own task queue (webhook processing, the sandbox
provider's deliveries, refunds) and the e-mail consumers, all writing e-mail to files the test
reads."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import requests
from amqp.exceptions import NotFound
from django.conf import settings

from apps.events.broker import events_connection
from apps.payments.consumers import RefundEmailConsumer, TicketEmailConsumer
from tests.concurrency import free_port
from tests.events.helpers import (
    WORKER_START_TIMEOUT,
    delete_queues,
    purge_queues,
    queue_state,
    wait_until,
)
from tests.processes import celery_worker, web_server

TICKETS = TicketEmailConsumer()
REFUNDS = RefundEmailConsumer()
CONSUMERS = (TICKETS, REFUNDS)
SETTINGS = "tests.payments.process_settings"


@dataclass
class Stack:
    base: str
    task_queue: str
    mail_dir: Path

    def env(self) -> dict[str, str]:
        return {
            "DJANGO_SETTINGS_MODULE": SETTINGS,
            "CELERY_TASK_DEFAULT_QUEUE": self.task_queue,
            "EVENT_QUEUE_PREFIX": settings.EVENT_QUEUE_PREFIX,
            "EMAIL_FILE_PATH": str(self.mail_dir),
            "PAYMENT_WEBHOOK_URL": f"{self.base}/api/v1/payments/webhooks/fake",
        }

    @contextmanager
    def worker(self) -> Iterator:
        """A worker of this stack, yielded once it consumes; it leads its own process group, so
        `kill_group` can SIGKILL it whole."""
        paths = ",".join(f"{type(c).__module__}.{type(c).__qualname__}" for c in CONSUMERS)
        with celery_worker(
            queues=self.task_queue,
            new_session=True,
            EVENT_CONSUMERS=paths,
            **self.env(),
        ) as process:
            wait_until(
                lambda: _consuming(process, self.task_queue),
                timeout=WORKER_START_TIMEOUT,
                interval=0.1,
                what="the worker to consume",
            )
            yield process

    def mails(self) -> list[str]:
        """Every message written so far (the file backend writes one file per connection, the
        messages in it separated by a line of dashes)."""
        found = []
        for path in sorted(self.mail_dir.glob("*.log")):
            found += [m for m in re.split(r"\n-{79}\n", path.read_text()) if m.strip()]
        return found


def _consuming(process, task_queue: str) -> bool:
    assert process.poll() is None, "the worker exited"
    try:
        return all(queue_state(c.queue_name)[1] >= 1 for c in CONSUMERS) and (
            queue_state(task_queue)[1] >= 1
        )
    except NotFound:  # the worker has not declared its task queue yet
        return False


@contextmanager
def payment_stack(tmp_path: Path) -> Iterator[Stack]:
    """A web instance on a free port with this test's task queue; start workers with
    `stack.worker()`."""
    task_queue = f"{settings.EVENT_QUEUE_PREFIX}payments-{uuid.uuid4().hex[:8]}"
    mail_dir = tmp_path / "mail"
    mail_dir.mkdir()
    for consumer in CONSUMERS:
        purge_queues(consumer)
    port = free_port()
    stack = Stack(base=f"http://127.0.0.1:{port}", task_queue=task_queue, mail_dir=mail_dir)
    try:
        with web_server(port, **stack.env()):
            yield stack
    finally:
        for consumer in CONSUMERS:
            delete_queues(consumer)
        with events_connection() as conn:
            conn.default_channel.queue_delete(task_queue)


class Client:
    """A buyer or staff member speaking HTTP to the stack with a session token."""

    def __init__(self, stack: Stack, token: str) -> None:
        self.base = stack.base
        self.http = requests.Session()
        self.http.headers["X-Session-Token"] = token

    def get(self, path: str) -> requests.Response:
        return self.http.get(f"{self.base}{path}", timeout=15)

    def post(self, path: str, body: dict | None = None, **headers: str) -> requests.Response:
        return self.http.post(f"{self.base}{path}", json=body or {}, headers=headers, timeout=15)
