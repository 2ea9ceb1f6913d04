"""The ticket e-mail: a plain-text body, an HTML alternative in the buyer's language, and one QR
code per ticket as an inline PNG that the HTML shows by `cid:` and that decodes to the ticket's
code with a real QR decoder."""

from __future__ import annotations

import email
import re
from email.message import EmailMessage
from email.policy import default as default_policy

import pytest
from django.utils import formats, timezone, translation

from apps.events.consumers import parse_event, process_events
from apps.events.models import OutboxEvent
from apps.events.outbox import envelope
from apps.payments import event_types as payment_events
from apps.payments.consumers import TicketEmailConsumer
from apps.payments.models import Sale, Ticket
from tests.conftest import client_for
from tests.factories import MovieFactory, UserFactory, make_room, make_session
from tests.helpers import seat_ids
from tests.payments.helpers import pay
from tests.qr_decoding import decode_png

ENGLISH = {
    "accept": "en",
    "subject": "Your tickets for {}",
    "date": "%Y-%m-%d %H:%M",
    "seat": "Seat {}",
    "code": "code {}",
    "full": "full price",
    "half": "half price",
    "html_full": "Full price",
    "html_half": "Half price",
    "total": "Total paid: R$ {}",
}
PORTUGUESE = {
    "accept": "pt-BR",
    "subject": "Seus ingressos para {}",
    "date": "%d/%m/%Y %H:%M",
    "seat": "Assento {}",
    "code": "código {}",
    "full": "inteira",
    "half": "meia-entrada",
    "html_full": "Inteira",
    "html_half": "Meia-entrada",
    "total": "Total pago: R$ {}",
}
LANGUAGES = [pytest.param("en", ENGLISH, id="en"), pytest.param("pt-br", PORTUGUESE, id="pt-br")]

CID = re.compile(r'<img src="cid:([^"]+)"')


def buy(*, movie, accept_language: str, half: int = 1, full: int = 2) -> Sale:
    """A sale made through the API (the request's language becomes the sale's), first `half`
    half-price seats, then `full` full-price ones."""
    session = make_session(movie=movie, room=make_room(name="Sala Azul"))
    seats = seat_ids(session, half + full, offset=3)
    tickets = [{"seat": s, "type": "half" if i < half else "full"} for i, s in enumerate(seats)]
    client = client_for(UserFactory())
    response = client.post(
        "/api/v1/reservations",
        {"session": session.id, "tickets": tickets},
        format="json",
        HTTP_ACCEPT_LANGUAGE=accept_language,
    )
    assert response.status_code == 201, response.content
    response = pay(client, response.json()["id"], HTTP_ACCEPT_LANGUAGE=accept_language)
    assert response.status_code == 201, response.content
    return Sale.objects.get(pk=response.json()["id"])


def mail_tickets(sale: Sale, mailoutbox):
    """Run the `payment.confirmed` consumer on the sale's event, as the worker does; returns the
    one message it sent."""
    row = OutboxEvent.objects.get(type=payment_events.PAYMENT_CONFIRMED, data__sale_id=str(sale.id))
    assert mailoutbox == []  # nothing is mailed from the request itself
    assert process_events(TicketEmailConsumer(), [parse_event(envelope(row))]) == 1
    assert len(mailoutbox) == 1
    return mailoutbox[0]


def on_the_wire(mail) -> EmailMessage:
    """The message as a mail server receives it, parsed back."""
    return email.message_from_bytes(mail.message().as_bytes(), policy=default_policy)


def tickets_of(sale: Sale) -> list[Ticket]:
    return list(sale.tickets.select_related("session_seat__seat").order_by("session_seat_id"))


def localized(value, language: str) -> str:
    with translation.override(language):
        return formats.localize(value)


