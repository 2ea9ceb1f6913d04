"""The outbox relay: publish unpublished events to RabbitMQ, in order, and mark them published.

Each Celery worker runs a relay loop (`RelayLoop`, started by relay_step.py): it listens on
PostgreSQL for the notification a trigger sends when outbox rows commit, and publishes at once
over one long-lived broker connection; it also looks every `OUTBOX_RELAY_IDLE_SECONDS` whatever
it heard. Beat runs `relay_outbox` now and then as a safety net. Requests never talk to the
broker.

Several relays may run at once (one per worker, beat's): each takes a batch with `SKIP LOCKED`,
so no row is published twice by two relays. A row is marked published only after RabbitMQ
confirmed it; if the broker is down the transaction rolls back and the rows wait.
"""

from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta

import psycopg
import structlog
from django.conf import settings
from django.db import connection, connections, transaction
from django.utils import timezone

from . import metrics
from .broker import events_connection, events_exchange
from .confirmed_publisher import ConfirmedPublisher
from .models import OutboxEvent
from .outbox import envelope

logger = structlog.get_logger(__name__)


def outbox_lag_seconds(now: datetime | None = None) -> float:
    """Age of the oldest unpublished event (0 when the outbox is empty)."""
    oldest = (
        OutboxEvent.objects.filter(published_at__isnull=True)
        .order_by("seq")
        .values_list("occurred_at", flat=True)
        .first()
    )
    if oldest is None:
        return 0.0
    return max(0.0, ((now or timezone.now()) - oldest).total_seconds())


def _publish_batch(publisher: ConfirmedPublisher, batch_size: int) -> int:
    with transaction.atomic():
        batch = list(
            OutboxEvent.objects.filter(published_at__isnull=True)
            .order_by("seq")
            .select_for_update(skip_locked=True)[:batch_size]
        )
        for event in batch:
            publisher.publish(
                envelope(event),
                exchange=events_exchange,
                routing_key=event.type,
                serializer="json",
                delivery_mode=2,  # persistent
                message_id=str(event.event_id),
                type=event.type,
                headers={"x-request-id": event.request_id} if event.request_id else None,
            )
        if batch:
            publisher.wait_for_confirms(settings.EVENTS_CONFIRM_TIMEOUT_SECONDS)
            OutboxEvent.objects.filter(seq__in=[event.seq for event in batch]).update(
                published_at=timezone.now()
            )
    return len(batch)


def relay_outbox(
    *, batch_size: int | None = None, publisher: ConfirmedPublisher | None = None
) -> int:
    """Publish everything pending; returns how many events went out. Raises if the broker is
    unreachable or does not confirm (the rows stay pending for the next run). Without a
    publisher it opens (and closes) a connection of its own."""
    if publisher is None:
        with events_connection(confirm_each=False) as broker:
            return relay_outbox(batch_size=batch_size, publisher=ConfirmedPublisher(broker))
    batch_size = batch_size or settings.OUTBOX_BATCH_SIZE
    published = 0
    try:
        while True:
            count = _publish_batch(publisher, batch_size)
            published += count
            if count < batch_size:
                break
    finally:
        lag = outbox_lag_seconds()
        metrics.EVENTS_PUBLISHED.inc(published)
        metrics.OUTBOX_LAG.set(lag)
        log = logger.info if published else logger.debug
        log("outbox_relayed", published=published, outbox_lag_seconds=lag)
    return published


def prune_outbox(*, older_than: timedelta | None = None) -> int:
    """Delete published events past their retention; returns how many went."""
    cutoff = timezone.now() - (older_than or settings.OUTBOX_RETENTION)
    deleted, _ = OutboxEvent.objects.filter(published_at__lt=cutoff).delete()
    return deleted


NOTIFY_CHANNEL = "cinema_outbox"  # see migration core 0004
_STOP_CHECK_SECONDS = 0.5


class RelayLoop:
    """Publishes outbox rows as soon as they commit, until `stop()`: one thread of a worker.

    Whatever fails (the broker, the database, the listening connection) is logged, dropped and
    opened again after a pause; the rows wait meanwhile, as they would for any relay.
    """

    def __init__(self) -> None:
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="outbox-relay", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._thread.join(timeout)

    def _run(self) -> None:
        try:
            self._loop()
        finally:
            connection.close()  # this thread's own database connection

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                with (
                    self._listener() as listener,
                    events_connection(confirm_each=False) as broker,
                ):
                    publisher = ConfirmedPublisher(broker)
                    while not self._stop.is_set():
                        relay_outbox(publisher=publisher)
                        self._wait(listener)
            except Exception as exc:  # the loop outlives any single failure
                logger.warning("outbox_relay_loop_failed", error=str(exc))
                connection.close()
                self._stop.wait(settings.OUTBOX_RELAY_IDLE_SECONDS)

    @staticmethod
    def _listener() -> psycopg.Connection:
        params = connections["default"].get_connection_params()
        listener = psycopg.connect(**params, autocommit=True)
        listener.execute(f"LISTEN {NOTIFY_CHANNEL}")
        return listener

    def _wait(self, listener) -> None:
        """Until a commit notifies, the idle interval passes or `stop()` is called."""
        deadline = time.monotonic() + settings.OUTBOX_RELAY_IDLE_SECONDS
        while not self._stop.is_set():
            left = deadline - time.monotonic()
            if left <= 0:
                return
            timeout = min(left, _STOP_CHECK_SECONDS)
            if any(True for _ in listener.notifies(timeout=timeout, stop_after=1)):
                break
        # Under load commits come faster than passes are worth: gather a moment's worth into one
        # pass, and drop their notifications, which that pass covers.
        self._stop.wait(settings.OUTBOX_RELAY_GATHER_SECONDS)
        for _ in listener.notifies(timeout=0.001):
            pass
