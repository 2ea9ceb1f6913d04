"""Runs the event consumers inside the Celery worker (a consumer bootstep).

At start-up it declares each consumer's queues (main, retry, dead-letter) and consumes the main
queue on the worker's connection. A message is acknowledged only after its effect committed. A
failure republishes the message to the retry queue with a growing delay and acks the original;
after the last retry the message is rejected, and RabbitMQ dead-letters it to `<queue>.dlq`.
"""

from __future__ import annotations

import logging
from typing import Any

from celery import bootsteps
from django.conf import settings
from kombu import Consumer, Message, Producer

from .broker import declare_consumer_queues, retry_name
from .consumers import EventConsumer, MalformedEvent, load_consumers, parse_event, process_events

logger = logging.getLogger(__name__)

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
                logger.error(
                    "dead-lettering malformed message on %s: %s", self.consumer.queue_name, exc
                )
                message.reject(requeue=False)
        if not events:
            return
        try:
            process_events(self.consumer, events)
        except Exception:
            if len(events) > 1:  # find the culprit: the others should not wait for it
                for event, message in zip(events, messages, strict=True):
                    self._process_one(event, message)
                return
            self._retry_or_dead_letter(messages[0], events[0].id)
            return
        for message in messages:
            message.ack()

    def _process_one(self, event, message: Message) -> None:
        try:
            process_events(self.consumer, [event])
        except Exception:
            self._retry_or_dead_letter(message, event.id)
        else:
            message.ack()

    def _retry_or_dead_letter(self, message: Message, event_id) -> None:
        attempt = int((message.headers or {}).get(ATTEMPT_HEADER, 0)) + 1
        logger.exception("consumer %s failed on event %s", self.consumer.queue_name, event_id)
        if attempt > settings.EVENT_MAX_RETRIES:
            logger.error(
                "dead-lettered event %s on %s after %d attempts",
                event_id,
                self.consumer.queue_name,
                attempt,
                extra={
                    "event_id": str(event_id),
                    "queue": self.consumer.queue_name,
                    "dead_lettered": 1,
                },
            )
            message.reject(requeue=False)
            return
        from .consumers import retry_delay

        delay = retry_delay(attempt)
        self.producer.publish(
            message.body,
            exchange="",
            routing_key=retry_name(self.consumer.queue_name),
            headers={**(message.headers or {}), ATTEMPT_HEADER: attempt},
            expiration=delay,
            delivery_mode=2,
            content_type=message.content_type,
            content_encoding=message.content_encoding,
            message_id=message.properties.get("message_id"),
            type=message.properties.get("type"),
            retry=False,
        )
        message.ack()
        logger.warning(
            "retrying event %s on %s: attempt %d in %.2f s",
            event_id,
            self.consumer.queue_name,
            attempt,
            delay,
            extra={"event_id": str(event_id), "queue": self.consumer.queue_name, "retry": attempt},
        )


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
                channel, queues=[queue], callbacks=[runner.on_message], accept=["json"]
            )
            kombu_consumer.qos(prefetch_count=max(consumer.batch_size * 2, 10))
            consumers.append(kombu_consumer)
        logger.info(
            "event consumers started: %s", ", ".join(r.consumer.queue_name for r in self.runners)
        )
        return consumers

    def stop(self, c) -> None:
        for timer in getattr(self, "timers", []):
            timer.cancel()
        for runner in getattr(self, "runners", []):
            runner.flush()
        super().stop(c)
