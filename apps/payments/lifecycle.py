"""A payment's statuses and the moves between them: the one table both Python and PostgreSQL obey.

`transition()` is the only way code changes a payment's status; an illegal move raises. The same
table is installed as a trigger on the payments table (migration 0004), so not even raw SQL can make
one silently. A test compares the two.
"""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _


class PaymentStatus:
    PROCESSING = "processing"  # written before the provider is called
    PENDING = "pending"  # the provider settles later (PIX, 3-D Secure)
    SUCCEEDED = "succeeded"  # the money is taken
    FAILED = "failed"  # declined or failed; the hold stays until its deadline
    CANCELED = "canceled"  # the window passed unpaid and the provider dropped it
    REFUNDED = "refunded"  # the money went back

    CHOICES = [
        (PROCESSING, _("processing")),
        (PENDING, _("pending")),
        (SUCCEEDED, _("succeeded")),
        (FAILED, _("failed")),
        (CANCELED, _("canceled")),
        (REFUNDED, _("refunded")),
    ]
    ALL = tuple(value for value, _label in CHOICES)
    IN_FLIGHT = (PROCESSING, PENDING)


S = PaymentStatus
TRANSITIONS: dict[str, frozenset[str]] = {
    S.PROCESSING: frozenset({S.PENDING, S.SUCCEEDED, S.FAILED, S.CANCELED, S.REFUNDED}),
    S.PENDING: frozenset({S.SUCCEEDED, S.FAILED, S.CANCELED, S.REFUNDED}),
    S.SUCCEEDED: frozenset({S.REFUNDED}),
    # The provider can still take the money after reporting a failure (a new attempt on the same
    # payment) or after our cancel crossed its settlement: the success wins, then is refunded.
    S.FAILED: frozenset({S.SUCCEEDED, S.REFUNDED}),
    S.CANCELED: frozenset({S.SUCCEEDED, S.REFUNDED}),
    S.REFUNDED: frozenset(),
}


class IllegalTransition(Exception):
    def __init__(self, current: str, new: str) -> None:
        super().__init__(f"a payment cannot go from {current} to {new}")
        self.current = current
        self.new = new


def can_transition(current: str, new: str) -> bool:
    return new in TRANSITIONS[current]


def check_transition(current: str, new: str) -> None:
    if not can_transition(current, new):
        raise IllegalTransition(current, new)


def transition_pairs() -> list[tuple[str, str]]:
    """Every allowed (from, to), sorted: what the database trigger holds."""
    return sorted((current, new) for current, targets in TRANSITIONS.items() for new in targets)
