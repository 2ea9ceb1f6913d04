"""The events payments emits (published to the `cinema.events` exchange, routing key = type)."""

PAYMENT_CONFIRMED = "payment.confirmed"
PAYMENT_PENDING = "payment.pending"
PAYMENT_FAILED = "payment.failed"
PAYMENT_REFUNDED = "payment.refunded"
TICKET_CHECKED_IN = "ticket.checked_in"
