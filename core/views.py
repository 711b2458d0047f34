"""The service's front door, `/`, and the OpenAPI schema in a form a browser shows.

`/` is where a person lands first, and where the admin's "View site" link goes: browsers
are sent to the API docs, API clients get the service's links as JSON.
"""

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.views.decorators.http import require_safe
from drf_spectacular.views import SpectacularAPIView

from core.openapi import OpenApiHtmlRenderer
from core.schema_view import CachedSchemaView

LINKS = {
    "docs": "/api/docs/",
    "redoc": "/api/redoc/",
    "schema": "/api/schema/",
    "health": "/healthz",
    "readiness": "/readyz",
    "admin": "/admin/",
}


@require_safe
def index(request: HttpRequest) -> HttpResponse:
    """GET /: a redirect to the Swagger UI for browsers (Accept: text/html before JSON),
    else `{"name", "docs", "redoc", "schema", "health", "readiness", "admin"}` with
    absolute URLs."""
    if request.get_preferred_type(["application/json", "text/html"]) == "text/html":
        return redirect(LINKS["docs"])
    links = {name: request.build_absolute_uri(path) for name, path in LINKS.items()}
    return JsonResponse({"name": "Todo API", **links})


class SchemaView(CachedSchemaView):
    """The OpenAPI document: YAML by default, JSON for `Accept: application/json` or
    `?format=json`, and a readable page for a browser (which would otherwise download the
    YAML, or get a 406 for `Accept: text/html`); each generated once per process."""

    renderer_classes = [*SpectacularAPIView.renderer_classes, OpenApiHtmlRenderer]
