"""Runs the event consumers inside the Celery worker (a consumer bootstep).

At start-up it declares each consumer's queues (main, retry, dead-letter) and consumes the main
queue on the worker's connection. A message is acknowledged only after its effect committed. A
failure republishes the message to the retry queue with a growing delay and acks the original;
after the last retry the message is rejected, and RabbitMQ dead-letters it to `<queue>.dlq`.
"""

from __future__ import annotations

from typing import Any

import structlog
from celery import bootsteps
from django.conf import settings
from kombu import Consumer, Message, Producer

from . import metrics
from .broker import declare_consumer_queues, retry_name, send_to_queue
from .consumers import (
    EventConsumer,
    MalformedEvent,
    load_consumers,
    parse_event,
    process_events,
    retry_delay,
)

logger = structlog.get_logger(__name__)

ATTEMPT_HEADER = "x-attempt"


class ConsumerRunner:
    """Feeds one consumer from its queue, in batches when the consumer asks for them."""

    def __init__(self, consumer: EventConsumer, producer: Producer) -> None:
        self.consumer = consumer
        self.producer = producer
        self.pending: list[tuple[Any, Message]] = []

    def on_message(self, body: Any, message: Message) -> None:
        self.pending.append((body, message))
        if len(self.pending) >= self.consumer.batch_size:
            self.flush()

    def on_decode_error(self, message: Message, exc: Exception) -> None:
        """A body that cannot even be decoded (bad JSON, a content type other than JSON) can
        never be processed: dead-letter it. Without this hook kombu raises the error into the
        worker, which stops, and the message, still unacked, stops the next worker too."""
        logger.error("event_undecodable", queue=self.consumer.queue_name, error=str(exc))
        message.reject(requeue=False)

    def flush(self) -> None:
        batch, self.pending = self.pending, []
        if not batch:
            return
        events, messages = [], []
        for body, message in batch:
            try:
                events.append(parse_event(body))
                messages.append(message)
            except MalformedEvent as exc:
                logger.error("event_malformed", queue=self.consumer.queue_name, error=str(exc))
                message.reject(requeue=False)
        if not events:
            return
        if len(events) == 1:
            self._process_one(events[0], messages[0])
            return
        try:
            with structlog.contextvars.bound_contextvars(queue=self.consumer.queue_name):
                fresh = process_events(self.consumer, events)
        except Exception:
            # Find the culprit one by one: the others should not wait for its retries.
            for event, message in zip(events, messages, strict=True):
                self._process_one(event, message)
            return
        for message in messages:
            message.ack()
        logger.info("events_consumed", queue=self.consumer.queue_name, batch=len(events), new=fresh)

    def _process_one(self, event, message: Message) -> None:
        headers = message.headers or {}
        with structlog.contextvars.bound_contextvars(
            queue=self.consumer.queue_name,
            event_id=str(event.id),
            event_type=event.type,
            request_id=headers.get("x-request-id", ""),
        ):
            try:
                fresh = process_events(self.consumer, [event])
            except Exception:
                self._retry_or_dead_letter(message)
            else:
                message.ack()
                logger.info("event_consumed", duplicate=not fresh)

    def _retry_or_dead_letter(self, message: Message) -> None:
        attempt = int((message.headers or {}).get(ATTEMPT_HEADER, 0)) + 1
        logger.exception("event_failed", attempt=attempt)
        if attempt > settings.EVENT_MAX_RETRIES:
            message.reject(requeue=False)
            metrics.EVENTS_DEAD_LETTERED.labels(queue=self.consumer.queue_name).inc()
            logger.error("event_dead_lettered", attempts=attempt)
            return
        delay = retry_delay(attempt)
        send_to_queue(
            self.producer,
            message,
            queue=retry_name(self.consumer.queue_name),
            headers={**(message.headers or {}), ATTEMPT_HEADER: attempt},
            expiration=delay,
        )
        message.ack()
        metrics.EVENTS_RETRIED.labels(queue=self.consumer.queue_name).inc()
        logger.warning("event_retry_scheduled", attempt=attempt, delay_seconds=round(delay, 3))


class EventConsumersStep(bootsteps.ConsumerStep):
    def start(self, c) -> None:
        self.timers = []
        self.runners: list[ConsumerRunner] = []
        super().start(c)
        for runner in self.runners:
            if runner.consumer.batch_size > 1:
                self.timers.append(
                    c.timer.call_repeatedly(runner.consumer.batch_interval_seconds, runner.flush)
                )

    def get_consumers(self, channel) -> list[Consumer]:
        consumers = []
        producer = Producer(channel)
        for consumer in load_consumers():
            queue = declare_consumer_queues(channel, consumer.queue_name, consumer.event_types)
            runner = ConsumerRunner(consumer, producer)
            self.runners.append(runner)
            kombu_consumer = Consumer(
                channel,
                queues=[queue],
                callbacks=[runner.on_message],
                accept=["json"],
                on_decode_error=runner.on_decode_error,
            )
            kombu_consumer.qos(prefetch_count=max(consumer.batch_size * 2, 10))
            consumers.append(kombu_consumer)
        logger.info("event_consumers_started", queues=[r.consumer.queue_name for r in self.runners])
        return consumers

    def stop(self, c) -> None:
        for timer in getattr(self, "timers", []):
            timer.cancel()
        for runner in getattr(self, "runners", []):
            runner.flush()
        super().stop(c)
