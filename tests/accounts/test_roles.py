"""Staff roles: what each group may do through the API and the admin, with a real login, and the
migration that put the staff of before (`is_staff`, every power) into all three."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.auth.models import Group, Permission
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.urls import reverse
from django.utils import timezone

from apps.accounts.models import User
from apps.accounts.roles import BOX_OFFICE, CATALOGUE, DOOR, ROLES, permissions_of, role_group
from apps.catalog.models import Movie
from apps.payments.models import Sale
from apps.rooms.models import Cinema, Room
from apps.sessions.models import Session
from tests.assertions import assert_problem, db_state
from tests.conftest import client_for
from tests.factories import (
    PASSWORD,
    BoxOfficeFactory,
    CatalogueManagerFactory,
    DoorFactory,
    MovieFactory,
    SuperuserFactory,
    UserFactory,
    hold,
    make_sale,
    make_session,
)
from tests.payments.helpers import state as payments_state

pytestmark = pytest.mark.django_db

ROLE_FACTORIES = {
    "buyer": UserFactory,
    "door": DoorFactory,
    "box office": BoxOfficeFactory,
    "catalogue": CatalogueManagerFactory,
}


@pytest.fixture
def world(db):
    """A buyer with a sale (and its ticket) and a pending hold, in a session that starts in half
    an hour: the door is open, the buyer's own refund window closed, the box office's not."""
    buyer = UserFactory()
    session = make_session(starts_at=timezone.now() + timedelta(minutes=30))
    sale = make_sale(user=buyer, session=session)
    reservation = hold(buyer, session, count=2, offset=5)
    movie = MovieFactory()  # no sessions: may be deleted
    return {
        "buyer": buyer,
        "session": session,
        "sale": sale,
        "ticket": sale.tickets.get(),
        "payment_id": sale.payment_id,
        "reservation": reservation,
        "movie": movie,
        "cinema": session.room.cinema,
        "room": session.room,
    }


def snapshot() -> dict:
    """Every row a rejected call must leave as it was: catalogue, users, payments, sales,
    tickets, reservations, events."""
    return {**db_state(), **payments_state(), "sessions": _sessions()}


def _sessions() -> list:
    return sorted(Session.objects.values_list("id", "status", "price", "starts_at"))


def catalogue_writes(world) -> list[tuple[str, str, dict | None]]:
    movie, cinema, room, session = world["movie"], world["cinema"], world["room"], world["session"]
    starts_at = (timezone.now() + timedelta(days=3)).isoformat()
    return [
        ("post", "/api/v1/movies", {"title": "Novo", "duration_minutes": 90}),
        ("patch", f"/api/v1/movies/{movie.id}", {"duration_minutes": 95}),
        ("delete", f"/api/v1/movies/{movie.id}", None),
        ("post", "/api/v1/cinemas", {"name": "Cine Novo", "city": "Recife"}),
        ("patch", f"/api/v1/cinemas/{cinema.id}", {"city": "Recife"}),
        (
            "post",
            "/api/v1/rooms",
            {"cinema": cinema.id, "name": "X", "rows": 4, "seats_per_row": 5},
        ),
        ("patch", f"/api/v1/rooms/{room.id}", {"name": "Renamed"}),
        (
            "post",
            "/api/v1/sessions",
            {"movie": movie.id, "room": room.id, "starts_at": starts_at, "price": "30.00"},
        ),
        ("patch", f"/api/v1/sessions/{session.id}", {"price": "1.00"}),
        ("delete", f"/api/v1/sessions/{session.id}", None),
        ("post", f"/api/v1/sessions/{session.id}/cancel", None),
    ]


def box_office_calls(world) -> list[tuple[str, str]]:
    """Reads of other people's things that need a box-office permission (403 without it)."""
    return [
        ("get", f"/api/v1/users/{world['buyer'].id}/purchases"),
        ("get", f"/api/v1/sessions/{world['session'].id}/stats"),
    ]


def others_things(world) -> list[tuple[str, str]]:
    """Someone else's objects: 404 to whoever may not see them, as if they did not exist."""
    return [
        ("get", f"/api/v1/reservations/{world['reservation'].id}"),
        ("get", f"/api/v1/payments/{world['payment_id']}"),
        ("post", f"/api/v1/sales/{world['sale'].id}/refund"),
    ]


def call(client, method: str, path: str, body: dict | None = None):
    return getattr(client, method)(path, body, format="json")


# --- the API, role by role --------------------------------------------------------------------


@pytest.mark.parametrize("role", ["buyer", "door", "box office"])
def test_only_catalogue_managers_write_the_catalogue(world, role):
    client = client_for(ROLE_FACTORIES[role]())
    before = snapshot()

    for method, path, body in catalogue_writes(world):
        response = call(client, method, path, body)
        assert_problem(response, 403, "permission_denied")

    assert snapshot() == before


