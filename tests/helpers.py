"""Small reads and requests shared by the test modules: seat ids, the seat map, outbox events, a
reservation posted through the API. Helpers that create data live in tests/factories.py."""

from __future__ import annotations

from typing import Any

from django.urls import reverse
from rest_framework.test import APIClient

from apps.bookings import seat_map as seat_map_reads
from apps.events.models import OutboxEvent
from apps.sessions.models import Session

RESERVATIONS_URL = "/api/v1/reservations"


def seat_ids(session: Session, count: int, *, offset: int = 0) -> list[int]:
    """The ids of `count` session seats of `session` in id order, from the `offset`-th on."""
    return list(session.seats.order_by("id").values_list("id", flat=True)[offset : offset + count])


def seat_map(session: Session) -> dict[int, str]:
    """The live seat map of the session, {session seat id: status}."""
    return {entry.id: entry.status for entry in seat_map_reads.seat_map(session)}


def outbox(event_type: str) -> list[dict[str, Any]]:
    """The data of every outbox event of this type, oldest first."""
    return list(
        OutboxEvent.objects.filter(type=event_type).order_by("seq").values_list("data", flat=True)
    )


def client_as(user) -> APIClient:
    """An API client acting as `user` without the login round trip (conftest's `client_for`
    logs in through the real endpoint)."""
    client = APIClient()
    client.force_authenticate(user)
    return client


def reserve(client, session_id: int, seats: list[Any], *, key: str | None = None, **extra):
    """POST /api/v1/reservations as `client`, with an Idempotency-Key header when `key` is given
    (`extra`: more request options, such as REMOTE_ADDR)."""
    headers = {} if key is None else {"HTTP_IDEMPOTENCY_KEY": key}
    return client.post(
        RESERVATIONS_URL,
        {"session": session_id, "seats": seats},
        format="json",
        **headers,
        **extra,
    )


def admin_url(model, page: str, *args) -> str:
    """The admin page of a model: `changelist`, `add`, `change` (with the object's id)..."""
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{page}", args=args)
