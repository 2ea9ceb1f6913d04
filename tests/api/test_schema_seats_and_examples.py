"""The schema tells room seats from session seats, and its examples cannot hold a real seat."""

import pytest

from apps.bookings.models import Reservation
from apps.bookings.openapi import PLACEHOLDER_SEAT_IDS, PLACEHOLDER_SESSION_ID
from apps.sessions.models import Session, SessionSeat
from tests.assertions import assert_problem

pytestmark = pytest.mark.django_db

SEAT_MAP = "/api/v1/sessions/{id}/seats"


def _item_ref(response: dict) -> str:
    schema = response["content"]["application/json"]["schema"]
    return schema["items"]["$ref"]


def test_room_seats_and_session_seats_are_named_apart(schema):
    components = schema["components"]["schemas"]
    seat_map = schema["paths"][SEAT_MAP]["get"]["responses"]["200"]
    room = components["RoomDetail"]["properties"]["seats"]

    assert _item_ref(seat_map) == "#/components/schemas/SessionSeat"
    assert room["items"]["$ref"] == "#/components/schemas/RoomSeat"
    assert {"Seat", "SeatMapEntry"}.isdisjoint(components)
    assert "session-seat ids" in components["RoomSeat"]["properties"]["id"]["description"]
    assert "reserve" in components["SessionSeat"]["properties"]["id"]["description"]


def test_every_reserved_seat_id_says_where_it_comes_from(schema):
    components = schema["components"]["schemas"]
    described = {
        "seats": components["ReservationInputRequest"]["properties"]["seats"]["items"],
        "tickets[].seat": components["TicketChoiceRequest"]["properties"]["seat"],
        "reservation seats[].id": components["ReservedSeat"]["properties"]["id"],
    }
    for where, prop in described.items():
        assert SEAT_MAP in prop["description"], where
        assert "room seat" in prop["description"], where


def test_the_description_has_a_try_the_flow_section(schema):
    description = schema["info"]["description"]

    assert "## Try the flow" in description
    assert "?hold_seconds=" in description
    assert "`SessionSeat`" in description
    assert "`RoomSeat`" in description


def _reservation_examples(schema) -> dict:
    body = schema["paths"]["/api/v1/reservations"]["post"]["requestBody"]
    return body["content"]["application/json"]["examples"]


def test_reservation_examples_use_placeholder_ids(schema):
    examples = _reservation_examples(schema)

    assert set(examples) == {"Seats", "Tickets"}
    for example in examples.values():
        assert example["value"]["session"] == PLACEHOLDER_SESSION_ID
        assert "Placeholder ids" in example["description"]
    # Not {"session": 1, "seats": [1]}, which Swagger UI would make up without an example.
    assert PLACEHOLDER_SESSION_ID > 10**8
    assert min(PLACEHOLDER_SEAT_IDS) > 10**8


def test_an_example_sent_as_it_is_holds_nothing(schema, user_api, session):
    assert not Session.objects.filter(pk=PLACEHOLDER_SESSION_ID).exists()
    assert not SessionSeat.objects.filter(pk__in=PLACEHOLDER_SEAT_IDS).exists()

    for example in _reservation_examples(schema).values():
        response = user_api.post("/api/v1/reservations", example["value"], format="json")
        assert_problem(response, 404, "not_found")

    assert not Reservation.objects.exists()
