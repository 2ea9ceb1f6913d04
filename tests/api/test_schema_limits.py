"""Every length and count limit the schema states is the one the code enforces."""

import re

import pytest
from drf_spectacular.generators import SchemaGenerator

from apps.rooms.layout import MAX_ROWS, MAX_SEATS_PER_ROW
from tests.assertions import assert_problem, field_errors
from tests.helpers import reserve, seat_ids

pytestmark = pytest.mark.django_db

LIMIT_KEYS = ("maxItems", "maxLength", "maximum")


def fresh_schema() -> dict:
    """Built now, with this test's settings (the `schema` fixture is built once per module)."""
    return SchemaGenerator().get_schema(request=None, public=True)


def reservation_request(schema: dict) -> dict:
    return schema["components"]["schemas"]["ReservationInputRequest"]["properties"]


def hold_seconds_parameter(schema: dict) -> dict:
    parameters = schema["paths"]["/api/v1/reservations"]["post"]["parameters"]
    [hold] = [p for p in parameters if p["name"] == "hold_seconds"]
    return hold["schema"]


@pytest.mark.parametrize("limit", [10, 4])
def test_seat_lists_state_the_reservation_limit(settings, limit):
    settings.MAX_SEATS_PER_RESERVATION = limit

    properties = reservation_request(fresh_schema())

    for name in ("seats", "tickets"):
        assert properties[name]["maxItems"] == limit, name
        assert properties[name]["minItems"] == 1, name


def test_the_stated_seat_limit_is_where_the_api_starts_refusing(settings, user_api, session):
    limit = reservation_request(fresh_schema())["seats"]["maxItems"]
    assert limit == settings.MAX_SEATS_PER_RESERVATION

    too_many = reserve(user_api, session.id, seat_ids(session, limit + 1))
    assert field_errors(assert_problem(too_many, 400, "too_many_seats")) == {
        "seats": "too_many_seats"
    }
    assert reserve(user_api, session.id, seat_ids(session, limit)).status_code == 201


@pytest.mark.parametrize("longest", [600, 45])
def test_hold_seconds_states_the_allowed_range(settings, longest):
    settings.TRY_FLOW_HOLD_SECONDS_MAX = longest

    assert hold_seconds_parameter(fresh_schema()) == {
        "type": "integer",
        "minimum": 1,
        "maximum": longest,
    }


def test_hold_seconds_states_no_range_where_it_is_refused(settings):
    settings.TRY_FLOW_HOLD_SECONDS_MAX = 0

    assert hold_seconds_parameter(fresh_schema()) == {"type": "integer"}


def test_room_limits_are_the_layout_constants(schema):
    properties = schema["components"]["schemas"]["RoomInputRequest"]["properties"]

    assert properties["rows"]["maximum"] == MAX_ROWS
    assert properties["seats_per_row"]["maximum"] == MAX_SEATS_PER_ROW
    for name in ("seats", "blocked", "wheelchair", "companion"):
        assert properties[name]["maxItems"] == MAX_ROWS * MAX_SEATS_PER_ROW, name


def _properties(schema: dict):
    for component, body in schema["components"]["schemas"].items():
        for name, prop in body.get("properties", {}).items():
            yield f"{component}.{name}", prop


def test_no_description_names_a_limit_the_schema_does_not_state(schema):
    """A text such as "at most 10" next to `maxItems: 100` is what misled integrators."""
    wrong = {}
    for where, prop in _properties(schema):
        stated = {prop[key] for key in LIMIT_KEYS if key in prop}
        # "at most 10", "at most MAX_SEATS_PER_RESERVATION, 10", "up to 600"...
        text = prop.get("description", "")
        for number in re.findall(r"(?:at most|up to)[^.;()\d]{0,40}(\d+)", text):
            if int(number) not in stated:
                wrong[where] = (number, stated)
    assert wrong == {}


def test_every_list_in_a_request_states_its_bounds(schema):
    """Nested lists (`many=True`) included, which drf-spectacular leaves unbounded."""
    unbounded = [
        where
        for where, prop in _properties(schema)
        if where.split(".")[0].endswith("Request")
        and prop.get("type") == "array"
        and "maxItems" not in prop
    ]
    assert unbounded == []
