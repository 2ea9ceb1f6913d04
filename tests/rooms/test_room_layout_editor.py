"""The room layout editor of the admin, with the Django test client against PostgreSQL: the whole
grid in one field of one request, label lists and overrides read on the server, errors at the
field that needs the fix (in pt-BR, the default language) and nothing saved."""

from __future__ import annotations

import json

import pytest
from django.conf import settings
from django.contrib.messages import get_messages
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.rooms import services as room_services
from apps.rooms.layout import SeatPosition
from apps.rooms.models import Room, Seat
from tests.factories import CinemaFactory, make_room, make_session
from tests.helpers import admin_url as url

pytestmark = pytest.mark.django_db


def room_form(
    cinema, *, rows=4, seats_per_row=6, cells=None, seat_lists="", labels="", name="Sala 1"
):
    return {
        "cinema": cinema.pk,
        "name": name,
        "rows": rows,
        "seats_per_row": seats_per_row,
        "cells": json.dumps(cells) if cells is not None else "",
        "seat_lists": seat_lists,
        "labels": labels,
    }


def seats_of(room: Room) -> dict[str, str]:
    return dict(room.seats.values_list("label", "category"))


def form_errors(response) -> dict[str, list[str]]:
    assert response.status_code == 200, "the form was accepted"
    return {
        field: list(errors) for field, errors in response.context["adminform"].form.errors.items()
    }


