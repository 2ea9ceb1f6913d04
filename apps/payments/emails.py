"""The ticket e-mail, rendered from one template per language."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.core.mail import send_mail
from django.template.loader import render_to_string
from django.utils import translation
from django.utils.translation import gettext as _

from . import selectors


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
