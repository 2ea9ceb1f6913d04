"""The Celery worker's Prometheus metrics, served by the worker itself.

`make worker WORKER_METRICS_BIND=host:port` imports this module into the worker (Celery's
`--include`). Once the worker is ready, its main process serves the node's multiprocess files
(PROMETHEUS_MULTIPROC_DIR: its own figures, its pool processes' and its event consumers') at
`http://host:port/metrics`, from a daemon thread.

Compose runs the worker in a container of its own, so nothing else could show its figures (a
metrics folder shared between containers would mix processes of different PID namespaces that
may have the same pid). `make run` does not need it: the web instances share METRICS_DIR with the
worker, and their /metrics shows the whole node.
"""

from __future__ import annotations

import os
from typing import Any

from celery.signals import worker_ready
from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.multiprocess import MultiProcessCollector


def parse_bind(bind: str) -> tuple[str, int]:
    """`host:port` (like BIND of `make web`) into start_http_server's address and port."""
    host, _, port = bind.rpartition(":")
    return host.strip("[]") or "127.0.0.1", int(port)


@worker_ready.connect
def serve_metrics(**kwargs: Any) -> None:
    bind = os.environ.get("WORKER_METRICS_BIND", "")
    if not bind:
        return
    registry = CollectorRegistry()
    MultiProcessCollector(registry)
    addr, port = parse_bind(bind)
    start_http_server(port, addr=addr, registry=registry)
