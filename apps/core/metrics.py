"""Prometheus metrics of the business, next to django-prometheus's request metrics at /metrics.

With several processes (gunicorn workers, the Celery worker) `PROMETHEUS_MULTIPROC_DIR` makes
them share one set of files, so any /metrics scrape shows the whole node.
"""

from prometheus_client import Counter, Gauge

RESERVATIONS = Counter(
    "cinema_reservations_total",
    "Reservation outcomes: created, conflict (a seat was taken), confirmed, cancelled, expired.",
    ["outcome"],
)
CONFLICTS_BY_GUARD = Counter(
    "cinema_reservation_conflicts_total",
    "Refused reservations by the guard that refused them (redis fast path or database).",
    ["guard"],
)
SALES = Counter("cinema_sales_total", "Payments confirmed into sales.")
REVENUE = Counter("cinema_revenue_total", "Revenue of confirmed sales, in the session currency.")
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
