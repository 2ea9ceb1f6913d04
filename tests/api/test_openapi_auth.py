"""Sign-up, login and logout are in the OpenAPI description, and what they document is what
allauth answers: an integrator can get the X-Session-Token from Swagger UI."""

import pytest
from openapi_spec_validator import validate
from rest_framework.test import APIClient

from apps.accounts.openapi import EXAMPLE_CREDENTIALS

pytestmark = pytest.mark.django_db

SIGNUP = "/_allauth/app/v1/auth/signup"
LOGIN = "/_allauth/app/v1/auth/login"
SESSION = "/_allauth/app/v1/auth/session"


def _schema_of(schema, ref_holder: dict) -> dict:
    name = ref_holder["$ref"].rpartition("/")[2]
    return schema["components"]["schemas"][name]


def _conforms(schema, document: dict, value) -> None:
    """`value` has every required member of `document` (resolving `$ref`), with its type."""
    if "$ref" in document:
        document = _schema_of(schema, document)
    kind = document.get("type")
    python_types = {"object": dict, "array": list, "string": str, "integer": int, "boolean": bool}
    if value is None:
        assert document.get("nullable"), document
        return
    assert isinstance(value, python_types[kind]), (value, document)
    if "enum" in document:
        assert value in document["enum"]
    if kind == "object":
        assert set(document.get("required", [])) <= set(value), (value, document)
        for name, member in document.get("properties", {}).items():
            if name in value:
                _conforms(schema, member, value[name])
    if kind == "array":
        for item in value:
            _conforms(schema, document["items"], item)


def _response_schema(schema, path: str, method: str, status: int) -> dict:
    response = schema["paths"][path][method]["responses"][str(status)]
    return response["content"]["application/json"]["schema"]


def test_the_schema_with_the_auth_operations_is_valid_openapi(schema):
    validate(schema)
    assert list(schema["paths"])[:3] == [SIGNUP, LOGIN, SESSION]  # first in Swagger UI
    assert set(schema["paths"][SESSION]) == {"delete"}


def test_signup_and_login_are_public_and_logout_needs_the_token(schema):
    assert "security" not in schema["paths"][SIGNUP]["post"]
    assert "security" not in schema["paths"][LOGIN]["post"]
    assert schema["paths"][SESSION]["delete"]["security"] == [{"SessionToken": []}]


def test_the_documented_answers_are_what_allauth_answers(schema):
    client = APIClient()
    signup = client.post(SIGNUP, EXAMPLE_CREDENTIALS, format="json")
    assert signup.status_code == 200, signup.content
    _conforms(schema, _response_schema(schema, SIGNUP, "post", 200), signup.json())

    taken = client.post(SIGNUP, EXAMPLE_CREDENTIALS, format="json")
    assert taken.status_code == 400
    _conforms(schema, _response_schema(schema, SIGNUP, "post", 400), taken.json())

    wrong = client.post(LOGIN, {**EXAMPLE_CREDENTIALS, "password": "not-it"}, format="json")
    assert wrong.status_code == 400
    _conforms(schema, _response_schema(schema, LOGIN, "post", 400), wrong.json())

    login = client.post(LOGIN, EXAMPLE_CREDENTIALS, format="json")
    assert login.status_code == 200, login.content
    _conforms(schema, _response_schema(schema, LOGIN, "post", 200), login.json())
    token = login.json()["meta"]["session_token"]
    assert client.get("/api/v1/me/purchases", HTTP_X_SESSION_TOKEN=token).status_code == 200

    again = client.post(LOGIN, EXAMPLE_CREDENTIALS, format="json", HTTP_X_SESSION_TOKEN=token)
    assert again.status_code == 409

    logout = client.delete(SESSION, HTTP_X_SESSION_TOKEN=token)
    assert logout.status_code == 401
    _conforms(schema, _response_schema(schema, SESSION, "delete", 401), logout.json())
    assert client.get("/api/v1/me/purchases", HTTP_X_SESSION_TOKEN=token).status_code == 401
    gone = client.delete(SESSION, HTTP_X_SESSION_TOKEN=token)
    assert gone.status_code == 410
    _conforms(schema, _response_schema(schema, SESSION, "delete", 410), gone.json())


def test_the_example_credentials_are_placeholders(schema):
    example = schema["components"]["schemas"]["AuthCredentialsRequest"]["example"]
    assert example == EXAMPLE_CREDENTIALS
    assert example["email"].endswith("@example.com")  # a reserved domain, nobody's mailbox
