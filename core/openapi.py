"""OpenAPI pieces shared by every route: error bodies, bearer auth, the optional slash.

drf-spectacular imports this module as the project's schema class (`REST_FRAMEWORK`
`DEFAULT_SCHEMA_CLASS`), which also registers the authentication extension below.

Every operation gets the error responses that can happen to it, so a route
added later documents its 400/401/403/404/413/415/429 without repeating them. Errors that
only some routes have (409, 412, 422, ...) are declared where they happen, with
`error_response()`:

    @extend_schema(responses={200: TaskSerializer, 412: error_response("The task changed.")})
"""

from typing import Any

from django.utils.html import escape
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.plumbing import build_bearer_security_scheme_object
from drf_spectacular.renderers import OpenApiYamlRenderer
from drf_spectacular.utils import OpenApiExample, OpenApiResponse
from rest_framework import permissions, renderers, serializers

BODY_METHODS = {"POST", "PUT", "PATCH"}


class ErrorSerializer(serializers.Serializer):
    """Every error body: one human sentence."""

    detail = serializers.CharField(help_text="One human sentence saying what went wrong.")


class ValidationErrorSerializer(ErrorSerializer):
    """A 400: the sentence, and every message under the field (or parameter) it is about.

    `errors` is absent when the body could not be read at all (malformed JSON).
    """

    errors = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()),
        required=False,
        help_text="Messages per field or query parameter; `non_field_errors` for the body.",
    )


def error_response(description: str, example: str | None = None) -> OpenApiResponse:
    """A documented `{"detail": ...}` error, for the statuses only some routes have."""
    examples = [OpenApiExample("error", value={"detail": example})] if example else []
    return OpenApiResponse(ErrorSerializer, description=description, examples=examples)


VALIDATION_ERROR = OpenApiResponse(
    ValidationErrorSerializer,
    description=(
        "The body or a query parameter is invalid (`errors` names each one), "
        "or the body is not valid JSON."
    ),
    examples=[
        OpenApiExample(
            "validation error",
            value={
                "detail": "title: This field may not be blank.",
                "errors": {"title": ["This field may not be blank."]},
            },
        )
    ],
)
UNAUTHENTICATED = error_response(
    "No bearer token, or one that is malformed, expired or wrongly signed.",
    "Authentication credentials were not provided.",
)
FORBIDDEN = error_response(
    "The token is valid, but its user may not use this path (another user's id).",
    "You may only access your own tasks.",
)
NOT_FOUND = error_response(
    "No such resource for this user; another user's resources are reported the same way.",
    "Not found.",
)
TOO_LARGE = error_response("The request body is over 1 MiB.", "The request body is too large.")
UNSUPPORTED_MEDIA_TYPE = error_response(
    "The body is not `application/json`.",
    'Unsupported media type "text/plain" in request.',
)
THROTTLED = error_response(
    "Too many requests; wait for the number of seconds in `Retry-After`.",
    "Request was throttled. Expected available in 30 seconds.",
)
RETRY_AFTER_HEADER = {
    "Retry-After": {
        "schema": {"type": "integer"},
        "description": "Seconds until the next request is allowed.",
    }
}


class ApiAutoSchema(AutoSchema):
    """drf-spectacular's schema, plus the error responses each operation can produce."""

    def _get_response_bodies(self, direction: str = "response") -> dict[str, Any]:
        responses = super()._get_response_bodies(direction)
        for status, response in self.error_responses().items():
            if str(status) not in responses:
                responses[str(status)] = self._get_response_for_code(
                    response, str(status), direction=direction
                )
        if "429" in responses:
            responses["429"].setdefault("headers", {}).update(RETRY_AFTER_HEADER)
        return responses

    def error_responses(self) -> dict[int, OpenApiResponse]:
        permission_classes = [type(p) for p in self.view.get_permissions()]
        is_public = permissions.AllowAny in permission_classes
        takes_body = self.method in BODY_METHODS
        errors: dict[int, OpenApiResponse] = {}
        if takes_body or self.has_query_parameters():
            errors[400] = VALIDATION_ERROR
        if not is_public:
            errors[401] = UNAUTHENTICATED
            # Permissions beyond "signed in" (such as owning the path) can refuse a valid token.
            if set(permission_classes) - {permissions.IsAuthenticated}:
                errors[403] = FORBIDDEN
        if "{" in self.path:
            errors[404] = NOT_FOUND
        if takes_body:
            errors[413] = TOO_LARGE
            errors[415] = UNSUPPORTED_MEDIA_TYPE
        if self.view.get_throttles():
            errors[429] = THROTTLED
        return errors

    def has_query_parameters(self) -> bool:
        return any(parameter["in"] == "query" for parameter in self._get_parameters())


class BearerTokenScheme(OpenApiAuthenticationExtension):
    """`Authorization: Bearer <JWT>`, for Better Auth's tokens and this backend's own."""

    target_class = "accounts.authentication.BearerTokenAuthentication"
    match_subclasses = True
    name = "bearerAuth"

    def get_security_definition(self, auto_schema: AutoSchema) -> dict[str, Any]:
        return build_bearer_security_scheme_object(
            header_name="Authorization", token_prefix="Bearer", bearer_format="JWT"
        )


def strip_optional_trailing_slash(
    endpoints: list[tuple[str, str, str, Any]], **kwargs: Any
) -> list[tuple[str, str, str, Any]]:
    """Routes match with and without a trailing slash (`/?$`); document them once, without.

    drf-spectacular renders the optional slash as a slash, so `/api/{user_id}/tasks/` would be
    documented although clients (and the README) write `/api/{user_id}/tasks`.
    """
    seen: set[tuple[str, str]] = set()
    cleaned = []
    for path, path_regex, method, callback in endpoints:
        if path_regex.endswith("/?$") and path.endswith("/"):
            path = path.rstrip("/")
        if (path, method) not in seen:
            seen.add((path, method))
            cleaned.append((path, path_regex, method, callback))
    return cleaned


class OpenApiHtmlRenderer(renderers.BaseRenderer):
    """The schema's YAML on a plain HTML page, for a browser that asks for text/html.

    Self-contained (no script, style or font from anywhere), with links to the docs pages.
    """

    media_type = "text/html"
    format = "html"
    charset = "utf-8"

    def render(
        self,
        data: Any,
        accepted_media_type: str | None = None,
        renderer_context: dict[str, Any] | None = None,
    ) -> bytes:
        document = OpenApiYamlRenderer().render(data, renderer_context=renderer_context)
        return (
            '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
            "<title>Todo API: OpenAPI schema</title></head><body>"
            '<p>OpenAPI 3 schema. Read it in <a href="/api/docs/">Swagger UI</a> or '
            '<a href="/api/redoc/">ReDoc</a>; as a file: <a href="?format=yaml">YAML</a>, '
            '<a href="?format=json">JSON</a>.</p>'
            f"<pre>{escape(document.decode())}</pre></body></html>"
        ).encode()
