"""Counting a consumer's dead letters asks the broker, takes nothing, and says when it cannot."""

import uuid

from kombu import Producer

from apps.events.broker import declare_consumer_queues, dlq_name, events_connection
from apps.events.dead_letters import dead_letter_counts


def test_counts_the_messages_of_each_dead_letter_queue_and_leaves_them(settings):
    queue = f"{settings.EVENT_QUEUE_PREFIX}count-test-{uuid.uuid4().hex[:8]}"
    never_declared = f"{queue}-none"
    with events_connection() as connection:
        channel = connection.channel()
        declare_consumer_queues(channel, queue, ["count.test"])
        producer = Producer(channel)
        for n in range(2):
            producer.publish({"id": n}, routing_key=dlq_name(queue), exchange="", serializer="json")
        try:
            assert dead_letter_counts([queue, never_declared]) == {queue: 2, never_declared: 0}
            assert dead_letter_counts([queue]) == {queue: 2}
        finally:
            for name in (queue, dlq_name(queue), f"{queue}.retry"):
                channel.queue_delete(name)


def test_an_unreachable_broker_gives_none(settings):
    settings.EVENTS_BROKER_URL = "amqp://guest:guest@127.0.0.1:9//"

    assert dead_letter_counts(["anything"]) is None
