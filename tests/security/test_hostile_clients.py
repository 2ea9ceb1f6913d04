"""Hostile clients: other people's objects, writes without rights, bursts, spoofed addresses and
oversized input. Every refusal is a problem document and leaves the data as it was."""

from __future__ import annotations

import json
from collections import Counter

import pytest
from django.conf import settings as django_settings
from django.urls import reverse
from rest_framework.test import APIClient

from apps.bookings.models import Reservation
from apps.payments.models import Sale
from apps.rooms.models import Cinema
from tests.assertions import PROBLEM, assert_problem, db_state
from tests.concurrency import run_together
from tests.conftest import client_for, login
from tests.factories import CinemaFactory, MovieFactory, UserFactory, hold, make_room, make_sale
from tests.helpers import seat_ids

pytestmark = pytest.mark.django_db

RESERVATIONS = "/api/v1/reservations"


@pytest.fixture
def rates(settings):
    """Set some throttle rates for the test, keeping the others."""

    def set_rates(**overrides: str) -> None:
        rest = {**settings.REST_FRAMEWORK}
        rest["DEFAULT_THROTTLE_RATES"] = {**rest["DEFAULT_THROTTLE_RATES"], **overrides}
        settings.REST_FRAMEWORK = rest

    return set_rates


@pytest.fixture
def num_proxies(settings):
    """Set REST_FRAMEWORK["NUM_PROXIES"]; DRF's api_settings reload on the setting_changed signal,
    and SimpleRateThrottle.get_ident reads api_settings.NUM_PROXIES on every request."""

    def set_num_proxies(value: int) -> None:
        settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": value}

    return set_num_proxies


def assert_throttled(response) -> None:
    assert_problem(response, 429, "throttled")
    assert 1 <= int(response["Retry-After"]) <= 60


# --- Other users' reservations, payments and purchases -------------------------------------------


@pytest.fixture
def victim(db):
    return UserFactory()


@pytest.fixture
def victims_hold(victim, session) -> Reservation:
    return hold(victim, session, 2)


def test_another_users_reservation_is_404_to_read(user_api, victims_hold):
    missing = "00000000-0000-4000-8000-000000000000"

    response = user_api.get(f"{RESERVATIONS}/{victims_hold.id}")

    body = assert_problem(response, 404, "not_found")
    # Word for word what a reservation that does not exist gets: nothing leaks.
    unknown = user_api.get(f"{RESERVATIONS}/{missing}").json()
    assert {**body, "instance": None} == {**unknown, "instance": None}


def test_another_users_reservation_is_404_to_cancel_and_stays_held(user_api, victims_hold):
    response = user_api.delete(f"{RESERVATIONS}/{victims_hold.id}")

    assert_problem(response, 404, "not_found")
    victims_hold.refresh_from_db()
    assert victims_hold.status == Reservation.Status.PENDING


def test_another_users_reservation_is_404_to_pay_and_nothing_is_charged(user_api, victims_hold):
    response = user_api.post(
        f"{RESERVATIONS}/{victims_hold.id}/payment",
        {"token": "tok_visa"},
        HTTP_IDEMPOTENCY_KEY="hostile-1",
    )

    assert_problem(response, 404, "not_found")
    assert not Sale.objects.exists()
    victims_hold.refresh_from_db()
    assert victims_hold.status == Reservation.Status.PENDING


def test_another_users_paid_reservation_looks_the_same_as_a_missing_one(user_api, victim, session):
    """404, not 409 `already_confirmed`: the answer must not reveal that the id exists."""
    sale = make_sale(user=victim, session=session, seats=1)
    missing = "00000000-0000-4000-8000-000000000000"

    paid = user_api.post(f"{RESERVATIONS}/{sale.reservation_id}/payment", {"token": "tok_visa"})
    unknown = user_api.post(f"{RESERVATIONS}/{missing}/payment", {"token": "tok_visa"})

    assert_problem(paid, 404, "not_found")
    assert_problem(unknown, 404, "not_found")
    assert paid.json()["detail"] == unknown.json()["detail"]
    assert user_api.get(f"{RESERVATIONS}/{sale.reservation_id}").status_code == 404
    assert user_api.delete(f"{RESERVATIONS}/{sale.reservation_id}").status_code == 404


def test_staff_reads_but_cannot_cancel_or_pay_another_users_hold(staff_api, victims_hold):
    assert staff_api.get(f"{RESERVATIONS}/{victims_hold.id}").status_code == 200

    assert_problem(staff_api.delete(f"{RESERVATIONS}/{victims_hold.id}"), 404, "not_found")
    assert_problem(
        staff_api.post(f"{RESERVATIONS}/{victims_hold.id}/payment", {"token": "tok_visa"}),
        404,
        "not_found",
    )
    victims_hold.refresh_from_db()
    assert victims_hold.status == Reservation.Status.PENDING
    assert not Sale.objects.exists()


