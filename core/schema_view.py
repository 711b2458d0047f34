"""The OpenAPI document's route, served from memory.

Apart from core.openapi, which drf-spectacular's views import (as the schema class) while
they are being defined: this module imports those views.
"""

from typing import Any, ClassVar

from django.http import HttpResponse
from drf_spectacular.views import SpectacularAPIView
from rest_framework.request import Request


class CachedSchemaView(SpectacularAPIView):
    """`GET /api/schema/`: the OpenAPI document, generated once per process.

    Generating it walks every route and serializer (about 150 ms of CPU) and rendering it
    as YAML takes about 60 ms more; the route is public and unthrottled, so every request
    paid that, which made it a cheap way to load the server. The document changes only with
    the code, and new code means new processes, so it is generated on first use and each
    format rendered once. `?version=` and `?lang=` are not honoured: the API has one version
    and English docs, and a cache keyed by them would grow with every value a client sends.
    """

    # None keeps this route out of the document it serves. The document itself is kept under
    # another name: in `schema` it would make this view look like one to document (with a
    # dict for its schema class) to every later generation in the process, which then fails.
    schema = None
    document: ClassVar[dict[str, Any] | None] = None
    rendered: ClassVar[dict[str, tuple[bytes, str]]] = {}

    def get(self, request: Request, *args: Any, **kwargs: Any) -> HttpResponse:
        renderer = request.accepted_renderer
        cached = self.rendered.get(renderer.media_type)
        if cached is None:
            if CachedSchemaView.document is None:
                generator = self.generator_class(urlconf=self.urlconf, patterns=self.patterns)
                CachedSchemaView.document = generator.get_schema(request=request, public=True)
            content_type = renderer.media_type
            if renderer.charset:
                content_type += f"; charset={renderer.charset}"
            body = renderer.render(CachedSchemaView.document, renderer.media_type, {})
            cached = self.rendered[renderer.media_type] = (body, content_type)
        body, content_type = cached
        response = HttpResponse(body, content_type=content_type)
        response["Content-Disposition"] = f'inline; filename="{self._get_filename(request, None)}"'
        return response

    @classmethod
    def forget(cls) -> None:
        """Generate anew on the next request (for tests that change the routes)."""
        cls.document = None
        cls.rendered.clear()
