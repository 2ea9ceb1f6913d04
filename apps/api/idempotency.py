"""Idempotency-Key handling (IETF draft, as Stripe does it) for unsafe API requests.

The key row is inserted first, inside the request's transaction. A retry with the same key blocks on
the unique index until the first request commits, then replays its stored response; if the first
rolled back, the retry simply runs. A retry that waits too long gets 409 `idempotency_key_in_use`.

A request that calls a third party (a payment provider) cannot run inside one transaction: its own
writes must commit before the call. `idempotent_external()` commits the key as a claim first, runs
the handler outside any transaction, then stores its answer. A retry meanwhile gets the 409; a claim
whose request died is taken over after `IDEMPOTENCY_CLAIM_SECONDS`, which is safe because such
handlers pass a key of their own to the third party.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from datetime import datetime, timedelta
from urllib.parse import urlencode

from django.conf import settings
from django.db import IntegrityError, OperationalError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.utils.encoders import JSONEncoder

from apps.core.errors import ApplicationError, Conflict, InvalidInput
from apps.core.locking import is_lock_timeout, set_lock_timeout

from .exception_handler import problem_exception_handler
from .models import IdempotencyKey

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
MAX_KEY_LENGTH = 255


class IdempotencyKeyReused(ApplicationError):
    status = 422
    code = "idempotency_key_reused"
    # Lazy: a class attribute is evaluated once, at import, but must follow each request's language.
    default_detail = gettext_lazy("This Idempotency-Key was already used with a different request.")


class IdempotencyKeyInUse(Conflict):
    code = "idempotency_key_in_use"
    retryable = True


def fingerprint(request: Request) -> str:
    body = json.dumps(request.data, sort_keys=True, separators=(",", ":"), default=str)
    raw = f"{request.method}\n{request.path}\n{body}"
    if request.GET:  # e.g. `?hold_seconds=`: part of what was asked. Absent, the digest of a
        # key stored before query strings counted stays the same.
        raw += "\n" + urlencode(sorted(request.GET.lists()), doseq=True)
    return hashlib.sha256(raw.encode()).hexdigest()


def _replay(record: IdempotencyKey, request_fingerprint: str) -> Response:
    if record.fingerprint != request_fingerprint:
        raise IdempotencyKeyReused()
    body = json.loads(record.response_body) if record.response_body else None
    response = Response(body, status=record.status_code, content_type=record.content_type)
    response[REPLAYED_HEADER] = "true"
    return response


def _run_and_store(record: IdempotencyKey, request: Request, handler) -> Response:
    try:
        response = handler()
    except ApplicationError as error:
        if error.retryable:
            raise
        # A business refusal (seats taken, payment declined) is the request's final answer.
        response = problem_exception_handler(error, {"request": request})
    record.status_code = response.status_code
    record.response_body = (
        "" if response.data is None else json.dumps(response.data, cls=JSONEncoder)
    )
    record.content_type = response.content_type or "application/json"
    record.save(update_fields=["status_code", "response_body", "content_type"])
    return response


def _insert_record(request: Request, key: str, request_fingerprint: str) -> IdempotencyKey | None:
    """The key's record, new; None when the key is taken (waiting, inside a transaction, for
    the request that took it to commit or roll back)."""
    try:
        with transaction.atomic():
            return IdempotencyKey.objects.create(
                user=request.user,
                key=key,
                method=request.method,
                path=request.path[:255],
                fingerprint=request_fingerprint,
            )
    except IntegrityError:
        return None


def idempotent(request: Request, handler: Callable[[], Response]) -> Response:
    """Run `handler` at most once per (user, Idempotency-Key); replay its response after that."""
    key = _checked_key(request)
    if key is None:
        return handler()
    request_fingerprint = fingerprint(request)
    with transaction.atomic():
        set_lock_timeout(settings.IDEMPOTENCY_WAIT_SECONDS)
        try:
            record = _insert_record(request, key, request_fingerprint)
        except OperationalError as exc:
            if not is_lock_timeout(exc):
                raise
            raise IdempotencyKeyInUse(
                _("A request with this Idempotency-Key is still in progress."),
                headers={"Retry-After": "1"},
            ) from exc
        if record is not None:
            return _run_and_store(record, request, handler)
    existing = IdempotencyKey.objects.get(user=request.user, key=key)
    return _replay(existing, request_fingerprint)


def _claim(request: Request, key: str, request_fingerprint: str) -> IdempotencyKey | Response:
    """Commit a claim on the key, or answer from an earlier request with it."""
    record = _insert_record(request, key, request_fingerprint)
    if record is not None:
        return record
    existing = IdempotencyKey.objects.get(user=request.user, key=key)
    if existing.fingerprint != request_fingerprint or existing.status_code is not None:
        return _replay(existing, request_fingerprint)
    # Still claimed: in flight, unless its request died. Only one retry can take it over.
    stale = timezone.now() - timedelta(seconds=settings.IDEMPOTENCY_CLAIM_SECONDS)
    taken = IdempotencyKey.objects.filter(
        pk=existing.pk, status_code__isnull=True, created_at__lt=stale
    ).update(created_at=timezone.now())
    if not taken:
        raise IdempotencyKeyInUse(
            _("A request with this Idempotency-Key is still in progress."),
            headers={"Retry-After": "1"},
        )
    return existing


def idempotent_external(request: Request, handler: Callable[[], Response]) -> Response:
    """Like `idempotent`, for handlers that commit their own writes and call a third party."""
    key = _checked_key(request)
    if key is None:
        return handler()
    claimed = _claim(request, key, fingerprint(request))
    if isinstance(claimed, Response):
        return claimed
    try:
        return _run_and_store(claimed, request, handler)
    except BaseException:
        # No answer to keep (a retryable error or a crash): the next retry runs again.
        IdempotencyKey.objects.filter(pk=claimed.pk, status_code__isnull=True).delete()
        raise


def _checked_key(request: Request) -> str | None:
    key = request.headers.get(HEADER)
    if key is not None and (not key.strip() or len(key) > MAX_KEY_LENGTH):
        raise InvalidInput(
            _("Idempotency-Key must be 1 to 255 characters."),
            field=HEADER,
            code="invalid_idempotency_key",
        )
    return key


def prune_idempotency_keys(*, older_than: datetime | None = None) -> int:
    """Delete keys past their retention (24 h by default); returns how many went."""
    cutoff = older_than or timezone.now() - settings.IDEMPOTENCY_KEY_TTL
    deleted, _details = IdempotencyKey.objects.filter(created_at__lt=cutoff).delete()
    return deleted
