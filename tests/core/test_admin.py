"""The Django admin works for every model the apps register."""

import pytest
from django.contrib import admin
from django.urls import reverse

from apps.rooms import services as room_services
from apps.rooms.layout import grid
from apps.rooms.models import Room
from tests.factories import CinemaFactory, MovieFactory, UserFactory, make_room, make_session

pytestmark = pytest.mark.django_db

FOUNDATION_MODELS = {
    "accounts.user",
    "catalog.movie",
    "rooms.cinema",
    "rooms.room",
    "screenings.session",
}


def registered_app_models() -> list:
    return sorted(
        (model for model in admin.site._registry if model.__module__.startswith("apps.")),
        key=lambda model: model._meta.label_lower,
    )


@pytest.fixture
def admin_client(client):
    superuser = UserFactory(is_staff=True, is_superuser=True)
    client.force_login(superuser)
    # Something on every changelist.
    make_session()
    MovieFactory()
    make_room()
    return client


def url(model, page: str, *args) -> str:
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{page}", args=args)


def test_foundation_models_are_registered():
    labels = {model._meta.label_lower for model in registered_app_models()}

    assert labels >= FOUNDATION_MODELS


@pytest.mark.parametrize("model", registered_app_models(), ids=lambda m: m._meta.label_lower)
def test_changelist_renders(admin_client, model):
    response = admin_client.get(url(model, "changelist"))

    assert response.status_code == 200


@pytest.mark.parametrize(
    "model",
    [m for m in registered_app_models() if m._meta.label_lower in FOUNDATION_MODELS],
    ids=lambda m: m._meta.label_lower,
)
def test_add_page_renders(admin_client, model):
    response = admin_client.get(url(model, "add"))

    assert response.status_code == 200


def test_room_change_page_shows_the_seat_layout(admin_client):
    room = make_room(rows=2, seats_per_row=3)

    response = admin_client.get(url(type(room), "change", room.pk))

    assert response.status_code == 200
    html = response.content.decode()
    assert "━━━" in html  # the screen line
    for row in "AB":
        assert " ".join(f"[{row + str(n):>4} ]" for n in range(1, 4)) in html  # [  A1 ] [  A2 ]...


def test_the_seat_layout_marks_each_category(admin_client):
    room = room_services.room_create(
        cinema=CinemaFactory(),
        name="Sala 7",
        positions=grid(1, 4),
        categories={"A1": "wheelchair", "A2": "companion", "A4": "blocked"},
    )

    html = admin_client.get(url(Room, "change", room.pk)).content.decode()

    assert "[  A1♿] [  A2+] [  A3 ] [  A4✕]" in html


def test_admin_search_and_filters(admin_client):
    session = make_session()

    response = admin_client.get(
        url(type(session), "changelist"), {"q": session.room.name, "status": "scheduled"}
    )

    assert response.status_code == 200
    assert session.room.cinema.name in response.content.decode()


def test_anonymous_is_sent_to_login(client):
    response = client.get(reverse("admin:rooms_room_changelist"))

    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]


def test_room_and_movie_pages_list_their_sessions_inline(admin_client):
    session = make_session()

    for obj in (session.room, session.movie):
        response = admin_client.get(url(type(obj), "change", obj.pk))
        assert response.status_code == 200
        inline = next(
            formset
            for formset in response.context["inline_admin_formsets"]
            if formset.formset.model is type(session)
        )
        assert [form.original for form in inline] == [session]
