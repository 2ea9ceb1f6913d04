"""The OpenAPI schema as a browser shows it and as tools fetch it."""

from __future__ import annotations

from drf_spectacular.renderers import (
    OpenApiJsonRenderer,
    OpenApiJsonRenderer2,
    OpenApiYamlRenderer,
    OpenApiYamlRenderer2,
)
from drf_spectacular.views import SpectacularAPIView
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.renderers import BaseRenderer
from rest_framework.request import Request

BROWSER_MEDIA_TYPE = "application/json"


class SchemaNegotiation(DefaultContentNegotiation):
    """A browser asks for HTML first and would download the OpenAPI media types
    (`application/vnd.oai.openapi`, YAML or JSON) as a file: it gets the schema as plain
    `application/json`, which it shows. Tools (`*/*`, a YAML type, `?format=yaml`) keep YAML."""

    def select_renderer(
        self, request: Request, renderers: list[BaseRenderer], format_suffix: str | None = None
    ) -> tuple[BaseRenderer, str]:
        asked_format = format_suffix or request.query_params.get(self.settings.URL_FORMAT_OVERRIDE)
        if not asked_format and "text/html" in request.META.get("HTTP_ACCEPT", ""):
            for renderer in renderers:
                if renderer.media_type == BROWSER_MEDIA_TYPE:
                    return renderer, renderer.media_type
        return super().select_renderer(request, renderers, format_suffix)


class SchemaView(SpectacularAPIView):
    """`/api/schema/`: YAML by default; `?format=json` is `application/json` (the JSON
    renderer with the OpenAPI media type stays for clients that ask for it by name)."""

    content_negotiation_class = SchemaNegotiation
    renderer_classes = [
        OpenApiYamlRenderer,
        OpenApiYamlRenderer2,
        OpenApiJsonRenderer2,  # first of the JSON ones: `?format=json` picks it
        OpenApiJsonRenderer,
    ]
