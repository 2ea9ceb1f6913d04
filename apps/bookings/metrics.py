"""Prometheus metrics of reservations (shared across a node's processes)."""

from prometheus_client import Counter

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
