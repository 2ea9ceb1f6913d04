"""Catalogue endpoints whose reads the read replica may serve (apps.core.db_router)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from rest_framework.permissions import SAFE_METHODS
from rest_framework.request import Request
from rest_framework.response import Response

from apps.core.db_router import read_from_replica


class CatalogueReplicaReadsMixin:
    """For a viewset of the public catalogue (movies, cinemas, rooms, sessions): its list and
    detail reads may come from the replica, a moment behind the primary.

    Only what may be a moment old belongs here: never a seat map, a reservation or anything a
    write is decided on. The request's authentication runs before, on the primary, so a token
    issued a moment ago works at once. Staff read from the primary: they are the ones who edit the
    catalogue, and must see their own changes in the list they go back to (`is_staff` decides
    only where the rows come from here, never what anyone may do, and costs no query)."""

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return self._catalogue_read(super().list, request, *args, **kwargs)

    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return self._catalogue_read(super().retrieve, request, *args, **kwargs)

    @staticmethod
    def _catalogue_read(
        handler: Callable[..., Response], request: Request, *args: Any, **kwargs: Any
    ) -> Response:
        if request.method not in SAFE_METHODS or request.user.is_staff:
            return handler(request, *args, **kwargs)
        return read_from_replica(lambda: handler(request, *args, **kwargs))
