"""allauth's headless sign-up, login and logout in the API's OpenAPI description.

allauth's views are not DRF views, so drf-spectacular does not see them; without them an
integrator reading Swagger UI cannot get the `X-Session-Token` every other call needs. allauth
ships a specification of its whole headless API (`HEADLESS_SERVE_SPECIFICATION`), but it serves
it as a separate document with dozens of flows this product turns off; these three operations,
as this product configures them (app client, e-mail and password only), are what clients use.
Their bodies are allauth's own JSON (`status`, `errors`, `meta`), not problem+json.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.generators import SchemaGenerator

AUTH_TAG = "auth"
AUTH_PREFIX = "/_allauth/app/v1/auth"
# The scheme the API's own operations declare (apps.api.openapi.SessionTokenScheme).
SECURITY_SCHEME = "SessionToken"
# A placeholder address: trying it from Swagger UI makes a throwaway account, nothing else.
EXAMPLE_CREDENTIALS = {"email": "integrator@example.com", "password": "choose-a-long-passphrase"}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema_name: str, description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": _ref(schema_name)}},
    }


def _object(
    properties: dict[str, Any], *, required: tuple[str, ...] = (), **more: Any
) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": properties,
        **({"required": list(required)} if required else {}),
        **more,
    }


_INTEGER = {"type": "integer"}
_STRING = {"type": "string"}
_EMAIL = {"type": "string", "format": "email"}

_SCHEMAS: dict[str, dict[str, Any]] = {
    "AuthCredentialsRequest": _object(
        {
            "email": _EMAIL,
            "password": {
                "type": "string",
                "format": "password",
                "description": "On sign-up it must pass the password rules; a 400 names each "
                "rule it breaks (e.g. `password_too_short`).",
            },
        },
        required=("email", "password"),
        example=EXAMPLE_CREDENTIALS,
    ),
    "AuthUser": _object(
        {
            "id": _INTEGER,
            "display": _STRING,
            "email": _EMAIL,
            "has_usable_password": {"type": "boolean"},
        }
    ),
    "AuthSession": _object(
        {
            "status": {"type": "integer", "enum": [200]},
            "data": _object(
                {"user": _ref("AuthUser"), "methods": {"type": "array", "items": _object({})}}
            ),
            "meta": _object(
                {
                    "is_authenticated": {"type": "boolean", "enum": [True]},
                    "session_token": {
                        "type": "string",
                        "description": "The `X-Session-Token` of every authenticated call "
                        "(in Swagger UI: the Authorize button).",
                    },
                },
                required=("is_authenticated", "session_token"),
            ),
        },
        required=("status", "data", "meta"),
        description="A signed-in session: send `meta.session_token` as `X-Session-Token`.",
    ),
    "AuthErrors": _object(
        {
            "status": _INTEGER,
            "errors": {
                "type": "array",
                "items": _object({"message": _STRING, "code": _STRING, "param": _STRING}),
            },
        },
        required=("status", "errors"),
        description="allauth's error body: one entry per problem, `param` names the field.",
    ),
    "AuthSignedOut": _object(
        {
            "status": _INTEGER,
            "data": _object({}),
            "meta": _object({"is_authenticated": {"type": "boolean", "nullable": True}}),
        },
        required=("status", "meta"),
        description="No signed-in session; `data.flows` lists what the client can do next.",
    ),
}

_CONFLICT = _json("AuthErrors", "Already signed in: the request carried a valid `X-Session-Token`.")
_THROTTLED = {"description": "Too many attempts from this client (`ACCOUNT_RATE_LIMITS_ENABLED`)."}


def _credentials_operation(summary: str, description: str, errors: str) -> dict[str, Any]:
    return {
        "operationId": summary.lower().replace(" ", "_").replace("-", "_"),
        "tags": [AUTH_TAG],
        "summary": summary,
        "description": description,
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": _ref("AuthCredentialsRequest")}},
        },
        "responses": {
            "200": _json("AuthSession", "Signed in: `meta.session_token` is the token."),
            "400": _json("AuthErrors", errors),
            "409": _CONFLICT,
            "429": _THROTTLED,
        },
    }


_PATHS: dict[str, dict[str, Any]] = {
    f"{AUTH_PREFIX}/signup": {
        "post": _credentials_operation(
            "Sign up",
            "Anyone: makes an account and signs it in at once (e-mail verification is "
            "optional, so the new user can buy right away).",
            "`email_taken`, `invalid` or a password rule (`password_too_short`, "
            "`password_too_common`, ...).",
        )
    },
    f"{AUTH_PREFIX}/login": {
        "post": _credentials_operation(
            "Log in",
            "Anyone: signs in with e-mail and password. In Swagger UI, copy "
            "`meta.session_token` into Authorize (`SessionToken`).",
            "`email_password_mismatch`, or a field missing.",
        )
    },
    f"{AUTH_PREFIX}/session": {
        "delete": {
            "operationId": "log_out",
            "tags": [AUTH_TAG],
            "summary": "Log out",
            "description": "Ends the session of the `X-Session-Token`. allauth answers 401 "
            "when it succeeds: the client is now signed out.",
            "security": [{SECURITY_SCHEME: []}],
            "responses": {
                "401": _json("AuthSignedOut", "Signed out (also without a valid token)."),
                "410": _json("AuthSignedOut", "The token's session had already ended."),
            },
        }
    },
}


def add_auth_endpoints(
    result: dict[str, Any], generator: SchemaGenerator, request: Any, public: bool
) -> dict[str, Any]:
    """drf-spectacular postprocessing hook: the three operations, listed first, so Swagger UI
    shows how to get a token before the calls that need one."""
    result["paths"] = {**_PATHS, **result["paths"]}
    result.setdefault("components", {}).setdefault("schemas", {}).update(_SCHEMAS)
    return result
