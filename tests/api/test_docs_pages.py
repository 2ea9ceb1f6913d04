"""The schema opens in a browser and tools keep YAML; Swagger UI and ReDoc are served offline."""

import json

import pytest
import yaml
from django.contrib.staticfiles import finders

pytestmark = pytest.mark.django_db

BROWSER_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"


def test_a_browser_gets_the_schema_as_json_it_can_show(client):
    response = client.get("/api/schema/", HTTP_ACCEPT=BROWSER_ACCEPT)

    assert response.status_code == 200
    assert response["Content-Type"].split(";")[0] == "application/json"
    assert response["Content-Disposition"].startswith("inline")
    assert json.loads(response.content)["openapi"].startswith("3.")


def test_format_json_is_plain_json_whatever_the_accept_header(client):
    for accept in (BROWSER_ACCEPT, "*/*"):
        response = client.get("/api/schema/", {"format": "json"}, HTTP_ACCEPT=accept)

        assert response.status_code == 200
        assert response["Content-Type"].split(";")[0] == "application/json"
        assert "paths" in json.loads(response.content)


@pytest.mark.parametrize(
    ("query", "accept", "content_type"),
    [
        ({}, "*/*", "application/vnd.oai.openapi"),
        ({}, None, "application/vnd.oai.openapi"),
        ({"format": "yaml"}, BROWSER_ACCEPT, "application/vnd.oai.openapi"),
        ({}, "application/yaml", "application/yaml"),
        ({}, "application/vnd.oai.openapi+json", "application/vnd.oai.openapi+json"),
    ],
)
def test_tools_keep_the_openapi_media_types(client, query, accept, content_type):
    headers = {"HTTP_ACCEPT": accept} if accept else {}
    response = client.get("/api/schema/", query, **headers)

    assert response.status_code == 200
    assert response["Content-Type"].split(";")[0] == content_type
    document = (
        json.loads(response.content) if "json" in content_type else yaml.safe_load(response.content)
    )
    assert document["info"]["title"] == "Cinema ticketing API"


def test_swagger_ui_is_served_from_the_sidecar(client):
    response = client.get("/api-docs")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    assert b"drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js" in response.content


def test_redoc_is_served_beside_swagger_from_the_sidecar(client):
    response = client.get("/api-docs/redoc")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    page = response.content.decode()
    assert "/static/drf_spectacular_sidecar/redoc/bundles/redoc.standalone.js" in page
    assert "cdn." not in page  # nothing fetched from outside
    assert '"/api/schema/"' in page
    assert finders.find("drf_spectacular_sidecar/redoc/bundles/redoc.standalone.js")
