"""Prometheus metrics of the event runtime: publishing, outbox lag, retries, dead letters.

With several processes (the web instances' workers, the Celery worker) `PROMETHEUS_MULTIPROC_DIR`
makes them share one set of files, so any /metrics scrape shows the whole node.
"""

from prometheus_client import Counter, Gauge

EVENTS_PUBLISHED = Counter("cinema_events_published_total", "Outbox events published.")
OUTBOX_LAG = Gauge(
    "cinema_outbox_lag_seconds",
    "Age of the oldest unpublished outbox event, at the last relay run.",
    multiprocess_mode="max",
)
EVENTS_RETRIED = Counter("cinema_events_retried_total", "Event deliveries retried.", ["queue"])
EVENTS_DEAD_LETTERED = Counter(
    "cinema_events_dead_lettered_total", "Events sent to a dead-letter queue.", ["queue"]
)
