"""Writes of the catalogue."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import ProtectedError
from django.utils.translation import gettext as _

from apps.core.db import validated_save
from apps.core.errors import Conflict

from .models import Movie

TRANSLATED_FIELDS = ("title", "synopsis")


def _translated_names() -> list[str]:
    languages = [code.replace("-", "_") for code, _name in settings.LANGUAGES]
    return [f"{field}_{lang}" for field in TRANSLATED_FIELDS for lang in languages]


def _apply(movie: Movie, data: dict[str, Any]) -> None:
    # Plain `title`/`synopsis` go to the request's language (modeltranslation's descriptor);
    # explicit per-language values win over them.
    for name in ("title", "synopsis", "duration_minutes"):
        if name in data:
            setattr(movie, name, data[name])
    for name in _translated_names():
        if name in data:
            setattr(movie, name, data[name])


@transaction.atomic
def movie_create(*, data: dict[str, Any]) -> Movie:
    movie = Movie()
    _apply(movie, data)
    return validated_save(movie)


@transaction.atomic
def movie_update(*, movie: Movie, data: dict[str, Any]) -> Movie:
    _apply(movie, data)
    return validated_save(movie)


def movie_delete(*, movie: Movie) -> None:
    try:
        movie.delete()
    except ProtectedError as exc:
        raise Conflict(_("This movie has sessions and cannot be deleted."), code="in_use") from exc