def messages_of(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


def test_a_26_by_60_room_is_made_in_one_small_request(superuser_client):
    cinema = CinemaFactory()
    cells = ["s" * 60] * 26
    cells[2] = "b" * 40 + "s" * 20
    form = room_form(cinema, rows=26, seats_per_row=60, cells=cells, name="Sala IMAX")

    with CaptureQueriesContext(connection) as queries:
        response = add(superuser_client, form)

    assert response.status_code == 302, form_errors(response)
    assert len(form) < settings.DATA_UPLOAD_MAX_NUMBER_FIELDS / 100
    room = Room.objects.get(name="Sala IMAX")
    seats = seats_of(room)
    assert len(seats) == 26 * 60
    blocked = [label for label, category in seats.items() if category == "blocked"]
    assert sorted(blocked) == sorted(f"C{n}" for n in range(1, 41))
    # One insert of the seats, not one per seat.
    assert sum('INSERT INTO "rooms_seat"' in q["sql"] for q in queries.captured_queries) == 1


def test_an_aisle_leaves_no_seat_and_a_gap_in_the_numbers(superuser_client):
    cinema = CinemaFactory()

    response = add(
        superuser_client, room_form(cinema, rows=2, seats_per_row=5, cells=["ss.ss", "ss.sw"])
    )

    assert response.status_code == 302, form_errors(response)
    room = Room.objects.get()
    assert list(room.seats.order_by("row", "number").values_list("label", flat=True)) == [
        "A1",
        "A2",
        "A4",
        "A5",
        "B1",
        "B2",
        "B4",
        "B5",
    ]
    assert seats_of(room)["B5"] == "wheelchair"


def test_label_lists_set_categories_and_aisles_over_the_grid(superuser_client):
    cinema = CinemaFactory()

    response = add(
        superuser_client,
        room_form(
            cinema,
            seat_lists="wheelchair: A1, A2; companion: a3\nblocked: D3-D5; aisle: B4, C4",
        ),
    )

    assert response.status_code == 302, form_errors(response)
    seats = seats_of(Room.objects.get())
    assert len(seats) == 4 * 6 - 2
    assert "B4" not in seats
    assert "C4" not in seats
    assert {label: c for label, c in seats.items() if c != "standard"} == {
        "A1": "wheelchair",
        "A2": "wheelchair",
        "A3": "companion",
        "D3": "blocked",
        "D4": "blocked",
        "D5": "blocked",
    }


def test_category_names_may_be_typed_in_the_page_language(superuser_client):
    response = add(
        superuser_client, room_form(CinemaFactory(), seat_lists="espaço para cadeira de rodas: B2")
    )

    assert response.status_code == 302, form_errors(response)
    assert seats_of(Room.objects.get())["B2"] == "wheelchair"


def test_labels_are_row_and_number_unless_overridden(superuser_client):
    response = add(
        superuser_client, room_form(CinemaFactory(), rows=1, labels="A1=VIP1, a2 = VIP2")
    )

    assert response.status_code == 302, form_errors(response)
    room = Room.objects.get()
    assert list(room.seats.order_by("number").values_list("row", "number", "label")) == [
        ("A", 1, "VIP1"),
        ("A", 2, "VIP2"),
        ("A", 3, "A3"),
        ("A", 4, "A4"),
        ("A", 5, "A5"),
        ("A", 6, "A6"),
    ]


@pytest.mark.parametrize(
    ("changes", "errors"),
    [
        (
            {"seat_lists": "wheelchair: A1, banana"},
            {
                "seat_lists": [
                    "“banana” não é um assento: escreva a letra da fileira e o número, p. ex. C5, "
                    "ou um intervalo, C5-C8."
                ]
            },
        ),
        (
            {"seat_lists": "blocked: E1, A9"},
            {"seat_lists": ["Fora da grade: A9, E1."]},
        ),
        (
            {"seat_lists": "vip: A1"},
            {
                "seat_lists": [
                    "Categoria desconhecida “vip”: use standard, wheelchair, companion, blocked, "
                    "aisle."
                ]
            },
        ),
        (
            {"seat_lists": "wheelchair A1"},
            {
                "seat_lists": [
                    "Não foi possível ler “wheelchair A1”: escreva uma categoria, dois-pontos e os "
                    "assentos, p. ex. “wheelchair: A1, A2”."
                ]
            },
        ),
        (
            {"seat_lists": "wheelchair: A1; blocked: A1"},
            {"seat_lists": ["O assento A1 está em duas listas de categoria."]},
        ),
        (
            {"cells": ["ssssss"] * 3},
            {"cells": ["A grade de assentos não tem 4 fileiras de 6 lugares."]},
        ),
        (
            {"cells": ["ssssss", "sssssx", "ssssss", "ssssss"]},
            {"cells": ["Não foi possível ler a grade de assentos."]},
        ),
        (
            {"cells": ["......"] * 4},
            {"cells": ["Uma sala precisa de pelo menos um assento."]},
        ),
        (
            {"labels": "A1=B1"},
            {"labels": ["Rótulos mostrados por dois assentos: B1."]},
        ),
        (
            {"labels": "Z1=VIP"},
            {
                "labels": [
                    "Não há assento Z1 para rotular: indique um assento da grade pela fileira e o "
                    "número."
                ]
            },
        ),
        (
            {"labels": "A1=MUITOLONGO"},
            {"labels": ["“MUITOLONGO” é longo demais: um rótulo tem no máximo 8 caracteres."]},
        ),
        (
            {"labels": "A1 VIP"},
            {
                "labels": [
                    "Não foi possível ler “A1 VIP”: escreva um assento, um sinal de igual e o "
                    "rótulo, p. ex. “A1=VIP1”."
                ]
            },
        ),
        (
            {"rows": 27},
            {"rows": ["Certifique-se que este valor seja menor ou igual a 26."]},
        ),
    ],
    ids=[
        "bad-label",
        "outside-grid",
        "unknown-category",
        "unreadable-list",
        "two-lists",
        "grid-size",
        "bad-cell",
        "no-seats",
        "repeated-label",
        "label-of-no-seat",
        "long-label",
        "unreadable-label",
        "too-many-rows",
    ],
)
def test_invalid_input_is_refused_at_its_field_and_nothing_is_saved(
    superuser_client, changes, errors
):
    form = room_form(CinemaFactory())
    form.update({k: json.dumps(v) if k == "cells" else v for k, v in changes.items()})

    response = add(superuser_client, form)

    assert form_errors(response) == errors
    assert not Room.objects.exists()
    assert not Seat.objects.exists()


def test_a_room_below_the_session_minimum_is_flagged_when_made(superuser_client):
    response = add(
        superuser_client,
        room_form(CinemaFactory(), rows=3, seats_per_row=6, seat_lists="blocked: C1-C3"),
    )

    room = Room.objects.get()
    assert len(seats_of(room)) == 18
    assert (
        f"{room} tem 15 assentos à venda; uma sessão precisa de pelo menos 16. Nenhuma sessão "
        "pode ser agendada nela até que tenha mais."
    ) in messages_of(response)


def test_a_room_of_enough_seats_is_not_flagged(superuser_client):
    response = add(superuser_client, room_form(CinemaFactory()))

    assert not any("16" in message for message in messages_of(response))


def test_the_change_page_draws_the_saved_layout(superuser_client):
    response = add(
        superuser_client,
        room_form(CinemaFactory(), rows=2, seats_per_row=3, cells=["s.w", "bcs"], labels="A1=X1"),
    )
    room = Room.objects.get()

    form = superuser_client.get(url(Room, "change", room.pk)).context["adminform"].form

    assert response.status_code == 302
    assert (form.initial["rows"], form.initial["seats_per_row"]) == (2, 3)
    assert json.loads(form.initial["cells"]) == ["s.w", "bcs"]
    assert form.initial["labels"] == "A1=X1"


def post(client, page_url: str, data: dict):
    """Post an admin page as a browser does: with the management forms and hidden ids of its
    inlines (the read-only list of a room's sessions)."""
    page = client.get(page_url)
    for inline in page.context["inline_admin_formsets"]:
        management = inline.formset.management_form
        data = data | {management.add_prefix(k): v for k, v in management.initial.items()}
        for form in inline.formset.forms:
            data |= {field.html_name: field.value() for field in form.hidden_fields()}
    return client.post(page_url, data, follow=False)


def add(client, data: dict):
    return post(client, url(Room, "add"), data)


def edit(client, room: Room, **changes):
    """Post the room's change page as it is drawn, with `changes`."""
    form = client.get(url(Room, "change", room.pk)).context["adminform"].form
    drawn = ("rows", "seats_per_row", "cells", "labels")
    data = {"name": room.name, **{name: form.initial.get(name, "") for name in drawn}}
    data.update({k: json.dumps(v) if k == "cells" else v for k, v in changes.items()})
    return post(client, url(Room, "change", room.pk), data)


def test_a_room_without_sessions_changes_its_whole_layout(superuser_client):
    room = make_room(rows=2, seats_per_row=3)
    kept = room.seats.get(label="A1").pk

    response = edit(
        superuser_client,
        room,
        cells=["sss.", "wssb", "ssss"],
        rows=3,
        seats_per_row=4,
        labels="B2=VIP",
    )

    assert response.status_code == 302, form_errors(response)
    seats = seats_of(room)
    assert len(seats) == 11
    assert (seats["B1"], seats["B4"], seats["VIP"]) == ("wheelchair", "blocked", "standard")
    assert "B2" not in seats
    assert room.seats.get(label="A1").pk == kept


def test_a_room_with_sessions_changes_categories_only_and_sessions_keep_theirs(superuser_client):
    session = make_session()
    room = session.room

    response = edit(superuser_client, room, seat_lists="wheelchair: A1")

    assert response.status_code == 302, form_errors(response)
    assert seats_of(room)["A1"] == "wheelchair"
    assert session.seats.get(seat__label="A1").category == "standard"


@pytest.mark.parametrize(
    "changes",
    [{"seat_lists": "aisle: A1"}, {"labels": "A1=VIP"}, {"rows": 5, "cells": ["sssss"] * 5}],
    ids=["remove", "relabel", "add"],
)
def test_a_room_with_sessions_keeps_its_seats(superuser_client, changes):
    session = make_session()
    room = session.room
    before = list(room.seats.values_list("pk", "label", "category"))

    response = edit(superuser_client, room, **changes)

    assert form_errors(response) == {
        "cells": [
            "Esta sala tem sessões, que vendem os seus assentos: não é mais possível incluir, "
            "remover ou renomear assentos. Só as categorias podem mudar."
        ]
    }
    assert list(room.seats.values_list("pk", "label", "category")) == before


def test_a_layout_no_grid_draws_is_shown_and_only_renamed(superuser_client):
    positions = [SeatPosition(row, number) for row in ("A", "AA") for number in range(1, 11)]
    room = room_services.room_create(cinema=CinemaFactory(), name="Sala API", positions=positions)

    response = post(superuser_client, url(Room, "change", room.pk), {"name": "Sala Nova"})

    assert response.status_code == 302, form_errors(response)
    room.refresh_from_db()
    assert room.name == "Sala Nova"
    assert sorted(room.seats.values_list("label", flat=True)) == sorted(p.label for p in positions)