@pytest.mark.parametrize("role", ["buyer", "door", "catalogue"])
def test_only_the_box_office_reads_purchases_and_statistics(world, role):
    client = client_for(ROLE_FACTORIES[role]())

    for method, path in box_office_calls(world):
        assert_problem(call(client, method, path), 403, "permission_denied")


@pytest.mark.parametrize("role", ["buyer", "door", "catalogue"])
def test_other_peoples_reservations_payments_and_sales_are_not_found(world, role):
    client = client_for(ROLE_FACTORIES[role]())
    before = snapshot()

    for method, path in others_things(world):
        assert_problem(call(client, method, path), 404, "not_found")

    assert snapshot() == before


def test_the_door_checks_tickets_in_and_nothing_else(world):
    door = client_for(DoorFactory())
    ticket = world["ticket"]

    response = door.post("/api/v1/checkins", {"code": ticket.code}, format="json")

    assert response.status_code == 200, response.content
    assert response.json()["ticket"]["id"] == str(ticket.id)
    ticket.refresh_from_db()
    assert ticket.checked_in_at is not None
    # It may show a ticket's QR (view_ticket), and nothing of the box office.
    assert door.get(f"/api/v1/tickets/{ticket.id}/qr.svg").status_code == 200
    assert not door.user.has_perm("payments.view_sale")


@pytest.mark.parametrize("role", ["buyer", "box office", "catalogue"])
def test_only_the_door_checks_in(world, role):
    client = client_for(ROLE_FACTORIES[role]())
    before = snapshot()

    response = client.post("/api/v1/checkins", {"code": world["ticket"].code}, format="json")

    assert_problem(response, 403, "permission_denied")
    assert snapshot() == before


def test_the_box_office_refunds_anyones_sale_until_the_session_starts(world):
    sale = world["sale"]
    owner = client_for(world["buyer"])
    box_office = client_for(BoxOfficeFactory())

    # 30 minutes before: past the buyer's own deadline (120), not the box office's.
    assert_problem(owner.post(f"/api/v1/sales/{sale.id}/refund"), 409, "refund_window_closed")
    response = box_office.post(f"/api/v1/sales/{sale.id}/refund")

    assert response.status_code == 200, response.content
    assert response.json()["status"] == "refunded"
    assert Sale.objects.get(pk=sale.pk).status == Sale.Status.REFUNDED


def test_the_box_office_reads_anyones_things_but_cannot_change_the_catalogue(world):
    client = client_for(BoxOfficeFactory())
    buyer, sale = world["buyer"], world["sale"]

    purchases = client.get(f"/api/v1/users/{buyer.id}/purchases")
    assert purchases.status_code == 200
    assert [item["id"] for item in purchases.json()["results"]] == [str(sale.id)]
    assert client.get(f"/api/v1/sessions/{world['session'].id}/stats").status_code == 200
    assert client.get(f"/api/v1/reservations/{world['reservation'].id}").status_code == 200
    assert client.get(f"/api/v1/payments/{world['payment_id']}").status_code == 200
    assert client.get(f"/api/v1/tickets/{world['ticket'].id}/qr.svg").status_code == 200

    before = snapshot()
    response = client.post("/api/v1/movies", {"title": "X", "duration_minutes": 90}, format="json")
    assert_problem(response, 403, "permission_denied")
    assert snapshot() == before


def test_the_catalogue_manager_runs_the_catalogue_and_cancels_sessions(world):
    client = client_for(CatalogueManagerFactory())
    starts_at = timezone.now() + timedelta(days=3)

    movie = client.post("/api/v1/movies", {"title": "Novo", "duration_minutes": 90}, format="json")
    cinema = client.post("/api/v1/cinemas", {"name": "Cine N", "city": "Recife"}, format="json")
    assert movie.status_code == 201, movie.content
    assert cinema.status_code == 201, cinema.content
    room = client.post(
        "/api/v1/rooms",
        {"cinema": cinema.json()["id"], "name": "Sala N", "rows": 4, "seats_per_row": 5},
        format="json",
    )
    assert room.status_code == 201, room.content
    session = client.post(
        "/api/v1/sessions",
        {
            "movie": movie.json()["id"],
            "room": room.json()["id"],
            "starts_at": starts_at.isoformat(),
            "price": "30.00",
        },
        format="json",
    )
    assert session.status_code == 201, session.content
    assert Session.objects.get(pk=session.json()["id"]).price == Decimal("30.00")
    renamed = client.patch(f"/api/v1/rooms/{room.json()['id']}", {"name": "Sala M"}, format="json")
    assert renamed.status_code == 200
    assert Room.objects.get(pk=room.json()["id"]).name == "Sala M"
    assert client.delete(f"/api/v1/movies/{world['movie'].id}").status_code == 204
    assert not Movie.objects.filter(pk=world["movie"].id).exists()

    cancelled = client.post(f"/api/v1/sessions/{world['session'].id}/cancel")
    assert cancelled.status_code == 202, cancelled.content
    assert Session.objects.get(pk=world["session"].id).status == Session.Status.CANCELLED


