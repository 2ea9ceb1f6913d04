"""The seat map of a session: every seat with its live status. A read model of holds and sales,
served from Redis between changes (seat_map_cache) and rendered once per change."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime

from django.utils.http import quote_etag
from rest_framework.renderers import JSONRenderer

from apps.rooms.models import SeatCategory
from apps.sessions import selectors as session_selectors
from apps.sessions.models import Session

from . import seat_map_cache
from .selectors import seat_statuses


@dataclass(frozen=True)
class SeatMapEntry:
    id: int
    label: str
    row: str
    number: int
    category: str
    status: str


def seat_map(session: Session) -> list[SeatMapEntry]:
    """Every seat of the session with its live status, in a constant number of queries."""
    return _seat_map(session)[0]


def _seat_map(session: Session) -> tuple[list[SeatMapEntry], datetime | None]:
    """The seat map and the moment it stops being true unless something is written: the
    earliest deadline of the holds it shows."""
    statuses, next_expiry = seat_statuses(session)
    # Plain tuples, not model instances: a 1,000-seat map is read on every refresh of every buyer.
    rows = session_selectors.session_seats(session).values_list(
        "id", "seat__label", "seat__row", "seat__number", "category"
    )
    entries = [
        SeatMapEntry(
            seat_id,
            label,
            row,
            number,
            category,
            "blocked" if category == SeatCategory.BLOCKED else statuses.get(seat_id, "available"),
        )
        for seat_id, label, row, number, category in rows
    ]
    return entries, next_expiry


@dataclass(frozen=True)
class RenderedMap:
    body: bytes  # the API's JSON
    etag: str  # Django's ETag of that body, hashed once per build rather than on every read


def rendered_seat_map(session_id: int) -> RenderedMap | None:
    """The seat map as the API's JSON with its ETag (None: no such session), from the cache
    while no write and no deadline has changed it (see seat_map_cache)."""
    cached = seat_map_cache.read(session_id)
    if cached.body is not None:
        return RenderedMap(cached.body, cached.etag)
    if not seat_map_cache.claim_build(session_id, cached):
        built = seat_map_cache.wait_for_build(session_id, cached)
        if built is not None:
            return RenderedMap(built.body, built.etag)
    session = Session.objects.filter(pk=session_id).first()
    if session is None:
        seat_map_cache.end_build(session_id, cached)
        return None
    entries, next_expiry = _seat_map(session)
    body = JSONRenderer().render([vars(entry) for entry in entries])
    etag = quote_etag(hashlib.md5(body, usedforsecurity=False).hexdigest())
    seat_map_cache.store(session_id, cached, body, etag, valid_until=next_expiry)
    seat_map_cache.end_build(session_id, cached)
    return RenderedMap(body, etag)


def seat_map_json(session_id: int) -> bytes | None:
    """The seat map as the API's JSON (None: no such session)."""
    rendered = rendered_seat_map(session_id)
    return None if rendered is None else rendered.body
