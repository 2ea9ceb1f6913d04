"""Publisher confirms for a batch: publish every message, then wait once until RabbitMQ has
confirmed them all.

py-amqp's confirm mode waits for the broker's answer after each message: a round trip, and a
frame read, per event. The relay publishes in batches and marks a batch published only once all
of it is confirmed, so one wait per batch gives the same guarantee for a fraction of the cost.
"""

from __future__ import annotations

import time
from typing import Any

from kombu import Connection, Producer

from .broker import events_exchange


class PublishNotConfirmed(Exception):
    """RabbitMQ refused (nack) or did not confirm a message in time: the batch is not out."""


class ConfirmedPublisher:
    """One channel in confirm mode on `broker` (a connection opened without per-message
    confirms, see broker.events_connection), declaring the events exchange."""

    def __init__(self, broker: Connection) -> None:
        broker.ensure_connection(max_retries=1)
        self.broker = broker
        self.channel = broker.channel()
        events_exchange(self.channel).declare()
        self.channel.confirm_select()
        self.producer = Producer(self.channel)
        self._last_tag = 0  # the broker numbers a channel's messages from 1 after confirm.select
        self._unconfirmed: set[int] = set()
        self._refused = False
        self.channel.events["basic_ack"].add(self._on_ack)
        self.channel.events["basic_nack"].add(self._on_nack)

    def publish(self, body: Any, **options: Any) -> None:
        self.producer.publish(body, retry=False, **options)
        self._last_tag += 1
        self._unconfirmed.add(self._last_tag)

    def wait_for_confirms(self, timeout: float) -> None:
        """Until every message published so far is confirmed; raises PublishNotConfirmed if
        one was refused or `timeout` seconds pass first."""
        deadline = time.monotonic() + timeout
        try:
            while self._unconfirmed and not self._refused:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise PublishNotConfirmed(f"{len(self._unconfirmed)} messages unconfirmed")
                self.broker.drain_events(timeout=left)
        except TimeoutError as exc:
            raise PublishNotConfirmed(f"{len(self._unconfirmed)} messages unconfirmed") from exc
        finally:
            refused, self._refused = self._refused, False
            self._unconfirmed.clear()
        if refused:
            raise PublishNotConfirmed("RabbitMQ refused a message (nack)")

    def _on_ack(self, delivery_tag: int, multiple: bool) -> None:
        if multiple:
            self._unconfirmed = {tag for tag in self._unconfirmed if tag > delivery_tag}
        else:
            self._unconfirmed.discard(delivery_tag)

    def _on_nack(self, delivery_tag: int, multiple: bool) -> None:
        self._refused = True