@pytest.mark.django_db
@pytest.mark.parametrize(("language", "lines"), LANGUAGES)
def test_the_ticket_email_has_a_text_body_and_an_html_alternative_in_the_buyers_language(
    mailoutbox, language, lines
):
    movie = MovieFactory(title_pt_br="O Poderoso Chefão", title_en="The Godfather")
    sale = buy(movie=movie, accept_language=lines["accept"])
    assert sale.language == language
    mail = mail_tickets(sale, mailoutbox)

    title, other_title = (
        (movie.title_en, movie.title_pt_br)
        if language == "en"
        else (movie.title_pt_br, movie.title_en)
    )
    assert mail.to == [sale.user.email]
    assert mail.subject == lines["subject"].format(title)
    assert mail.content_subtype == "plain"
    assert [alternative.mimetype for alternative in mail.alternatives] == ["text/html"]
    text, html = mail.body, mail.alternatives[0].content
    starts_at = timezone.localtime(sale.session.starts_at).strftime(lines["date"])
    tickets = tickets_of(sale)
    assert [t.ticket_type for t in tickets] == ["half", "full", "full"]

    for body in (text, html):
        assert title in body
        assert other_title not in body
        assert starts_at in body
        assert f"{sale.session.room.cinema.name}, Sala Azul" in body
        assert lines["total"].format(localized(sale.total, language)) in body
        assert str(sale.id) in body
        for ticket in tickets:
            assert lines["seat"].format(ticket.session_seat.seat.label) in body
            assert ticket.code in body  # typed in by hand at the door when a scan fails
    assert html.startswith("<!DOCTYPE html>")
    assert f'<html lang="{"en" if language == "en" else "pt-BR"}">' in html

    # The text body: one line per ticket with its seat, code, type and price.
    for ticket in tickets:
        label = ticket.session_seat.seat.label
        price = localized(ticket.price, language)
        line = "  ".join(
            [
                lines["seat"].format(label),
                lines["code"].format(ticket.code),
                lines[ticket.ticket_type],
                f"R$ {price}",
            ]
        )
        assert f"  {line}\n" in text
    # The HTML names each type and price too.
    half, full, _ = tickets
    assert f"{lines['html_half']}: R$ {localized(half.price, language)}" in html
    assert f"{lines['html_full']}: R$ {localized(full.price, language)}" in html
    assert html.count(lines["html_half"]) == 1
    assert html.count(lines["html_full"]) == 2


@pytest.mark.django_db
@pytest.mark.parametrize(("language", "lines"), LANGUAGES)
def test_each_ticket_has_an_inline_png_qr_code_that_decodes_to_its_code(
    mailoutbox, language, lines
):
    sale = buy(movie=MovieFactory(), accept_language=lines["accept"])
    message = on_the_wire(mail_tickets(sale, mailoutbox))
    tickets = tickets_of(sale)

    # multipart/related [multipart/alternative [text/plain, text/html], image/png x tickets]
    assert message.get_content_type() == "multipart/related"
    assert message.get_param("type") == "multipart/alternative"
    root, *images = message.iter_parts()
    assert root.get_content_type() == "multipart/alternative"
    assert [part.get_content_type() for part in root.iter_parts()] == ["text/plain", "text/html"]
    plain, html_part = root.iter_parts()
    assert plain.get_content_charset() == html_part.get_content_charset() == "utf-8"
    html = html_part.get_content()
    assert lines["seat"].format(tickets[0].session_seat.seat.label) in html

    cids = CID.findall(html)
    assert len(cids) == len(set(cids)) == len(tickets) == 3
    assert len(images) == len(tickets)
    by_cid = {}
    for image in images:
        assert image.get_content_type() == "image/png"
        assert image.get_content_disposition() == "inline"
        assert image.get_filename().endswith(".png")
        content_id = image["Content-ID"]
        assert re.fullmatch(r"<[^<>@\s]+@[^<>@\s]+>", content_id), content_id  # a msg-id
        by_cid[content_id[1:-1]] = image.get_content()  # the PNG's bytes, base64 decoded
    assert set(by_cid) == set(cids)  # every cid the HTML names has its part, and nothing more

    # Each picture decodes to the code of the ticket it stands next to, and to nothing else (no
    # personal data in the QR code).
    blocks = dict(zip(cids, re.split(CID, html)[2::2], strict=True))
    for ticket in tickets:
        (cid,) = [cid for cid in cids if ticket.code in blocks[cid]]
        assert lines["seat"].format(ticket.session_seat.seat.label) in blocks[cid]
        assert decode_png(by_cid[cid]) == ticket.code


@pytest.mark.django_db
def test_the_html_escapes_what_it_shows_and_the_text_does_not(mailoutbox):
    movie = MovieFactory(title_en='Tom & Jerry <b>"Live"</b>')
    sale = buy(movie=movie, accept_language="en", half=0, full=1)
    mail = mail_tickets(sale, mailoutbox)

    html = mail.alternatives[0].content
    assert "Tom &amp; Jerry &lt;b&gt;&quot;Live&quot;&lt;/b&gt;" in html
    assert "<b>" not in html
    assert 'Tom & Jerry <b>"Live"</b>' in mail.body
    assert mail.subject == 'Your tickets for Tom & Jerry <b>"Live"</b>'
