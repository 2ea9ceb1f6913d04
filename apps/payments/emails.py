"""The ticket e-mail, rendered from one template per language."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.core.mail import send_mail
from django.template.loader import render_to_string
from django.utils import translation
from django.utils.translation import gettext as _

from . import selectors
from .models import Payment, Sale


def _language(code: str) -> str:
    try:
        return translation.get_supported_language_variant(code)
    except LookupError:
        return settings.LANGUAGE_CODE


def send_ticket_email(*, sale_id: uuid.UUID) -> None:
    sale = selectors.sale_detail(sale_id)
    language = _language(sale.language)
    with translation.override(language):
        session = sale.session
        context = {
            "movie": session.movie.title,  # modeltranslation reads the active language
            "starts_at": session.starts_at,
            "cinema": session.room.cinema.name,
            "room": session.room.name,
            "tickets": [
                {"seat": t.session_seat.seat.label, "code": t.code, "price": t.price}
                for t in sale.tickets.all()
            ],
            "total": sale.total,
            "sale_id": sale.id,
        }
        body = render_to_string(f"payments/email/tickets.{language}.txt", context)
        subject = _("Your tickets for %(movie)s") % {"movie": context["movie"]}
    send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, [sale.user.email])


def send_refund_email(*, payment_id: uuid.UUID) -> None:
    payment = (
        Payment.objects.select_related("user", "reservation__session__movie")
        .select_related("reservation__session__room__cinema")
        .get(pk=payment_id)
    )
    sale = Sale.objects.filter(payment=payment).values_list("id", flat=True).first()
    language = _language(payment.language)
    with translation.override(language):
        session = payment.reservation.session
        context = {
            "movie": session.movie.title,
            "starts_at": session.starts_at,
            "cinema": session.room.cinema.name,
            "room": session.room.name,
            "reason": payment.refund_reason,
            "amount": payment.amount,
            "sale_id": sale,
            "payment_id": payment.id,
        }
        body = render_to_string(f"payments/email/refund.{language}.txt", context)
        subject = _("Refund for %(movie)s") % {"movie": context["movie"]}
    send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, [payment.user.email])
