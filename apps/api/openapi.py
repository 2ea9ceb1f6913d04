"""Shared pieces of the OpenAPI description: the problem document and its responses."""

from __future__ import annotations

from drf_spectacular import openapi
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse
from rest_framework import serializers
from rest_framework.permissions import SAFE_METHODS

from apps.core.problems import PROBLEM_CONTENT_TYPE

from .permissions import ModelPermissionsOrReadOnly


class SessionTokenScheme(OpenApiAuthenticationExtension):
    """Documents `SessionTokenAuthentication`: allauth's app session token in `X-Session-Token`.

    Only operations that refuse an anonymous client (401) carry the requirement, so Swagger UI
    shows a padlock exactly where the token is needed. Catalogue reads
    (`ModelPermissionsOrReadOnly`; its writes need the token of a user holding the model
    permission) and `AllowAny` views carry none (see `AutoSchema.get_auth`). Which role an
    operation needs is said in its summary.
    """

    target_class = "apps.api.authentication.SessionTokenAuthentication"
    name = "SessionToken"

    def get_security_definition(self, auto_schema):
        return {"type": "apiKey", "in": "header", "name": "X-Session-Token"}

    def get_security_requirement(self, auto_schema):
        permissions = auto_schema.view.get_permissions()
        if (
            auto_schema.method in SAFE_METHODS
            and permissions
            and all(isinstance(p, ModelPermissionsOrReadOnly) for p in permissions)
        ):
            return None  # anyone may read
        return {self.name: []}


class AutoSchema(openapi.AutoSchema):
    def get_auth(self) -> list[dict]:
        """No requirement at all where anonymous clients may call: drf-spectacular lists the
        scheme plus an empty alternative (`[{SessionToken: []}, {}]`) for `AllowAny`, which
        Swagger UI draws as a padlock on a public operation."""
        requirements = super().get_auth()
        return [] if {} in requirements else requirements

    def _map_serializer_field(self, field, direction, bypass_extensions=False):
        """drf-spectacular states a `ListField`'s `max_length` but neither a nested list's
        (`many=True`) nor `allow_empty=False`: the schema would promise more than the code
        accepts."""
        schema = super()._map_serializer_field(field, direction, bypass_extensions)
        if isinstance(field, serializers.ListField | serializers.ListSerializer) and schema:
            if field.max_length is not None:
                schema["maxItems"] = field.max_length
            if field.min_length is not None or not field.allow_empty:
                schema["minItems"] = max(field.min_length or 0, 0 if field.allow_empty else 1)
        return schema


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


# Lists are paginated: a `page` past the last one (or not a positive number) is a 404.
PAGE_NOT_FOUND = "No such page (`not_found`): `page` is past the last page or not a number."
# Lists with filters reject a malformed filter value (an unknown id, a bad date) with a 400.
BAD_FILTER = "Invalid filter value (`invalid`, with `errors` naming the parameter)."


IDEMPOTENCY_KEY_HEADER = OpenApiParameter(
    name="Idempotency-Key",
    location=OpenApiParameter.HEADER,
    required=False,
    description=(
        "Unique key (e.g. a UUID) that makes a retry safe: the first response is stored for "
        "24 h and replayed, with `Idempotent-Replayed: true`, for a retry with the same body."
    ),
)