def test_anonymous_gets_401_on_reservations(api, victims_hold):
    for response in (
        api.get(f"{RESERVATIONS}/{victims_hold.id}"),
        api.delete(f"{RESERVATIONS}/{victims_hold.id}"),
        api.post(f"{RESERVATIONS}/{victims_hold.id}/payment", {"token": "tok_visa"}),
        api.post(RESERVATIONS, {"session": victims_hold.session_id, "seats": [1]}),
    ):
        assert_problem(response, 401, "not_authenticated")
        assert response["WWW-Authenticate"] == "X-Session-Token"
    victims_hold.refresh_from_db()
    assert victims_hold.status == Reservation.Status.PENDING


def test_a_forged_session_token_is_401_not_anonymous(api, victims_hold):
    api.credentials(HTTP_X_SESSION_TOKEN="forged-" + "x" * 32)

    assert_problem(api.get(f"{RESERVATIONS}/{victims_hold.id}"), 401, "authentication_failed")
    assert_problem(api.get("/api/v1/movies"), 401, "authentication_failed")


def test_my_purchases_never_show_another_users_sales(user_api, victim, session):
    make_sale(user=victim, session=session, seats=2)

    response = user_api.get("/api/v1/me/purchases")

    assert response.status_code == 200
    assert response.json()["results"] == []


@pytest.mark.parametrize(
    "path", ["/api/v1/users/{user}/purchases", "/api/v1/sessions/{session}/stats"]
)
def test_staff_reports_refuse_users_and_anonymous(api, user_api, user, session, path):
    make_sale(user=user, session=session, seats=1)
    url = path.format(user=user.id, session=session.id)

    assert_problem(user_api.get(url), 403, "permission_denied")
    assert_problem(api.get(url), 401, "not_authenticated")


# --- Catalogue writes ---------------------------------------------------------------------------


@pytest.fixture
def catalogue(session):
    cinema = session.room.cinema
    return {
        "movie": session.movie,
        "cinema": cinema,
        "room": session.room,
        "session": session,
        "free_room": make_room(cinema=cinema, name="Sala livre"),
    }


def catalogue_writes(objects) -> list[tuple[str, str, dict | None]]:
    movie, cinema, room, session = (objects[k] for k in ("movie", "cinema", "room", "session"))
    return [
        ("post", "/api/v1/movies", {"title": "Hack", "duration_minutes": 90}),
        ("patch", f"/api/v1/movies/{movie.id}", {"title": "Hacked"}),
        ("delete", f"/api/v1/movies/{MovieFactory().id}", None),
        ("post", "/api/v1/cinemas", {"name": "Hack", "city": "Recife"}),
        ("patch", f"/api/v1/cinemas/{cinema.id}", {"name": "Hacked"}),
        (
            "post",
            "/api/v1/rooms",
            {"cinema": cinema.id, "name": "H", "rows": 4, "seats_per_row": 5},
        ),
        ("patch", f"/api/v1/rooms/{room.id}", {"name": "Hacked"}),
        (
            "post",
            "/api/v1/sessions",
            {
                "movie": movie.id,
                "room": objects["free_room"].id,
                "starts_at": "2099-01-01T20:00:00Z",
                "price": "1.00",
            },
        ),
        ("post", f"/api/v1/sessions/{session.id}/cancel", None),
    ]


@pytest.mark.parametrize("who", ["user", "anonymous"])
def test_catalogue_writes_refuse_non_staff_and_change_nothing(who, user_api, api, catalogue):
    client, status, code = (
        (user_api, 403, "permission_denied") if who == "user" else (api, 401, "not_authenticated")
    )
    writes = catalogue_writes(catalogue)
    before = db_state()

    for method, url, body in writes:
        response = getattr(client, method)(url, body, format="json")
        assert response.status_code == status, f"{method.upper()} {url}: {response.content}"
        assert_problem(response, status, code)

    assert db_state() == before


def test_staff_may_do_the_same_catalogue_writes(staff_api, catalogue):
    for method, url, body in catalogue_writes(catalogue):
        response = getattr(staff_api, method)(url, body, format="json")
        assert response.status_code in (200, 201, 202, 204), (
            f"{method.upper()} {url}: {response.content}"
        )


