"""Schemathesis fuzzes every operation of the published OpenAPI schema against a live web instance.

Once as an ordinary user and once as staff, each operation gets a bounded number of generated
requests (valid and invalid: wrong types, missing fields, huge numbers, NUL bytes, unknown ids)
and every response must be
- no server error (5xx),
- a documented status code, with the documented content type,
- a body that matches the documented schema (the problem document for errors).

Real ids (the seeded session, its seats, the user's reservation, ...) are mixed into the
generated values through schemathesis dictionaries, so requests reach the code behind the 404s.
`FUZZ_SEED` replays another seed; `FUZZ_MAX_EXAMPLES` digs deeper.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from apps.bookings import services as booking_services
from bench.tokens import session_token_for
from tests.concurrency import free_port
from tests.factories import StaffFactory, UserFactory, make_sale, make_session
from tests.processes import web_server

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow, pytest.mark.timeout(420)]

SCHEMATHESIS = Path(sys.executable).parent / "schemathesis"
CHECKS = ",".join(
    [
        "not_a_server_error",
        "status_code_conformance",
        "content_type_conformance",
        "response_schema_conformance",
        "response_headers_conformance",
    ]
)
MAX_EXAMPLES = int(os.environ.get("FUZZ_MAX_EXAMPLES", "15"))
SEED = int(os.environ.get("FUZZ_SEED", "20261125"))
# allauth's sign-up, login and logout are in the schema for integrators, but they are allauth's
# code, not this API's, and a fuzzed logout would end the session token the run uses.
AUTH_PATHS = r"^/_allauth/"
# How often a parameter takes a real id instead of a generated value.
REAL_ID_PROBABILITY = 0.6
SERVER_ENV = {
    # The instance runs as `make web` runs it, limits included: granian hands the app request
    # targets of up to 65,534 bytes, so the fuzzer's long query strings reach the app, whose
    # answers are what is under test (granian's own refusals beyond its limits are empty 414/431
    # answers, tests/ops/test_web_server.py; nginx in front stops request lines at 8 KiB).
    # Errors only: the server's log is printed with the fuzzer's report when a check fails.
    "LOG_LEVEL": "ERROR",
}


def seed_world() -> dict:
    """A session with a sale and a pending hold of the user, plus a staff member."""
    user = UserFactory()
    staff = StaffFactory()
    session = make_session()
    seats = list(session.seats.order_by("id").values_list("id", flat=True))
    sale = make_sale(user=user, session=session, seat_ids=seats[:2])
    held = booking_services.reservation_create(
        user=user, session_id=session.id, seat_ids=seats[2:4], half_price=seats[3:4]
    )
    # A session whose door is open: its tickets can be checked in.
    tonight = make_session(starts_at=timezone.now() + timedelta(minutes=30))
    door_sale = make_sale(user=user, session=tonight, seats=2)
    tickets = [*sale.tickets.all(), *door_sale.tickets.all()]
    room = session.room
    return {
        "user": user,
        "staff": staff,
        "ids": {
            "movie": [session.movie_id],
            "cinema": [room.cinema_id],
            "room": [room.id],
            "session": [session.id],
            "seat": seats[2:8],
            "reservation": [str(held.id), str(sale.reservation_id)],
            "user": [user.id, staff.id],
            "ticket": [str(ticket.id) for ticket in tickets],
            "code": [ticket.code for ticket in tickets],
            "sale": [str(sale.id)],
        },
    }


def _toml(value) -> str:
    return json.dumps(value)  # JSON scalars and arrays of them are valid TOML


def write_config(path: Path, ids: dict[str, list]) -> Path:
    """A schemathesis.toml that mixes the real ids into the parameters that take them."""
    lines = []
    for name, values in ids.items():
        lines += [f"[dictionaries.{name}]", f"values = {_toml(values)}", ""]

    def bind(dictionary: str) -> str:
        return f'{{ dictionary = "{dictionary}", probability = {REAL_ID_PROBABILITY} }}'

    per_path = {
        r"^/api/v1/movies/\{id\}$": {"path.id": "movie"},
        r"^/api/v1/cinemas/\{id\}$": {"path.id": "cinema"},
        r"^/api/v1/rooms/\{id\}$": {"path.id": "room"},
        r"^/api/v1/sessions/\{id\}": {"path.id": "session"},
        r"^/api/v1/sessions/\{session_id\}/stats$": {"path.session_id": "session"},
        r"^/api/v1/reservations/\{reservation_id\}": {"path.reservation_id": "reservation"},
        r"^/api/v1/users/\{user_id\}/purchases$": {"path.user_id": "user"},
        r"^/api/v1/reservations$": {
            "body.session": "session",
            "body.seats[*]": "seat",
            "body.tickets[*].seat": "seat",
        },
        r"^/api/v1/tickets/\{ticket_id\}/qr.svg$": {"path.ticket_id": "ticket"},
        r"^/api/v1/checkins$": {"body.code": "code"},
        r"^/api/v1/sales/\{sale_id\}/refund$": {"path.sale_id": "sale"},
        r"^/api/v1/sessions$": {
            "body.movie": "movie",
            "body.room": "room",
            "query.movie": "movie",
            "query.room": "room",
            "query.cinema": "cinema",
        },
        r"^/api/v1/rooms$": {"body.cinema": "cinema", "query.cinema": "cinema"},
    }
    for regex, parameters in per_path.items():
        lines += ["[[operations]]", f"include-path-regex = {_toml(regex)}"]
        lines += ["[operations.parameters]"]
        lines += [f"{_toml(key)} = {bind(name)}" for key, name in parameters.items()]
        lines.append("")
    path.write_text("\n".join(lines))
    return path


def schema_paths() -> dict:
    from drf_spectacular.generators import SchemaGenerator

    return SchemaGenerator().get_schema(request=None, public=True)["paths"]


def run_schemathesis(base: str, token: str, config: Path, workdir: Path):
    command = [
        str(SCHEMATHESIS),
        "--config-file",
        str(config),
        "--no-color",
        "run",
        f"{base}/api/schema/",
        "--exclude-path-regex",
        AUTH_PATHS,
        "--checks",
        CHECKS,
        "--header",
        f"X-Session-Token: {token}",
        "--header",
        "Accept-Language: en",
        "--max-examples",
        str(MAX_EXAMPLES),
        "--workers",
        "1",
        "--seed",
        str(SEED),
        # No stateful phase: it follows OpenAPI links, which drf-spectacular does not publish.
        "--phases",
        "examples,coverage,fuzzing",
        "--generation-database",
        "none",
        "--request-timeout",
        "10",
        "--max-failures",
        "50",
    ]
    return subprocess.run(
        command, cwd=workdir, capture_output=True, text=True, timeout=360, check=False
    )


@pytest.mark.parametrize("who", ["user", "staff"])
def test_every_operation_survives_fuzzing_and_matches_its_schema(who, tmp_path):
    world = seed_world()
    token = session_token_for(world[who])
    config = write_config(tmp_path / "schemathesis.toml", world["ids"])

    with web_server(free_port(), **SERVER_ENV) as base:
        result = run_schemathesis(base, token, config, tmp_path)

    output = result.stdout + result.stderr
    print(output)  # shown by pytest with -s or on failure
    assert result.returncode == 0, f"schemathesis found problems (as {who}):\n{output}"
    # The run really covered the whole schema but allauth's operations, not a schema it failed
    # to load.
    selected = re.search(r"Selected: (\d+)/(\d+)", output)
    assert selected, output
    auth_operations = sum(
        len(operations) for path, operations in schema_paths().items() if re.match(AUTH_PATHS, path)
    )
    assert auth_operations == 3
    assert int(selected.group(1)) == int(selected.group(2)) - auth_operations, output
    assert int(selected.group(2)) >= 20, output
