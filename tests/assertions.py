"""Assertions shared by the API tests: problem documents and "nothing changed" snapshots."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.utils import translation

from apps.accounts.models import User
from apps.catalog.models import Movie
from apps.rooms.models import Cinema, Room, Seat
from apps.sessions.models import Session, SessionSeat

PROBLEM = "application/problem+json"

_MODELS = (User, Movie, Cinema, Room, Seat, Session, SessionSeat)


def assert_problem(response, status: int, code: str) -> dict[str, Any]:
    """The response is an RFC 9457 problem with this status and code; returns its body."""
    assert response.status_code == status, response.content
    assert response["Content-Type"] == PROBLEM
    body = response.json()
    assert body["status"] == status
    assert body["code"] == code
    assert body["type"] == "about:blank"
    assert isinstance(body["detail"], str)
    assert body["detail"]
    return body


def field_errors(body: dict[str, Any]) -> dict[str | None, str]:
    """{field: code} of a validation problem."""
    return {error["field"]: error["code"] for error in body["errors"]}


def db_state() -> dict[str, list[dict[str, Any]]]:
    """Every row of every table the catalogue and auth APIs write, to prove nothing changed.

    Read in one fixed language: translated fields (modeltranslation) follow the active one.
    """
    with translation.override(settings.LANGUAGE_CODE):
        return {model._meta.label: list(model.objects.order_by("pk").values()) for model in _MODELS}
