from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Count, Prefetch, Q, QuerySet
from django.utils.translation import gettext as _

from apps.api.permissions import user_has_perms
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


def sale_to_mail(sale_id) -> Sale:
    """The sale with everything its e-mail shows, its buyer's address included."""
    return _with_details(Sale.objects.select_related("user").filter(pk=sale_id)).get()


def purchases_of(user) -> QuerySet[Sale]:
    """The user's sales, newest first."""
    return _with_details(Sale.objects.filter(user=user)).order_by("-paid_at", "-id")


def payment_for(*, payment_id, user) -> Payment:
    """The payment, with its sale, if `user` owns it or may view anyone's; 404 otherwise."""
    payment = Payment.objects.filter(pk=payment_id).first()
    if payment is None or not (
        payment.user_id == user.id or user_has_perms(user, "payments.view_payment")
    ):
        raise NotFound(_("Payment not found."))
    sale = _with_details(Sale.objects.filter(payment=payment)).first()
    if sale is not None:
        payment.sale = sale
    return payment


def _tickets() -> QuerySet[Ticket]:
    return Ticket.objects.select_related("session_seat__seat", "sale__session")


def ticket_by_code(code: str) -> Ticket | None:
    return _tickets().filter(code=code).first()


def ticket_for(*, ticket_id, user) -> Ticket:
    """The ticket if `user` bought it or may see every ticket; 404 otherwise."""
    ticket = _tickets().filter(pk=ticket_id).first()
    if ticket is None or not (
        ticket.sale.user_id == user.id or user_has_perms(user, "payments.view_ticket")
    ):
        raise NotFound(_("Ticket not found."))
    return ticket


def checked_in_count(session_id: int) -> tuple[int, int]:
    """How many valid tickets of the session were let in, and how many there are."""
    valid = Ticket.objects.filter(sale__session_id=session_id, voided_at__isnull=True)
    counts = valid.aggregate(
        total=Count("id"), checked_in=Count("id", filter=Q(checked_in_at__isnull=False))
    )
    return counts["checked_in"], counts["total"]


@dataclass(frozen=True)
class Sold:
    sales: int
    tickets: int


def sold_by_session(session_ids: list[int]) -> dict[int, Sold]:
    """The paid sales of each session and their valid tickets: what a cancellation refunds."""
    rows = (
        Sale.objects.filter(session_id__in=session_ids, status=Sale.Status.PAID)
        .values("session_id")
        .annotate(
            sales=Count("id", distinct=True),
            tickets=Count("tickets", filter=Q(tickets__voided_at__isnull=True)),
        )
    )
    sold = {row["session_id"]: Sold(row["sales"], row["tickets"]) for row in rows}
    return {session_id: sold.get(session_id, Sold(0, 0)) for session_id in session_ids}
