"""Event consumers: deduplication by event id, malformed messages, and the ticket e-mail."""

from __future__ import annotations

import json
import time
import uuid
from decimal import Decimal
from smtplib import SMTPServerDisconnected

import pytest
from django.utils import formats, timezone, translation

from apps.bookings import event_types as booking_events
from apps.bookings import services as booking_services
from apps.events.consumer_step import ATTEMPT_HEADER
from apps.events.consumers import ReceivedEvent, parse_event, process_events, retry_delay
from apps.events.models import OutboxEvent, ProcessedEvent
from apps.events.outbox import envelope
from apps.payments import event_types as payment_events
from apps.payments import services as payment_services
from apps.payments.consumers import TicketEmailConsumer
from apps.payments.models import Sale
from apps.sessions.models import Session
from apps.stats.consumers import SessionStatsConsumer
from apps.stats.models import SessionStats
from tests.concurrency import blackhole_server
from tests.conftest import client_for
from tests.events.helpers import (
    consumer_worker,
    distinct_session_ids,
    peek,
    publish,
    queue_state,
    wait_until,
)
from tests.factories import MovieFactory, UserFactory, make_room, make_session
from tests.helpers import seat_ids

STATS = SessionStatsConsumer()


def reserve(session: Session, count: int, *, skip: int = 0):
    return booking_services.reservation_create(
        user=UserFactory(),
        session_id=session.id,
        seat_ids=seat_ids(session, count, offset=skip),
    )


def pay(reservation) -> Sale:
    """Pay the hold with a card the sandbox approves at once; returns the sale."""
    payment = payment_services.payment_start(
        reservation_id=reservation.id, user=reservation.user, token="tok_visa"
    )
    assert payment.status == "succeeded"
    return payment.sale


def outbox_event(event_type: str, **data) -> OutboxEvent:
    """The stored outbox row (read back, so `data` is what goes on the wire)."""
    rows = OutboxEvent.objects.filter(type=event_type)
    for key, value in data.items():
        rows = rows.filter(**{f"data__{key}": str(value)})
    return rows.get()


def received(row: OutboxEvent) -> ReceivedEvent:
    return parse_event(envelope(row))


def stats_of(session: Session) -> tuple[int, int, Decimal, int]:
    stats = SessionStats.objects.get(session=session)
    return stats.seats_held, stats.seats_sold, stats.revenue, stats.events_applied


# --- deduplication, in process --------------------------------------------------------------


@pytest.mark.django_db
def test_an_event_delivered_twice_is_applied_once():
    session = make_session()
    reservation = reserve(session, 3)
    event = received(
        outbox_event(booking_events.RESERVATION_CREATED, reservation_id=reservation.id)
    )

    assert process_events(STATS, [event, event]) == 1  # twice in one batch
    assert process_events(STATS, [event]) == 0  # and again later
    assert stats_of(session) == (3, 0, Decimal("0.00"), 1)
    assert ProcessedEvent.objects.filter(consumer="cinema.stats", event_id=event.id).count() == 1


@pytest.mark.django_db
def test_a_batch_is_applied_in_one_go_and_a_replayed_batch_not_at_all():
    session = make_session()
    kept = reserve(session, 2)
    dropped = reserve(session, 1, skip=2)
    booking_services.reservation_cancel(reservation_id=dropped.id, user=dropped.user)
    sale = pay(kept)
    batch = [received(row) for row in OutboxEvent.objects.filter(type__in=STATS.event_types)]
    assert [e.type for e in batch] == [
        "reservation.created",
        "reservation.created",
        "reservation.cancelled",
        "payment.confirmed",
    ]

    assert process_events(STATS, batch) == 4
    assert process_events(STATS, list(reversed(batch))) == 0
    assert stats_of(session) == (0, 2, sale.total, 4)
    assert sale.total == Decimal("50.00")


