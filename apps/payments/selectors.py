from __future__ import annotations

from django.db.models import Prefetch, QuerySet
from django.utils.translation import gettext as _

from apps.core.errors import NotFound

from .models import Payment, Sale, Ticket


def _with_details(sales: QuerySet[Sale]) -> QuerySet[Sale]:
    """Everything a sale shows, in a constant number of queries per page."""
    return sales.select_related("session__movie", "session__room__cinema").prefetch_related(
        Prefetch(
            "tickets",
            Ticket.objects.select_related("session_seat__seat").order_by(
                "session_seat__seat__row", "session_seat__seat__number"
            ),
        )
    )


def sale_detail(sale_id) -> Sale:
    return _with_details(Sale.objects.filter(pk=sale_id)).get()


def purchases_of(user) -> QuerySet[Sale]:
    """The user's sales, newest first."""
    return _with_details(Sale.objects.filter(user=user)).order_by("-paid_at", "-id")


def payment_for(*, payment_id, user) -> Payment:
    """The payment, with its sale, if `user` owns it or is staff; 404 otherwise."""
    payment = Payment.objects.filter(pk=payment_id).first()
    if payment is None or not (user.is_staff or payment.user_id == user.id):
        raise NotFound(_("Payment not found."))
    sale = _with_details(Sale.objects.filter(payment=payment)).first()
    if sale is not None:
        payment.sale = sale
    return payment
