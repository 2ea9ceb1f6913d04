"""What operators rely on: a request id on every answer and on everything the request causes,
decisions logged with their ids, JSON log lines, and the business metrics at /metrics."""

from __future__ import annotations

import json
import logging
import re
import uuid

import pytest
import structlog
from django.utils import timezone

from apps.bookings import tasks
from apps.bookings.models import Reservation
from apps.bookings.services import expire_overdue_reservations
from apps.events.broker import events_connection
from apps.events.models import OutboxEvent
from apps.events.relay import relay_outbox
from apps.ops.log_config import logging_config
from tests.conftest import client_for
from tests.events.helpers import events_listener, peek
from tests.factories import UserFactory
from tests.helpers import seat_ids
from tests.metrics import growth, scrape

pytestmark = pytest.mark.django_db

RESERVATIONS = "/api/v1/reservations"


def _logged(caplog, event: str) -> list[dict]:
    """The structured events of that name (structlog hands the stdlib records its event dict)."""
    return [r.msg for r in caplog.records if isinstance(r.msg, dict) and r.msg["event"] == event]


def test_the_clients_request_id_is_returned(api):
    response = api.get("/health", HTTP_X_REQUEST_ID="checkout-7f3a")

    assert response["X-Request-ID"] == "checkout-7f3a"


def test_without_one_each_request_gets_its_own(api, session):
    answers = [api.get("/health"), api.get(f"/api/v1/sessions/{session.id}/seats")]
    answers.append(api.get("/api/v1/no-such-thing"))  # error answers carry one too

    ids = [uuid.UUID(response["X-Request-ID"]) for response in answers]
    assert len(set(ids)) == 3
    assert answers[2].status_code == 404


@pytest.mark.django_db(transaction=True)
def test_the_request_id_rides_on_the_events_the_request_caused(settings, user_api, session):
    with events_listener(settings.EVENTS_BROKER_URL) as drain:
        response = user_api.post(
            RESERVATIONS,
            {"session": session.id, "seats": seat_ids(session, 2)},
            HTTP_X_REQUEST_ID="trace-42",
        )
        assert response.status_code == 201, response.content
        relay_outbox()
        messages = drain()

    assert OutboxEvent.objects.get().request_id == "trace-42"
    assert [m.headers.get("x-request-id") for m in messages] == ["trace-42"]
    assert messages[0].payload["data"]["reservation_id"] == response.json()["id"]


def test_reservation_decisions_are_logged_with_their_ids(caplog, session):
    caplog.set_level(logging.INFO)
    seats = seat_ids(session, 2)
    winner, loser = client_for(UserFactory()), client_for(UserFactory())

    won = winner.post(RESERVATIONS, {"session": session.id, "seats": seats})
    lost = loser.post(RESERVATIONS, {"session": session.id, "seats": seats[1:]})

    assert (won.status_code, lost.status_code) == (201, 409)
    [created] = _logged(caplog, "reservation_created")
    assert created["reservation_id"] == won.json()["id"]
    assert created["request_id"] == won["X-Request-ID"]
    assert created["seat_ids"] == sorted(seats)
    assert created["ip"] == "127.0.0.1"
    [refused] = _logged(caplog, "reservation_refused")
    assert refused["request_id"] == lost["X-Request-ID"]
    assert refused["reason"] == "redis_fast_path"
    assert list(refused["taken"]) == seats[1:]


def test_the_logged_address_is_the_one_the_rate_limits_count(caplog, settings, user_api):
    caplog.set_level(logging.INFO)
    forwarded = {"REMOTE_ADDR": "10.0.0.2", "HTTP_X_FORWARDED_FOR": "203.0.113.9, 10.0.0.1"}

    user_api.get("/health", **forwarded)
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 1}
    user_api.get("/health", **forwarded)

    # No proxy trusted: the socket peer, whatever the header says; one proxy: its hop.
    assert [m["ip"] for m in _logged(caplog, "request_finished")] == ["10.0.0.2", "10.0.0.1"]


def test_production_log_lines_are_json_with_the_context():
    config = logging_config(log_format="json", level="INFO")["formatters"]["structured"]
    formatter = structlog.stdlib.ProcessorFormatter(
        processors=config["processors"], foreign_pre_chain=config["foreign_pre_chain"]
    )
    record = logging.LogRecord(
        "apps.test", logging.WARNING, __file__, 1, "disk %s", ("full",), None
    )

    with structlog.contextvars.bound_contextvars(request_id="r-1"):
        line = formatter.format(record)

    assert "\n" not in line
    entry = json.loads(line)
    assert entry["event"] == "disk full"
    assert (entry["level"], entry["logger"], entry["request_id"]) == ("warning", "apps.test", "r-1")
    assert re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d", entry["timestamp"])