def test_anonymous_writes_are_401_and_change_nothing(world, api):
    before = snapshot()

    for method, path, body in catalogue_writes(world):
        assert_problem(call(api, method, path, body), 401, "not_authenticated")

    assert snapshot() == before


def test_a_superuser_may_do_everything_without_any_group(world):
    superuser = SuperuserFactory()
    assert not superuser.groups.exists()
    client = client_for(superuser)

    assert client.get(f"/api/v1/users/{world['buyer'].id}/purchases").status_code == 200
    assert client.get(f"/api/v1/reservations/{world['reservation'].id}").status_code == 200
    movie = client.post("/api/v1/movies", {"title": "S", "duration_minutes": 90}, format="json")
    assert movie.status_code == 201
    assert client.post(f"/api/v1/sales/{world['sale'].id}/refund").status_code == 200
    checkin = client.post("/api/v1/checkins", {"code": world["ticket"].code}, format="json")
    assert_problem(checkin, 409, "ticket_void")  # refunded just above: allowed, but void
    assert client.post(f"/api/v1/sessions/{world['session'].id}/cancel").status_code == 202


def test_is_staff_alone_gives_no_power_in_the_api(world):
    client = client_for(UserFactory(is_staff=True))
    before = snapshot()

    response = client.post("/api/v1/movies", {"title": "X", "duration_minutes": 90}, format="json")

    assert_problem(response, 403, "permission_denied")
    assert_problem(
        client.get(f"/api/v1/users/{world['buyer'].id}/purchases"), 403, "permission_denied"
    )
    assert snapshot() == before


def test_the_schema_keeps_catalogue_reads_open_and_names_the_role_of_writes(client):
    schema = client.get("/api/schema/", {"format": "json"}).json()
    movies = schema["paths"]["/api/v1/movies"]

    assert "security" not in movies["get"]  # public: no padlock in Swagger UI
    assert movies["post"]["security"] == [{"SessionToken": []}]
    assert "catalogue managers" in movies["post"]["summary"]
    cancel = schema["paths"]["/api/v1/sessions/{session_id}/cancel"]["post"]
    assert cancel["security"] == [{"SessionToken": []}]


# --- the admin ----------------------------------------------------------------------------------


def admin_login(client, user) -> None:
    response = client.post(
        reverse("admin:login"), {"username": user.email, "password": PASSWORD, "next": "/admin/"}
    )
    assert response.status_code == 302, response.content
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"


def changelist(model) -> str:
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")


def test_the_door_sees_only_tickets_and_sessions_in_the_admin(client, world):
    from apps.payments.models import Ticket

    admin_login(client, DoorFactory())

    index = client.get(reverse("admin:index")).content.decode()

    # Sessions: their pages say how many tickets are in.
    assert changelist(Ticket) in index
    assert changelist(Session) in index
    for model in (Movie, Cinema, Room, Sale, User):
        assert changelist(model) not in index
    assert client.get(changelist(Movie)).status_code == 403
    assert client.get(changelist(Ticket)).status_code == 200


def test_the_catalogue_manager_sees_the_catalogue_but_not_the_sales(client, world):
    admin_login(client, CatalogueManagerFactory())

    index = client.get(reverse("admin:index")).content.decode()

    for model in (Movie, Cinema, Room, Session):
        assert changelist(model) in index
    assert changelist(Sale) not in index
    assert client.get(changelist(Movie)).status_code == 200
    assert client.get(changelist(Sale)).status_code == 403
    assert "cancel_sessions" in actions(client, Session)


def actions(client, model) -> set[str]:
    response = client.get(changelist(model))
    assert response.status_code == 200
    form = response.context["action_form"]  # None when the user may run no action at all
    return set() if form is None else {name for name, _ in form.fields["action"].choices if name}


