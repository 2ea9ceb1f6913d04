"""Shared pieces of the OpenAPI description: the problem document and its responses."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, OpenApiResponse
from rest_framework import serializers

from .problems import PROBLEM_CONTENT_TYPE


class ProblemFieldErrorSerializer(serializers.Serializer):
    field = serializers.CharField(allow_null=True, help_text="Dotted path of the invalid field.")
    code = serializers.CharField()
    detail = serializers.CharField()


class ProblemSerializer(serializers.Serializer):
    """RFC 9457 problem details."""

    type = serializers.CharField(default="about:blank")
    title = serializers.CharField(help_text="HTTP status phrase.")
    status = serializers.IntegerField()
    code = serializers.CharField(help_text="Stable machine-readable error code.")
    detail = serializers.CharField(help_text="Human explanation, in the request's language.")
    instance = serializers.CharField(required=False, help_text="Path of the request.")
    errors = ProblemFieldErrorSerializer(many=True, required=False)


_DESCRIPTIONS = {
    400: "Invalid input (`code`: `invalid` with `errors`, or a business rule's code).",
    401: "No or invalid `X-Session-Token` (`not_authenticated`, `authentication_failed`).",
    402: "Payment declined (`payment_declined`).",
    403: "Authenticated but not allowed (`permission_denied`).",
    404: "Not found, or not yours (`not_found`).",
    409: "Conflict with the current state.",
    410: "Gone.",
    422: "Idempotency-Key reused with another request body (`idempotency_key_reused`).",
    429: "Too many requests (`throttled`); see `Retry-After`.",
}


def problems(*statuses: int, **descriptions: str) -> dict[tuple[int, str], OpenApiResponse]:
    """OpenAPI responses for the given error statuses, all documented as problem+json.

    `descriptions` overrides the generic text per status, keyed `s409="..."`.
    """
    return {
        (status, PROBLEM_CONTENT_TYPE): OpenApiResponse(
            response=ProblemSerializer,
            description=descriptions.get(f"s{status}", _DESCRIPTIONS.get(status, "")),
        )
        for status in statuses
    }


IDEMPOTENCY_KEY_HEADER = OpenApiParameter(
    name="Idempotency-Key",
    location=OpenApiParameter.HEADER,
    required=False,
    description=(
        "Unique key (e.g. a UUID) that makes a retry safe: the first response is stored for "
        "24 h and replayed, with `Idempotent-Replayed: true`, for a retry with the same body."
    ),
)
