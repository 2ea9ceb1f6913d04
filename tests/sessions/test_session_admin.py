"""Scheduling, correcting and cancelling sessions in the admin, with the Django test client
against PostgreSQL: the same service rules as the API, errors a person can act on, at their
field, in pt-BR (the default language)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from apps.rooms.models import Cinema
from apps.sessions.models import Session
from tests.factories import CinemaFactory, MovieFactory, make_room, make_session
from tests.helpers import admin_url as url

pytestmark = pytest.mark.django_db


def start_fields(value) -> dict[str, str]:
    """The admin's split date and time inputs, in the cinema's (here São Paulo's) time."""
    local = timezone.localtime(value)
    return {"starts_at_0": local.strftime("%d/%m/%Y"), "starts_at_1": local.strftime("%H:%M")}


def session_form(*, movie, room, starts_at, price="25.00") -> dict[str, str]:
    return {"movie": movie.pk, "room": room.pk, "price": price, **start_fields(starts_at)}


def form_errors(response) -> dict[str, list[str]]:
    assert response.status_code == 200, "the form was accepted"
    form = response.context["adminform"].form
    return {field: list(errors) for field, errors in form.errors.items()}


@pytest.mark.parametrize("price", ["-5", "0"])
def test_a_price_not_above_zero_is_refused_at_the_price(superuser_client, price):
    room = make_room()
    starts_at = timezone.now() + timedelta(days=2)

    response = superuser_client.post(
        url(Session, "add"),
        session_form(movie=MovieFactory(), room=room, starts_at=starts_at, price=price),
    )

    assert form_errors(response) == {"price": ["O preço deve ser maior que zero."]}
    assert "screenings_session" not in response.content.decode()
    assert not Session.objects.exists()


def test_an_overlapping_session_is_refused_at_the_start(superuser_client):
    existing = make_session()

    response = superuser_client.post(
        url(Session, "add"),
        session_form(
            movie=MovieFactory(),
            room=existing.room,
            starts_at=existing.starts_at + timedelta(minutes=30),
        ),
    )

    assert form_errors(response) == {"starts_at": ["A sala já tem uma sessão nesse horário."]}
    assert Session.objects.count() == 1


def test_a_cinema_named_like_another_in_its_city_is_refused_at_the_name(superuser_client):
    CinemaFactory(name="Cine Centro", city="Recife")

    response = superuser_client.post(
        url(Cinema, "add"),
        {
            "name": "Cine Centro",
            "city": "Recife",
            "timezone": "America/Recife",
            "rooms-TOTAL_FORMS": "0",
            "rooms-INITIAL_FORMS": "0",
        },
    )

    assert form_errors(response) == {"name": ["Já existe um cinema com este nome nesta cidade."]}
    assert Cinema.objects.count() == 1
