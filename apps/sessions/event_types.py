"""The events sessions emits (published to the `cinema.events` exchange, routing key = type)."""

SESSION_CANCELLED = "session.cancelled"
