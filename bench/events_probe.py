"""A private subscriber to the `cinema.events` exchange, run as its own process by the benchmark
(so that decoding messages never competes with the load generator's threads for the GIL).

    python -m bench.events_probe AMQP_URL OUT_FILE [ROUTING_KEY ...]

Binds an exclusive, auto-deleted queue (default key `reservation.created`) and appends one JSON
line per message: [received_at (epoch s), type, occurred_at (envelope), reservation_id]. Prints
`ready` once the queue is bound; stops on SIGTERM.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sys
import time

from kombu import Connection, Consumer, Exchange, Queue

# Same declaration as apps.events.broker.events_exchange (a mismatch would be refused).
EXCHANGE = Exchange("cinema.events", type="topic", durable=True)


def main() -> None:
    url, out_path, *keys = sys.argv[1:]
    keys = keys or ["reservation.created"]
    stopping = False

    def stop(*_args) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    name = f"bench.events-probe.{os.getpid()}"
    queues = [
        Queue(
            name,
            exchange=EXCHANGE,
            routing_key=key,
            exclusive=True,
            auto_delete=True,
            durable=False,
        )
        for key in keys
    ]
    with open(out_path, "w", buffering=1) as out, Connection(url) as connection:

        def on_message(body, message) -> None:
            received = time.time()
            data = body.get("data") or {}
            out.write(
                json.dumps(
                    [
                        received,
                        body.get("type"),
                        body.get("occurred_at"),
                        data.get("reservation_id"),
                    ]
                )
                + "\n"
            )

        with Consumer(
            connection, queues=queues, callbacks=[on_message], accept=["json"], no_ack=True
        ):
            print("ready", flush=True)
            while not stopping:
                with contextlib.suppress(TimeoutError):
                    connection.drain_events(timeout=0.5)


if __name__ == "__main__":
    main()
