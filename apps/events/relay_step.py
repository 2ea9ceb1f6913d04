"""Runs the outbox relay loop inside the Celery worker (a step of its consumer blueprint).

It starts once the event consumers have declared their queues (an event published before its
queue exists would be routed nowhere) and after the pool has forked its children, so the loop's
thread and connections live in the main worker process only. When the worker loses its broker
connection the blueprint stops the loop and starts it again with the consumers.
"""

from __future__ import annotations

from typing import Any

from celery import bootsteps


class OutboxRelayStep(bootsteps.StartStopStep):
    requires = ("apps.events.consumer_step:EventConsumersStep",)

    def __init__(self, parent, **kwargs) -> None:
        super().__init__(parent, **kwargs)
        self.loop: Any = None

    def start(self, parent) -> None:
        from .relay import RelayLoop  # models: only once Django is set up

        self.loop = RelayLoop()
        self.loop.start()

    def stop(self, parent) -> None:
        if self.loop is not None:
            self.loop.stop()
            self.loop = None
