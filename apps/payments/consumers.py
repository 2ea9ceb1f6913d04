import uuid

from apps.core import events
from apps.core.consumers import EventConsumer, ReceivedEvent

from .emails import send_ticket_email


class TicketEmailConsumer(EventConsumer):
    """Mails the buyer their tickets once the payment is confirmed."""

    queue = "cinema.ticket-email"
    event_types = (events.PAYMENT_CONFIRMED,)

    def handle(self, event: ReceivedEvent) -> None:
        send_ticket_email(sale_id=uuid.UUID(event.data["sale_id"]))