def test_retry_delays_grow_with_equal_jitter_up_to_the_cap(settings):
    settings.EVENT_RETRY_BASE_SECONDS = 1.0
    settings.EVENT_RETRY_MAX_SECONDS = 10.0
    for attempt, ceiling in [(1, 1.0), (2, 2.0), (3, 4.0), (4, 8.0), (5, 10.0), (30, 10.0)]:
        delays = [retry_delay(attempt) for _ in range(200)]
        assert all(ceiling / 2 <= delay <= ceiling for delay in delays), (attempt, delays)
        assert len(set(delays)) > 150  # jittered, not one fixed value


# --- deduplication and malformed messages, through RabbitMQ and a real worker ----------------


@pytest.fixture(scope="module")
def stats_worker(django_db_setup):
    with consumer_worker(STATS) as process:
        yield process


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_the_same_message_published_again_through_the_broker_is_counted_once(stats_worker):
    distinct_session_ids()
    session = make_session()
    first = reserve(session, 2)
    second = reserve(session, 3, skip=2)
    rows = {
        r.id: outbox_event(booking_events.RESERVATION_CREATED, reservation_id=r.id)
        for r in (first, second)
    }
    # Published by hand, not by the relay.
    OutboxEvent.objects.update(published_at=timezone.now())
    duplicate = envelope(rows[first.id])
    properties = {"message_id": duplicate["id"], "type": duplicate["type"]}

    publish(duplicate, routing_key="reservation.created", **properties)
    publish(duplicate, routing_key="reservation.created", **properties)
    wait_until(
        lambda: SessionStats.objects.filter(session=session).exists(),
        timeout=15,
        what="the first delivery to be applied",
    )
    # Once more after it was applied, then a fresh event behind it: when the fresh one shows,
    # the duplicate ahead of it in the queue has been through the consumer.
    publish(duplicate, routing_key="reservation.created", **properties)
    fresh = envelope(rows[second.id])
    publish(fresh, routing_key="reservation.created", message_id=fresh["id"], type=fresh["type"])
    wait_until(lambda: stats_of(session)[3] >= 2, timeout=15, what="the fresh event")

    assert stats_of(session) == (5, 0, Decimal("0.00"), 2)
    assert ProcessedEvent.objects.filter(consumer="cinema.stats").count() == 2


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        pytest.param({"hello": "not an envelope"}, None, id="json-not-an-envelope"),
        pytest.param(
            {"id": "not-a-uuid", "type": "x", "occurred_at": "", "data": {}}, None, id="bad-id"
        ),
        pytest.param(b'{"id": not json', "application/json", id="undecodable-json"),
        pytest.param(b"hello", "text/plain", id="not-json-at-all"),
    ],
)
def test_a_malformed_message_goes_straight_to_the_dead_letter_queue(
    stats_worker, body, content_type
):
    marker = str(uuid.uuid4())
    if content_type is None:
        publish({**body, "marker": marker}, routing_key=STATS.queue_name, to_queue=True)
    else:
        publish(
            body + marker.encode(),
            routing_key=STATS.queue_name,
            to_queue=True,
            serializer=None,
            content_type=content_type,
            content_encoding="utf-8",
        )

    def dead() -> list[dict]:
        return [
            headers
            for found, headers in peek(f"{STATS.queue_name}.dlq")
            if marker
            in (found.decode(errors="replace") if isinstance(found, bytes) else json.dumps(found))
        ]

    [headers] = wait_until(dead, timeout=15, what="the malformed message in the dead-letter queue")
    assert ATTEMPT_HEADER not in headers  # never went through the retry queue
    deaths = {(d["queue"], d["reason"]): d["count"] for d in headers["x-death"]}
    assert deaths == {(STATS.queue_name, "rejected"): 1}
    # The worker and its consumer are still there for the next message.
    assert stats_worker.poll() is None
    assert queue_state(STATS.queue_name)[1] >= 1


# --- the ticket e-mail ------------------------------------------------------------------------

