"""Scheduling, correcting and cancelling sessions in the admin, with the Django test client
against PostgreSQL: the same service rules as the API, errors a person can act on, at their
field, in pt-BR (the default language)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from unittest.mock import patch

import pytest
from django.utils import timezone

from apps.bookings import services as booking_services
from apps.rooms.models import Cinema
from apps.sessions.models import Session
from tests.factories import (
    CinemaFactory,
    MovieFactory,
    UserFactory,
    hold,
    make_room,
    make_session,
)
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


def test_before_the_first_hold_time_room_and_price_are_corrected(superuser_client):
    session = make_session()
    room = make_room(cinema=session.room.cinema)
    later = session.starts_at + timedelta(days=1)
    assert (
        'name="price"' in superuser_client.get(url(Session, "change", session.pk)).content.decode()
    )

    response = superuser_client.post(
        url(Session, "change", session.pk),
        session_form(movie=session.movie, room=room, starts_at=later, price="32.00"),
        follow=True,
    )

    assert response.status_code == 200
    session.refresh_from_db()
    assert (session.room, session.price) == (room, Decimal("32.00"))
    assert session.starts_at == later.replace(second=0, microsecond=0)
    assert set(session.seats.values_list("seat__room", flat=True)) == {room.pk}
    assert [m.level_tag for m in response.context["messages"]] == ["success"]


@pytest.mark.parametrize("when", ["past", "overlap"])
def test_a_correction_follows_the_rules_of_a_new_session(superuser_client, when):
    session = make_session()
    if when == "past":
        starts_at = timezone.now() - timedelta(hours=1)
        error = "Uma sessão não pode começar no passado."
    else:
        other = make_session(room=session.room, starts_at=session.starts_at + timedelta(hours=4))
        starts_at = other.starts_at + timedelta(minutes=30)
        error = "A sala já tem uma sessão nesse horário."

    response = superuser_client.post(
        url(Session, "change", session.pk),
        session_form(movie=session.movie, room=session.room, starts_at=starts_at),
    )

    assert form_errors(response) == {"starts_at": [error]}
    assert Session.objects.get(pk=session.pk).starts_at == session.starts_at


def test_after_the_first_hold_the_page_is_read_only(superuser_client):
    session = make_session()
    hold(UserFactory(), session, count=1)

    page = superuser_client.get(url(Session, "change", session.pk)).content.decode()
    response = superuser_client.post(
        url(Session, "change", session.pk),
        session_form(movie=session.movie, room=session.room, starts_at=session.starts_at),
    )

    assert 'name="price"' not in page
    assert response.status_code == 403
    assert Session.objects.get(pk=session.pk).price == session.price


def test_a_hold_made_while_the_form_is_open_wins_and_nothing_is_saved(superuser_client):
    session = make_session()
    assert superuser_client.get(url(Session, "change", session.pk)).status_code == 200

    def hold_first(**terms):
        hold(UserFactory(), session, count=1)
        return original(**terms)

    original = booking_services.session_correct
    with patch.object(booking_services, "session_correct", hold_first):
        response = superuser_client.post(
            url(Session, "change", session.pk),
            {
                **session_form(movie=session.movie, room=session.room, starts_at=session.starts_at),
                "price": "40.00",
            },
            follow=True,
        )

    messages = [str(m) for m in response.context["messages"]]
    assert messages == [
        "Assentos desta sessão já foram reservados ou vendidos: agora ela só pode ser cancelada."
    ]
    assert Session.objects.get(pk=session.pk).price == session.price
