import uuid

from apps.events.consumers import EventConsumer, ReceivedEvent
from apps.payments import event_types as payment_events

from .emails import send_refund_email, send_ticket_email


class TicketEmailConsumer(EventConsumer):
    """Mails the buyer their tickets once the payment is confirmed."""

    queue = "cinema.ticket-email"
    event_types = (payment_events.PAYMENT_CONFIRMED,)

    def handle(self, event: ReceivedEvent) -> None:
        send_ticket_email(sale_id=uuid.UUID(event.data["sale_id"]))


class RefundEmailConsumer(EventConsumer):
    """Tells the buyer their money is back (a refund they asked for, a cancelled session, or a
    payment that came after the hold ended)."""

    queue = "cinema.refund-email"
    event_types = (payment_events.PAYMENT_REFUNDED,)

    def handle(self, event: ReceivedEvent) -> None:
        send_refund_email(payment_id=uuid.UUID(event.data["payment_id"]))
