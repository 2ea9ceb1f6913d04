"""Prometheus metrics of reservations (shared across a node's processes)."""

from prometheus_client import Counter, Gauge, Histogram

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

# The live seat map stream (stream processes; "livesum": the open streams of live processes).
SEAT_STREAMS_OPEN = Gauge(
    "cinema_seat_streams_open", "Open live seat map streams.", multiprocess_mode="livesum"
)
SEAT_STREAM_EVENTS = Counter(
    "cinema_seat_stream_events_total",
    "Events sent on live seat map streams, by event (snapshot, seats, end, dropped).",
    ["event"],
)
SEAT_STREAM_SNAPSHOTS_BUILT = Counter(
    "cinema_seat_stream_snapshots_built_total",
    "Seat maps built for `snapshot` events; streams that open together share one.",
)
SEAT_STREAM_DROPS = Counter(
    "cinema_seat_stream_drops_total",
    "Live seat map streams dropped by the server, by reason (slow_consumer, unavailable).",
    ["reason"],
)
SEAT_STREAM_REFUSED = Counter(
    "cinema_seat_stream_refused_total", "Streams refused for the per-IP limit (429)."
)
SEAT_STREAM_DELIVERY = Histogram(
    "cinema_seat_stream_delivery_seconds",
    "From a seat change's commit to its event handed to the client's connection.",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
)