# Sales and revenue are counted once the payment commits: this test commits for real.
@pytest.mark.django_db(transaction=True)
def test_metrics_count_reservations_conflicts_and_sales(api, session):
    seats = seat_ids(session, 2)
    buyer, rival = client_for(UserFactory()), client_for(UserFactory())
    before = scrape(api)

    won = buyer.post(RESERVATIONS, {"session": session.id, "seats": seats})
    assert rival.post(RESERVATIONS, {"session": session.id, "seats": seats}).status_code == 409
    paid = buyer.post(f"{RESERVATIONS}/{won.json()['id']}/payment", {"token": "tok_visa"})
    assert paid.status_code == 201
    after = scrape(api)
    grew = growth(before, after)

    assert grew("cinema_reservations_total", outcome="created") == 1
    assert grew("cinema_reservations_total", outcome="conflict") == 1
    assert grew("cinema_reservation_conflicts_total", guard="redis") == 1
    assert grew("cinema_reservations_total", outcome="confirmed") == 1
    assert grew("cinema_sales_total") == 1
    assert grew("cinema_revenue_total") == float(paid.json()["total"])
    # Requests by view, method and status, next to the business figures.
    assert (
        grew(
            "cinema_http_request_duration_seconds_count",
            **{"view": "reservation-create", "method": "POST", "status": "409"},
        )
        == 1
    )


def test_the_request_id_rides_on_the_celery_tasks_queued_under_it():
    """The expiry scheduler queues its tasks with the request id of the event it handles bound
    (consumer_step binds the message's x-request-id); django-structlog puts it in the task's
    headers, and the worker binds it again for the task's own log lines."""
    from cinema.celery import app

    queue = f"test.trace-{uuid.uuid4().hex}"
    default_queue = app.conf.task_default_queue
    app.conf.task_default_queue = queue
    try:
        with structlog.contextvars.bound_contextvars(request_id="trace-9"):
            tasks.schedule_expiry(
                reservation_ids=[str(uuid.uuid4())], eta=timezone.now(), strict=True
            )
        [(_body, headers)] = peek(queue)
    finally:
        app.conf.task_default_queue = default_queue
        with events_connection() as conn:
            conn.default_channel.queue_delete(queue)

    assert headers["task"] == "apps.bookings.tasks.expire_reservations"
    assert headers["__django_structlog__"]["request_id"] == "trace-9"


@pytest.mark.django_db(transaction=True)
def test_metrics_count_cancellations_expiries_and_the_outbox(api, session):
    seats = seat_ids(session, 2)
    buyer = client_for(UserFactory())
    before = scrape(api)

    cancelled = buyer.post(RESERVATIONS, {"session": session.id, "seats": seats[:1]}).json()
    assert buyer.delete(f"{RESERVATIONS}/{cancelled['id']}").status_code == 204
    lapsed = buyer.post(RESERVATIONS, {"session": session.id, "seats": seats[1:]}).json()
    Reservation.objects.filter(pk=lapsed["id"]).update(expires_at=timezone.now())
    assert expire_overdue_reservations() == 1
    published = relay_outbox()
    after = scrape(api)
    grew = growth(before, after)

    assert grew("cinema_reservations_total", outcome="cancelled") == 1
    assert grew("cinema_reservations_total", outcome="expired") == 1
    # created x2, cancelled, expired, and one seat.released for each freed seat
    assert published == 6
    assert grew("cinema_events_published_total") == published
    assert after[("cinema_outbox_lag_seconds", ())] == 0.0


@pytest.mark.django_db(transaction=True)
def test_the_life_of_holds_is_logged_with_their_ids(caplog, session):
    caplog.set_level(logging.INFO)
    seats = seat_ids(session, 4)
    buyer = client_for(UserFactory())
    paid = buyer.post(RESERVATIONS, {"session": session.id, "seats": seats[:1]}).json()
    cancelled = buyer.post(RESERVATIONS, {"session": session.id, "seats": seats[1:2]}).json()
    lapsed = buyer.post(RESERVATIONS, {"session": session.id, "seats": seats[2:4]}).json()

    sale = buyer.post(f"{RESERVATIONS}/{paid['id']}/payment", {"token": "tok_visa"}).json()
    declined = buyer.post(f"{RESERVATIONS}/{cancelled['id']}/payment", {"token": "tok_declined"})
    buyer.delete(f"{RESERVATIONS}/{cancelled['id']}")
    Reservation.objects.filter(pk=lapsed["id"]).update(expires_at=timezone.now())
    expire_overdue_reservations()
    relay_outbox()

    assert declined.status_code == 402
    [confirmed] = _logged(caplog, "payment_confirmed")
    assert (confirmed["reservation_id"], confirmed["sale_id"]) == (paid["id"], sale["id"])
    [refused] = _logged(caplog, "payment_declined")
    assert refused["reservation_id"] == cancelled["id"]
    [gone] = _logged(caplog, "reservation_cancelled")
    assert (gone["reservation_id"], gone["seat_ids"]) == (cancelled["id"], seats[1:2])
    [expired] = _logged(caplog, "reservation_expired")
    assert (expired["reservation_id"], sorted(expired["seat_ids"])) == (lapsed["id"], seats[2:4])
    published = sum(m["published"] for m in _logged(caplog, "outbox_relayed"))
    assert published == OutboxEvent.objects.count()