def test_admin_actions_that_refund_or_cancel_need_their_permission(client, world):
    """Seeing sales and sessions is not enough to refund or cancel them."""
    viewer = UserFactory(is_staff=True)
    viewer.user_permissions.add(
        *[
            Permission.objects.get(content_type__app_label=label, codename=codename)
            for label, codename in [
                ("payments", "view_sale"),
                ("payments", "view_payment"),
                ("screenings", "view_session"),
            ]
        ]
    )
    admin_login(client, viewer)
    before = snapshot()

    assert "refund_sales" not in actions(client, Sale)
    assert "cancel_sessions" not in actions(client, Session)
    from apps.payments.models import Payment

    assert "retry_refunds" not in actions(client, Payment)
    client.post(
        changelist(Sale),
        {"action": "refund_sales", "_selected_action": [str(world["sale"].pk)]},
    )
    client.post(
        changelist(Session),
        {"action": "cancel_sessions", "_selected_action": [str(world["session"].pk)]},
    )
    assert snapshot() == before


def test_the_box_office_refunds_from_the_admin(client, world):
    admin_login(client, BoxOfficeFactory())

    assert {"refund_sales"} <= actions(client, Sale)
    client.post(
        changelist(Sale), {"action": "refund_sales", "_selected_action": [str(world["sale"].pk)]}
    )

    assert Sale.objects.get(pk=world["sale"].pk).status == Sale.Status.REFUNDED


def test_the_user_admin_shows_and_filters_by_group(client, world):
    manager = CatalogueManagerFactory()
    admin_login(client, SuperuserFactory())

    page = client.get(changelist(User), {"groups__id__exact": role_group(CATALOGUE).id})

    assert page.status_code == 200
    assert [user.email for user in page.context["cl"].result_list] == [manager.email]
    assert CATALOGUE.group_name in page.content.decode()


# --- the roles and their migration ------------------------------------------------------------


def test_role_groups_hold_exactly_their_permissions():
    for role in ROLES:
        group = role_group(role)
        held = {
            f"{label}.{codename}"
            for label, codename in group.permissions.values_list(
                "content_type__app_label", "codename"
            )
        }
        assert held == set(role.permissions)
    assert {DOOR.group_name, BOX_OFFICE.group_name, CATALOGUE.group_name} == set(
        Group.objects.values_list("name", flat=True)
    )


def test_a_role_naming_an_unknown_permission_is_an_error():
    from apps.accounts.roles import Role

    with pytest.raises(LookupError, match=r"payments\.fly_plane"):
        permissions_of(Role("Pilots", ("payments.view_sale", "payments.fly_plane")))


MIGRATION_BEFORE = ("accounts", "0001_initial")
MIGRATION = ("accounts", "0002_staff_roles")


def migrate(target) -> None:
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate([target])


def test_the_migration_gives_the_staff_of_before_every_role_and_they_keep_working(world):
    migrate(MIGRATION_BEFORE)
    assert not Group.objects.filter(name__in=[role.group_name for role in ROLES]).exists()
    # As on a database made before the roles: the custom permissions not made yet either.
    Permission.objects.filter(
        codename__in=["refund_sale", "check_in_ticket", "cancel_session"]
    ).delete()
    old_staff = UserFactory(is_staff=True)
    superuser = SuperuserFactory()
    buyer = UserFactory()

    migrate(MIGRATION)

    groups = {role.group_name: role for role in ROLES}
    for group in Group.objects.filter(name__in=groups):
        held = {
            f"{label}.{codename}"
            for label, codename in group.permissions.values_list(
                "content_type__app_label", "codename"
            )
        }
        assert held == set(groups.pop(group.name).permissions), group.name  # roles.py agrees
    assert groups == {}
    assert set(old_staff.groups.values_list("name", flat=True)) == {r.group_name for r in ROLES}
    assert not superuser.groups.exists()
    assert not buyer.groups.exists()

    # Through the API, as before the roles: the catalogue, refunds, others' purchases.
    client = client_for(User.objects.get(pk=old_staff.pk))
    movie = client.post("/api/v1/movies", {"title": "Old", "duration_minutes": 90}, format="json")
    assert movie.status_code == 201, movie.content
    purchases = client.get(f"/api/v1/users/{world['buyer'].id}/purchases")
    assert purchases.status_code == 200
    refund = client.post(f"/api/v1/sales/{world['sale'].id}/refund")
    assert refund.status_code == 200, refund.content
    assert client.post(f"/api/v1/sessions/{world['session'].id}/cancel").status_code == 202


def test_the_migration_reversed_removes_the_groups_only(world):
    staff = CatalogueManagerFactory()

    migrate(MIGRATION_BEFORE)

    assert not Group.objects.filter(name__in=[role.group_name for role in ROLES]).exists()
    assert User.objects.filter(pk=staff.pk, is_staff=True).exists()
    migrate(MIGRATION)
    assert Group.objects.filter(name__in=[role.group_name for role in ROLES]).count() == 3
