"""Objects a service has just written, attached to their parent as if prefetched.

A service that creates a parent and its children in one transaction already holds everything
the answer shows; reading it back would cost queries on the hottest paths. This does what
`prefetch_related` does with the rows it fetched (a queryset whose results are filled in), so
`parent.children.all()` gives these objects and any other queryset method still queries.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.db import models


def attach_prefetched(instance: models.Model, related_name: str, objects: Iterable) -> None:
    queryset = getattr(instance, related_name).all()
    queryset._result_cache = list(objects)
    queryset._prefetch_done = True
    cache = getattr(instance, "_prefetched_objects_cache", None)
    if cache is None:
        cache = instance._prefetched_objects_cache = {}
    cache[related_name] = queryset
