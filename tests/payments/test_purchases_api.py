"""GET /api/v1/me/purchases and GET /api/v1/users/{id}/purchases: the purchase history."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from apps.payments.models import Sale
from tests.assertions import assert_problem
from tests.factories import (
    CinemaFactory,
    MovieFactory,
    UserFactory,
    make_room,
    make_sale,
    make_session,
)

pytestmark = pytest.mark.django_db

MINE = "/api/v1/me/purchases"


def user_url(user_id: int) -> str:
    return f"/api/v1/users/{user_id}/purchases"


def set_paid_at(sale: Sale, when: datetime) -> None:
    Sale.objects.filter(pk=sale.pk).update(paid_at=when)


def ids(body: dict) -> list[str]:
    return [item["id"] for item in body["results"]]


# Resolving the session token reads its session and user rows unless both are in the Redis cache
# (tests/accounts/test_cached_users.py holds that they are). Whether they are is not this page's
# doing: another test run sharing the Redis database empties it (cache.clear() is a FLUSHDB) at
# any moment, and the next request reads both rows again and caches them afresh.
TOKEN_LOOKUPS = {
    "django_session": '"django_session"."session_key" =',
    "accounts_user": 'WHERE "accounts_user"."id" =',
}
FROM_TABLE = re.compile(r'\bFROM "(\w+)"')


def table_of(sql: str) -> str:
    return FROM_TABLE.search(sql).group(1)


def split_token_lookups(captured: list[dict]) -> tuple[list[str], list[str]]:
    """(the reads that resolve the session token, every other query) of one request."""
    auth: list[str] = []
    page: list[str] = []
    for query in captured:
        sql = query["sql"]
        is_lookup = any(
            f'FROM "{table}"' in sql and where in sql for table, where in TOKEN_LOOKUPS.items()
        )
        (auth if is_lookup else page).append(sql)
    return auth, page


def assert_at_most_one_read_each(auth: list[str]) -> None:
    tables = [table_of(sql) for sql in auth]
    assert len(tables) == len(set(tables)), auth


def test_my_purchases_lists_each_sale_with_its_session_and_tickets(user_api, user):
    cinema = CinemaFactory(name="Cine Centro", city="Recife")
    movie = MovieFactory(title_pt_br="O Filme", title_en="The Movie")
    room = make_room(cinema=cinema, name="Sala Azul")
    session = make_session(movie=movie, room=room)
    seats = list(session.seats.order_by("id").values_list("id", flat=True)[:2])
    sale = make_sale(user=user, session=session, seat_ids=seats)
    tickets = list(sale.tickets.order_by("session_seat_id"))

    response = user_api.get(MINE, HTTP_ACCEPT_LANGUAGE="en")

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["count"] == 1
    assert body["next"] is None
    assert body["previous"] is None
    item = body["results"][0]
    assert item == {
        "id": str(sale.id),
        "session": {
            "id": session.id,
            "starts_at": item["session"]["starts_at"],
            "movie": {"id": movie.id, "title": "The Movie"},
            "room": {"id": room.id, "name": "Sala Azul"},
            "cinema": {"id": cinema.id, "name": "Cine Centro", "city": "Recife"},
        },
        "status": "paid",
        "tickets": [
            {
                "id": str(ticket.id),
                "seat": {"id": ticket.session_seat_id, "label": label},
                "code": ticket.code,
                "type": "full",
                "price": "25.00",
            }
            for ticket, label in zip(tickets, ["A1", "A2"], strict=True)
        ],
        "total": "50.00",
        "paid_at": item["paid_at"],
        "refunded_at": None,
    }
    assert [t.session_seat_id for t in tickets] == seats
    assert datetime.fromisoformat(item["session"]["starts_at"]) == session.starts_at
    assert datetime.fromisoformat(item["paid_at"]) == sale.paid_at


@pytest.mark.parametrize(
    ("language", "title"), [("en", "The Movie"), ("pt-BR", "O Filme"), (None, "O Filme")]
)
def test_movie_title_follows_the_request_language(user_api, user, language, title):
    session = make_session(movie=MovieFactory(title_pt_br="O Filme", title_en="The Movie"))
    make_sale(user=user, session=session)
    headers = {} if language is None else {"HTTP_ACCEPT_LANGUAGE": language}

    response = user_api.get(MINE, **headers)

    assert response.status_code == 200
    assert response.json()["results"][0]["session"]["movie"]["title"] == title


def test_newest_first_and_only_the_callers_sales(user_api, user):
    session = make_session()
    now = timezone.now()
    oldest, newest, middle = (make_sale(user=user, session=session) for _ in range(3))
    set_paid_at(oldest, now - timedelta(days=3))
    set_paid_at(middle, now - timedelta(days=2))
    set_paid_at(newest, now - timedelta(days=1))
    someone_else = make_sale(user=UserFactory(), session=session)

    response = user_api.get(MINE)

    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 3
    assert ids(body) == [str(newest.id), str(middle.id), str(oldest.id)]
    assert str(someone_else.id) not in ids(body)


def test_pagination_with_page_size(user_api, user):
    session = make_session()
    now = timezone.now()
    sales = [make_sale(user=user, session=session) for _ in range(3)]
    for age, sale in enumerate(sales):
        set_paid_at(sale, now - timedelta(hours=age))  # sales[0] is the newest

    first = user_api.get(MINE, {"page_size": 2})

    assert first.status_code == 200
    body = first.json()
    assert body["count"] == 3
    assert ids(body) == [str(sales[0].id), str(sales[1].id)]
    assert body["previous"] is None
    assert "page=2" in body["next"]
    assert "page_size=2" in body["next"]

    second = user_api.get(body["next"])

    assert second.status_code == 200
    body = second.json()
    assert body["count"] == 3
    assert ids(body) == [str(sales[2].id)]
    assert body["next"] is None
    assert body["previous"] is not None


def test_no_purchases_is_an_empty_page(user_api):
    response = user_api.get(MINE)

    assert response.status_code == 200
    assert response.json() == {"count": 0, "next": None, "previous": None, "results": []}


def test_my_purchases_anonymous_is_401(api):
    assert_problem(api.get(MINE), 401, "not_authenticated")


def test_query_count_per_page_does_not_grow_with_sales_or_tickets(user_api, user):
    one = make_session()
    make_sale(user=user, session=one)
    user_api.get(MINE)  # the session and user behind the token are cached from then on
    with CaptureQueriesContext(connection) as single:
        response = user_api.get(MINE)
    assert response.status_code == 200
    assert response.json()["count"] == 1
    auth, page = split_token_lookups(single.captured_queries)
    # The page itself: a count, the sales with session/movie/room/cinema joined, their tickets.
    assert [table_of(sql) for sql in page] == ["payments_sale", "payments_sale", "payments_ticket"]
    assert_at_most_one_read_each(auth)

    # 15 more sales of 3 tickets each, spread over three sessions (other movies, rooms, cinemas).
    for _ in range(3):
        session = make_session()
        for _ in range(5):
            make_sale(user=user, session=session, seats=3)

    with CaptureQueriesContext(connection) as many:
        response = user_api.get(MINE)

    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 16
    assert len(body["results"]) == 16
    assert sorted(len(item["tickets"]) for item in body["results"]) == [1] + [3] * 15
    many_auth, many_page = split_token_lookups(many.captured_queries)
    assert [table_of(sql) for sql in many_page] == [table_of(sql) for sql in page], many_page
    assert_at_most_one_read_each(many_auth)


# --- staff view of a user's purchases --------------------------------------------------------


def test_staff_reads_a_users_purchases(staff_api, user):
    session = make_session()
    theirs = [make_sale(user=user, session=session) for _ in range(2)]
    make_sale(user=UserFactory(), session=session)

    response = staff_api.get(user_url(user.id))

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["count"] == 2
    assert sorted(ids(body)) == sorted(str(sale.id) for sale in theirs)
    assert {item["session"]["id"] for item in body["results"]} == {session.id}


def test_non_staff_gets_403_even_for_themselves(user_api, user):
    make_sale(user=user, session=make_session())

    response = user_api.get(user_url(user.id))

    assert_problem(response, 403, "permission_denied")


def test_non_staff_gets_403_for_another_user(user_api):
    other = UserFactory()

    assert_problem(user_api.get(user_url(other.id)), 403, "permission_denied")


def test_staff_unknown_user_is_404(staff_api):
    assert_problem(staff_api.get(user_url(999_999)), 404, "not_found")


def test_user_purchases_anonymous_is_401(api, user):
    assert_problem(api.get(user_url(user.id)), 401, "not_authenticated")


def test_staff_sees_an_empty_history(staff_api):
    other = UserFactory()

    response = staff_api.get(user_url(other.id))

    assert response.status_code == 200
    assert response.json()["count"] == 0
