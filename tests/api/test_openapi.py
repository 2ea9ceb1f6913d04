"""The published OpenAPI 3 description is valid and documents the errors clients must handle."""

import re
import uuid

import pytest
from openapi_spec_validator import validate

pytestmark = pytest.mark.django_db

HTTP_METHODS = {"get", "post", "put", "patch", "delete"}


def operations(schema):
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            if method in HTTP_METHODS:
                yield path, method, operation


def test_schema_is_valid_openapi_3(schema):
    assert schema["openapi"].startswith("3.")
    validate(schema)


def test_schema_covers_the_catalogue(schema):
    paths = set(schema["paths"])
    assert {
        "/api/v1/movies",
        "/api/v1/movies/{id}",
        "/api/v1/cinemas",
        "/api/v1/cinemas/{id}",
        "/api/v1/rooms",
        "/api/v1/rooms/{id}",
        "/api/v1/sessions",
        "/api/v1/sessions/{id}",
        "/api/v1/sessions/{id}/seats",
    } <= paths
    assert all(path.startswith(("/api/v1", "/_allauth/app/v1/auth/")) for path in paths)


def test_every_path_documents_a_4xx_response(schema):
    undocumented = [
        path
        for path, item in schema["paths"].items()
        if not any(
            str(status).startswith("4")
            for method, operation in item.items()
            if method in HTTP_METHODS
            for status in operation["responses"]
        )
    ]
    assert undocumented == []


def test_every_write_documents_auth_errors(schema):
    missing = [
        f"{method.upper()} {path}"
        for path, method, operation in operations(schema)
        if method != "get"
        and not {"401", "403"} & set(operation["responses"])
        and not path.startswith("/_allauth/")  # sign-up and login need no session
    ]
    # Providers post webhooks without a session: their signature is checked instead (a 400).
    assert missing == ["POST /api/v1/payments/webhooks/{provider}"]
    webhook = schema["paths"]["/api/v1/payments/webhooks/{provider}"]["post"]
    assert "security" not in webhook
    assert "400" in webhook["responses"]


def test_documented_errors_are_problem_json(schema):
    wrong = [
        f"{method.upper()} {path} {status}"
        for path, method, operation in operations(schema)
        for status, response in operation["responses"].items()
        if status.startswith(("4", "5"))
        and set(response.get("content", {})) != {"application/problem+json"}
        and not path.startswith("/_allauth/")  # allauth's own error bodies
    ]
    assert wrong == []


def test_session_token_security_scheme(schema):
    assert schema["components"]["securitySchemes"]["SessionToken"] == {
        "type": "apiKey",
        "in": "header",
        "name": "X-Session-Token",
    }


# Path parameters that name nothing: every call below is harmless, whoever makes it.
_PARAMETER_VALUES = {"integer": "999999", "uuid": str(uuid.uuid4())}


def _harmless_path(path: str, operation: dict) -> str:
    for parameter in operation.get("parameters", []):
        if parameter["in"] != "path":
            continue
        schema = parameter["schema"]
        value = schema.get("enum", [None])[0] or _PARAMETER_VALUES.get(
            schema.get("format", schema["type"]), "x"
        )
        path = path.replace("{" + parameter["name"] + "}", value)
    assert not re.search(r"\{\w+\}", path), path
    return path


def test_a_padlock_shows_exactly_where_an_anonymous_client_gets_401(schema, client):
    """Swagger UI draws a padlock for every operation with a security requirement: it must be
    there for the operations that need `X-Session-Token` and only for those."""
    wrong = []
    for path, method, operation in operations(schema):
        if path.startswith("/_allauth/"):
            continue  # allauth's own endpoints: their requirement is tested with them
        url = _harmless_path(path, operation)
        response = getattr(client, method)(url, {}, content_type="application/json")
        secured = operation.get("security", []) == [{"SessionToken": []}]
        assert operation.get("security") in (None, [{"SessionToken": []}]), (method, path)
        if secured != (response.status_code == 401):
            wrong.append(f"{method.upper()} {path}: secured={secured}, {response.status_code}")
    assert wrong == []


def test_public_operations_carry_no_requirement(schema):
    public = {
        f"{method.upper()} {path}"
        for path, method, operation in operations(schema)
        if "security" not in operation
    }
    assert {
        "GET /api/v1/movies",
        "GET /api/v1/sessions/{id}/seats",
        "GET /api/v1/sessions/{id}/seats/stream",
        "POST /api/v1/payments/webhooks/{provider}",
    } <= public
    assert "POST /api/v1/movies" not in public
    assert "POST /api/v1/reservations" not in public
