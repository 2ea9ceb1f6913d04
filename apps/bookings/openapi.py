"""Reservations in the OpenAPI description: examples that cannot hold a real seat, and the
limits from the setting that enforces them."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.utils import OpenApiExample

RESERVATION_REQUEST = "ReservationInputRequest"

# Ids of the request examples: far above any the demo data or a real cinema reaches, so an
# example sent as it is gets a 404 and holds nothing.
PLACEHOLDER_SESSION_ID = 900_000_001
PLACEHOLDER_SEAT_IDS = [900_000_101, 900_000_102]
_REPLACE_THEM = (
    "Placeholder ids, a 404 as they are: take a session id from `GET /api/v1/sessions` and "
    "session-seat ids from `GET /api/v1/sessions/{id}/seats` (not the room's seat ids)."
)
RESERVATION_EXAMPLES = [
    OpenApiExample(
        "seats",
        summary="Full-price seats (replace the ids)",
        value={"session": PLACEHOLDER_SESSION_ID, "seats": PLACEHOLDER_SEAT_IDS},
        description=_REPLACE_THEM,
        request_only=True,
    ),
    OpenApiExample(
        "tickets",
        summary="A ticket type per seat (replace the ids)",
        value={
            "session": PLACEHOLDER_SESSION_ID,
            "tickets": [
                {"seat": PLACEHOLDER_SEAT_IDS[0], "type": "full"},
                {"seat": PLACEHOLDER_SEAT_IDS[1], "type": "half"},
            ],
        },
        description=_REPLACE_THEM,
        request_only=True,
    ),
]


def reservation_limits(
    result: dict[str, Any], generator: SchemaGenerator, request: Any, public: bool
) -> dict[str, Any]:
    """drf-spectacular postprocessing hook: `seats` and `tickets` take at most
    `MAX_SEATS_PER_RESERVATION` seats, `hold_seconds` 1 to `TRY_FLOW_HOLD_SECONDS_MAX`. The
    serializers parse more (the seat lists up to a guard against huge bodies), so that the
    service answers with its own codes (`too_many_seats`, `hold_seconds_out_of_range`); the
    schema states the real limits, read when it is built, as the service reads them."""
    properties = result["components"]["schemas"][RESERVATION_REQUEST]["properties"]
    for name in ("seats", "tickets"):
        properties[name]["maxItems"] = settings.MAX_SEATS_PER_RESERVATION
    longest = settings.TRY_FLOW_HOLD_SECONDS_MAX
    if longest > 0:  # where it is 0 any value is refused: no range to state
        create = result["paths"]["/api/v1/reservations"]["post"]
        [hold] = [p for p in create["parameters"] if p["name"] == "hold_seconds"]
        hold["schema"].update(minimum=1, maximum=longest)
    return result