# --- Throttling -----------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_concurrent_burst_from_one_user_gets_only_its_quota(rates, session):
    """Twelve simultaneous reservation attempts against a limit of 4: at most 4 get through, the
    rest are 429 with Retry-After, and nothing past the quota is held."""
    rates(reservations="4/min")
    user = UserFactory()
    token = login(APIClient(), user.email)
    seats = seat_ids(session, 12)

    def attempt(seat: int):
        def call():
            client = APIClient()
            client.credentials(HTTP_X_SESSION_TOKEN=token)
            return client.post(RESERVATIONS, {"session": session.id, "seats": [seat]})

        return call

    responses = run_together([attempt(seat) for seat in seats])

    statuses = Counter(r.status_code for r in responses)
    assert set(statuses) <= {201, 429}, responses
    assert 1 <= statuses[201] <= 4, statuses
    for response in responses:
        if response.status_code == 429:
            assert_throttled(response)
    assert Reservation.objects.filter(user=user).count() == statuses[201]


def test_burst_from_one_user_is_429_with_retry_after(rates, user_api, session):
    rates(reservations="3/min")
    seats = seat_ids(session, 6)
    created = [
        user_api.post(RESERVATIONS, {"session": session.id, "seats": [seat]}) for seat in seats[:3]
    ]
    assert [r.status_code for r in created] == [201, 201, 201]
    first = created[0].json()["id"]

    for seat in seats[3:]:
        assert_throttled(user_api.post(RESERVATIONS, {"session": session.id, "seats": [seat]}))
        # Payment and cancellation share the quota: a throttled user cannot pay or cancel either.
        assert_throttled(user_api.post(f"{RESERVATIONS}/{first}/payment", {"token": "tok_visa"}))
        assert_throttled(user_api.delete(f"{RESERVATIONS}/{first}"))
    # Reads are not counted.
    assert user_api.get(f"{RESERVATIONS}/{first}").status_code == 200
    assert Reservation.objects.count() == 3
    assert not Sale.objects.exists()


def test_with_redis_down_throttles_fail_open_fast(rates, settings, user_api, session):
    """Redis is a fast path, never a dependency: without it requests pass, unthrottled."""
    from tests.conftest import DEAD_REDIS_URL, point_cache_at

    rates(reservations="1/min", user="1/min")
    point_cache_at(settings, DEAD_REDIS_URL)
    seats = seat_ids(session, 3)

    statuses = [
        user_api.post(RESERVATIONS, {"session": session.id, "seats": [seat]}).status_code
        for seat in seats
    ]

    assert statuses == [201, 201, 201]


PROXY_HOP = "203.0.113.7"  # the client address nginx appends to X-Forwarded-For


def test_behind_one_proxy_the_ip_limit_keys_on_the_hop_the_proxy_added(rates, num_proxies, api):
    num_proxies(1)
    rates(anon="3/min")
    # The client writes whatever it likes into X-Forwarded-For; the proxy appends the real peer.
    spoofed = [f"10.9.8.{n}, {PROXY_HOP}" for n in range(6)]

    statuses = [
        api.get("/api/v1/movies", HTTP_X_FORWARDED_FOR=xff, REMOTE_ADDR="172.18.0.5").status_code
        for xff in spoofed[:3]
    ]
    assert statuses == [200, 200, 200]
    for xff in spoofed[3:]:
        assert_throttled(
            api.get("/api/v1/movies", HTTP_X_FORWARDED_FOR=xff, REMOTE_ADDR="172.18.0.5")
        )

    # Another real client behind the same proxy (same REMOTE_ADDR) has a counter of its own.
    other = api.get(
        "/api/v1/movies", HTTP_X_FORWARDED_FOR="198.51.100.20", REMOTE_ADDR="172.18.0.5"
    )
    assert other.status_code == 200


def test_behind_one_proxy_the_reservation_ip_limit_spans_users(rates, num_proxies, session):
    num_proxies(1)
    rates(reservations_ip="2/min")
    seats = seat_ids(session, 3)
    clients = [client_for(u) for u in UserFactory.create_batch(3)]
    behind_proxy = {"REMOTE_ADDR": "172.18.0.5"}

    for index, client in enumerate(clients[:2]):
        response = client.post(
            RESERVATIONS,
            {"session": session.id, "seats": [seats[index]]},
            HTTP_X_FORWARDED_FOR=f"10.0.0.{index}, {PROXY_HOP}",
            **behind_proxy,
        )
        assert response.status_code == 201, response.content

    assert_throttled(
        clients[2].post(
            RESERVATIONS,
            {"session": session.id, "seats": [seats[2]]},
            HTTP_X_FORWARDED_FOR=f"10.0.0.99, {PROXY_HOP}",
            **behind_proxy,
        )
    )


