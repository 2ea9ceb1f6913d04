"""The one application error hierarchy.

Services raise these; `apps.api.exception_handler` renders them as RFC 9457 problem details. Each
carries a stable machine `code`, an HTTP status and a translated human `detail`.
"""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _


class ApplicationError(Exception):
    status: int = 400
    code: str = "bad_request"
    # A retryable error (a lock wait that ran out) is never stored as an idempotent answer.
    retryable: bool = False
    default_detail: Any = _("The request could not be processed.")

    def __init__(
        self,
        detail: Any = None,
        *,
        code: str | None = None,
        extra: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.detail = detail if detail is not None else self.default_detail
        if code:
            self.code = code
        self.extra = extra or {}
        self.headers = headers or {}
        super().__init__(str(self.detail))


class InvalidInput(ApplicationError):
    """Input that is well-formed but breaks a business rule; `field` names the culprit."""

    status = 400
    code = "invalid"
    default_detail = _("The request contains invalid data.")

    def __init__(
        self, detail: Any = None, *, field: str | None = None, code: str | None = None
    ) -> None:
        super().__init__(detail, code=code)
        self.field = field
        if field:
            self.extra["errors"] = [{"field": field, "code": self.code, "detail": str(self.detail)}]


class NotFound(ApplicationError):
    status = 404
    code = "not_found"
    default_detail = _("Not found.")


class Conflict(ApplicationError):
    status = 409
    code = "conflict"
    default_detail = _("The request conflicts with the current state of the resource.")
