"""The buyer's e-mails (tickets, refunds), rendered from one template per language.

The ticket e-mail is a plain-text body with an HTML alternative that shows one QR code per ticket.
Mail clients (Gmail, Outlook) show neither inline SVG nor data: URIs reliably, so each QR code
travels as an inline PNG part of the message, which the HTML names by its Content-ID (`cid:`).
"""

from __future__ import annotations

import uuid
from email.mime.image import MIMEImage
from typing import Any

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, send_mail
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from apps.sessions.models import Session

from . import qr, selectors
from .models import Payment, Sale, Ticket


def _language(code: str) -> str:
    try:
        return translation.get_supported_language_variant(code)
    except LookupError:
        return settings.LANGUAGE_CODE


def _render(name: str, language: str, context: dict[str, Any]) -> str:
    """`payments/email/<name>` in the language's version, e.g. `tickets.en.html`."""
    stem, extension = name.rsplit(".", 1)
    return render_to_string(f"payments/email/{stem}.{language}.{extension}", context)


def _screening(session: Session) -> dict[str, Any]:
    """What every e-mail says about the screening, in the active language (the movie's title is
    translated by modeltranslation). Render it under `_cinema_time(session)`: the templates'
    `localtime` shows `starts_at` in the active zone."""
    return {
        "movie": session.movie.title,
        "starts_at": session.starts_at,
        "cinema": session.room.cinema.name,
        "room": session.room.name,
    }


def _cinema_time(session: Session) -> timezone.override:
    """The buyer reads the time on the cinema's clocks, wherever the worker runs."""
    return timezone.override(session.room.cinema.zone)


class _HtmlWithInlineImages(EmailMultiAlternatives):
    """Text and HTML alternatives plus the images the HTML shows, laid out as mail clients expect:

        multipart/related; type="multipart/alternative"
            multipart/alternative
                text/plain
                text/html            <img src="cid:...">
            image/png                Content-ID: <...>, Content-Disposition: inline
            ...

    Django 5.2 wraps the alternatives and the attached MIME parts in one multipart container of
    subtype `mixed_subtype`; "related" makes the images parts of the HTML rather than attachments.
    """

    mixed_subtype = "related"

    def message(self):
        message = super().message()
        if message.get_content_subtype() == "related":
            # RFC 2387: multipart/related names the type of its root, the first part.
            message.set_param("type", "multipart/alternative")
        return message


def _qr_image(ticket: Ticket, *, cid: str) -> MIMEImage:
    """The ticket's code as an inline PNG part: the QR code holds the code, no personal data."""
    image = MIMEImage(qr.png(ticket.code, random_text=True), "png")
    image.add_header("Content-ID", f"<{cid}>")
    image.add_header(
        "Content-Disposition", "inline", filename=f"ticket-{ticket.session_seat.seat.label}.png"
    )
    return image


def send_ticket_email(*, sale_id: uuid.UUID) -> None:
    sale = selectors.sale_to_mail(sale_id)
    language = _language(sale.language)
    tickets = list(sale.tickets.all())
    cids = {ticket.id: f"ticket-{ticket.id}@cinema" for ticket in tickets}
    with translation.override(language), _cinema_time(sale.session):
        context = {
            **_screening(sale.session),
            "tickets": [
                {
                    "seat": ticket.session_seat.seat.label,
                    "type": ticket.ticket_type,
                    "code": ticket.code,
                    "price": ticket.price,
                    "cid": cids[ticket.id],
                }
                for ticket in tickets
            ],
            "total": sale.total,
            "sale_id": sale.id,
        }
        subject = _("Your tickets for %(movie)s") % {"movie": context["movie"]}
        message = _HtmlWithInlineImages(
            subject,
            _render("tickets.txt", language, context),
            settings.DEFAULT_FROM_EMAIL,
            [sale.user.email],
        )
        message.attach_alternative(_render("tickets.html", language, context), "text/html")
    for ticket in tickets:
        message.attach(_qr_image(ticket, cid=cids[ticket.id]))
    message.send()


def send_refund_email(*, payment_id: uuid.UUID) -> None:
    payment = (
        Payment.objects.select_related("user", "reservation__session__movie")
        .select_related("reservation__session__room__cinema")
        .get(pk=payment_id)
    )
    sale = Sale.objects.filter(payment=payment).values_list("id", flat=True).first()
    language = _language(payment.language)
    with translation.override(language), _cinema_time(payment.reservation.session):
        context = {
            **_screening(payment.reservation.session),
            "reason": payment.refund_reason,
            "amount": payment.amount,
            "sale_id": sale,
            "payment_id": payment.id,
        }
        body = _render("refund.txt", language, context)
        subject = _("Refund for %(movie)s") % {"movie": context["movie"]}
    send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, [payment.user.email])