def test_without_a_proxy_a_client_sent_x_forwarded_for_is_ignored(rates, num_proxies, api):
    num_proxies(0)
    rates(anon="3/min")

    statuses = [
        api.get(
            "/api/v1/movies", HTTP_X_FORWARDED_FOR=f"198.51.100.{n}", REMOTE_ADDR="192.0.2.10"
        ).status_code
        for n in range(3)
    ]
    assert statuses == [200, 200, 200]
    # Rotating the header does not dodge the limit: the socket peer is the key.
    for n in range(3, 6):
        assert_throttled(
            api.get(
                "/api/v1/movies", HTTP_X_FORWARDED_FOR=f"198.51.100.{n}", REMOTE_ADDR="192.0.2.10"
            )
        )
    assert api.get("/api/v1/movies", REMOTE_ADDR="192.0.2.11").status_code == 200


def test_the_configured_proxy_count_is_what_the_throttles_read(num_proxies):
    from rest_framework.settings import api_settings

    num_proxies(1)
    assert api_settings.NUM_PROXIES == 1
    num_proxies(0)
    assert api_settings.NUM_PROXIES == 0


# --- Oversized input ----------------------------------------------------------------------------


def test_settings_bound_request_bodies():
    assert django_settings.DATA_UPLOAD_MAX_MEMORY_SIZE == 1024 * 1024


def test_a_body_over_the_limit_is_a_400_problem_not_a_500(staff_api):
    body = json.dumps({"name": "x" * (2 * 1024 * 1024), "city": "Recife"})
    before = db_state()

    response = staff_api.post("/api/v1/cinemas", body, content_type="application/json")

    assert_problem(response, 400, "bad_request")
    assert db_state() == before


def test_a_body_just_under_the_limit_is_parsed(staff_api):
    body = json.dumps({"name": "x" * (900 * 1024), "city": "Recife"})

    response = staff_api.post("/api/v1/cinemas", body, content_type="application/json")

    # Parsed, then refused by validation (name is at most 120 characters).
    body = assert_problem(response, 400, "invalid")
    assert body["errors"][0]["field"] == "name"


def test_an_oversized_login_body_is_a_400_problem(api):
    body = json.dumps({"email": "a@example.com", "password": "x" * (2 * 1024 * 1024)})

    response = api.post("/_allauth/app/v1/auth/login", body, content_type="application/json")

    assert response.status_code == 400
    assert response["Content-Type"] == PROBLEM


def test_more_than_100_seats_is_refused_by_the_serializer(user_api, session):
    response = user_api.post(RESERVATIONS, {"session": session.id, "seats": list(range(1, 102))})

    body = assert_problem(response, 400, "invalid")
    assert body["errors"][0]["field"] == "seats"
    assert body["errors"][0]["code"] == "max_length"
    assert not Reservation.objects.exists()


def test_more_seats_than_a_reservation_may_hold_is_refused(user_api, session):
    seats = seat_ids(session, django_settings.MAX_SEATS_PER_RESERVATION + 1)

    response = user_api.post(RESERVATIONS, {"session": session.id, "seats": seats})

    assert_problem(response, 400, "too_many_seats")
    assert not Reservation.objects.exists()


def test_page_size_is_capped_at_100(api):
    Cinema.objects.bulk_create(Cinema(name=f"Cine {n}", city="Recife") for n in range(105))

    response = api.get("/api/v1/cinemas", {"page_size": 100000})

    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 105
    assert len(body["results"]) == 100


def test_a_room_layout_is_bounded(staff_api):
    cinema = CinemaFactory()
    before = db_state()

    too_many_rows = staff_api.post(
        "/api/v1/rooms", {"cinema": cinema.id, "name": "Big", "rows": 27, "seats_per_row": 5}
    )
    too_many_seats = staff_api.post(
        "/api/v1/rooms",
        {
            "cinema": cinema.id,
            "name": "Big",
            "seats": [{"row": "A", "number": n} for n in range(1, 26 * 60 + 2)],
        },
    )

    assert_problem(too_many_rows, 400, "invalid")
    assert_problem(too_many_seats, 400, "invalid")
    assert db_state() == before


# --- Django admin ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name", ["admin:index", "admin:accounts_user_changelist", "admin:catalog_movie_add"]
)
def test_the_admin_is_staff_only(client, user, name):
    client.force_login(user)

    response = client.get(reverse(name))

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))


def test_an_ordinary_user_cannot_log_into_the_admin(client, user):
    from tests.factories import PASSWORD

    response = client.post(
        reverse("admin:login"), {"username": user.email, "password": PASSWORD, "next": "/admin/"}
    )

    assert response.status_code == 200  # the form again, with an error
    assert not response.context["user"].is_staff
    assert client.get(reverse("admin:index")).status_code == 302
