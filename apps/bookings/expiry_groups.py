"""Holds whose deadlines fall close together share one expiry task.

A rush creates holds by the hundred per second, all with the same time to live: one ETA task each
would cost the worker a broker round trip, a delivery and a prefetch change per hold. A group's
task is due at the latest deadline in it, so no hold is expired early, and the earliest waits at
most the group's window past its own deadline (reads treat it as free at the deadline anyway).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from operator import itemgetter


@dataclass
class ExpiryGroup:
    reservation_ids: list[str]
    due: datetime  # the latest deadline among them


def deadline_groups(
    holds: Iterable[tuple[str, datetime]], *, window: timedelta
) -> list[ExpiryGroup]:
    """Split (reservation id, deadline) pairs, in deadline order, into groups spanning at most
    `window` from their earliest deadline to their latest."""
    groups: list[ExpiryGroup] = []
    first = None  # the earliest deadline of the last group
    for reservation_id, deadline in sorted(holds, key=itemgetter(1)):
        if first is None or deadline - first > window:
            first = deadline
            groups.append(ExpiryGroup([], deadline))
        groups[-1].reservation_ids.append(reservation_id)
        groups[-1].due = deadline
    return groups