ENGLISH = {
    "subject": "Your tickets for {}",
    "movie": "Movie:   {}",
    "when": "Session: {}",
    "where": "Where:   {}, {}",
    "seat": "Seat {}  code {}",
    "total": "Total paid: R$ {}",
    "date": "%Y-%m-%d %H:%M",
}
PORTUGUESE = {
    "subject": "Seus ingressos para {}",
    "movie": "Filme:  {}",
    "when": "Sessão: {}",
    "where": "Local:  {}, {}",
    "seat": "Assento {}  código {}",
    "total": "Total pago: R$ {}",
    "date": "%d/%m/%Y %H:%M",
}


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("accept_language", "language", "lines"),
    [("en", "en", ENGLISH), ("pt-BR", "pt-br", PORTUGUESE)],
)
def test_the_ticket_email_goes_out_once_in_the_buyers_language(
    mailoutbox, accept_language, language, lines
):
    movie = MovieFactory(title_pt_br="O Poderoso Chefão", title_en="The Godfather")
    session = make_session(movie=movie, room=make_room(name="Sala Azul"))
    buyer = UserFactory()
    client = client_for(buyer)
    response = client.post(
        "/api/v1/reservations",
        {"session": session.id, "seats": seat_ids(session, 3, offset=5)},
        format="json",
        HTTP_ACCEPT_LANGUAGE=accept_language,
    )
    assert response.status_code == 201, response.content
    response = client.post(
        f"/api/v1/reservations/{response.json()['id']}/payment",
        {"token": "tok_visa"},
        format="json",
        HTTP_ACCEPT_LANGUAGE=accept_language,
    )
    assert response.status_code == 201, response.content
    sale = Sale.objects.get(pk=response.json()["id"])
    assert sale.language == language
    event = received(outbox_event(payment_events.PAYMENT_CONFIRMED, sale_id=sale.id))
    assert mailoutbox == []  # nothing is mailed from the request itself

    assert process_events(TicketEmailConsumer(), [event]) == 1
    assert process_events(TicketEmailConsumer(), [event]) == 0  # a redelivery mails nothing

    assert len(mailoutbox) == 1
    mail = mailoutbox[0]
    assert mail.to == [buyer.email]
    title, other_title = (
        (movie.title_en, movie.title_pt_br)
        if language == "en"
        else (movie.title_pt_br, movie.title_en)
    )
    assert mail.subject == lines["subject"].format(title)
    with translation.override(language):
        total = formats.localize(sale.total)
    body = mail.body
    assert lines["movie"].format(title) in body
    assert other_title not in body
    starts_at = timezone.localtime(session.starts_at).strftime(lines["date"])
    assert lines["when"].format(starts_at) in body
    assert lines["where"].format(session.room.cinema.name, "Sala Azul") in body
    tickets = list(sale.tickets.select_related("session_seat__seat"))
    assert len(tickets) == 3
    for ticket in tickets:
        assert lines["seat"].format(ticket.session_seat.seat.label, ticket.code) in body
    assert lines["total"].format(total) in body
    assert str(sale.id) in body


@pytest.mark.django_db
def test_a_mail_server_that_hangs_fails_the_ticket_email_in_time_and_it_is_retried(
    settings, mailoutbox
):
    """A hung mail server must not stall the worker's event loop: the send gives up after
    EMAIL_TIMEOUT, nothing is recorded, and the redelivered event mails the tickets."""
    from cinema.settings import base

    assert 0 < base.EMAIL_TIMEOUT <= 60  # shipped bounded (Django's own default waits forever)
    held = reserve(make_session(), 2)
    sale = pay(held)
    event = received(outbox_event(payment_events.PAYMENT_CONFIRMED, sale_id=sale.id))

    with blackhole_server() as port:
        settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
        settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", port
        settings.EMAIL_TIMEOUT = 0.5
        started = time.monotonic()
        # smtplib reports the read that timed out as a lost connection.
        with pytest.raises(SMTPServerDisconnected):
            process_events(TicketEmailConsumer(), [event])
        waited = time.monotonic() - started

    assert waited < 5, waited  # bounded by EMAIL_TIMEOUT, not hung
    assert not ProcessedEvent.objects.filter(event_id=event.id).exists()
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    assert process_events(TicketEmailConsumer(), [event]) == 1
    assert [mail.to for mail in mailoutbox] == [[held.user.email]]
