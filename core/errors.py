"""JSON error bodies for everything under /api/.

Every error is `{"detail": "<one sentence>"}`; validation errors add
`"errors": {"<field>": ["<message>", ...]}` and are 400s.
"""

import logging
from typing import Any

from django.core.exceptions import ObjectDoesNotExist, PermissionDenied
from django.db import InterfaceError, OperationalError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.views import defaults
from django.views.decorators.csrf import csrf_exempt
from rest_framework import exceptions
from rest_framework.response import Response
from rest_framework.views import exception_handler

logger = logging.getLogger(__name__)

SERVER_ERROR_DETAIL = "The server hit an unexpected error; it has been logged."
DATABASE_UNAVAILABLE_DETAIL = "The database is unavailable for a moment; retry shortly."


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Response:
    """DRF's handler, with every body reshaped to the contract and no 500 left as HTML."""
    if isinstance(exc, OperationalError | InterfaceError):
        # The database is unreachable, restarting or dropped this connection: not a bug, and
        # the same request can succeed a moment later on a new connection.
        logger.warning("Database unavailable in %s: %s", context["view"].__class__.__name__, exc)
        return Response(
            {"detail": DATABASE_UNAVAILABLE_DETAIL}, status=503, headers={"Retry-After": "1"}
        )
    if isinstance(exc, Http404 | ObjectDoesNotExist):
        # ObjectDoesNotExist: what a write path raises for a row deleted since it was read.
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()
    response = exception_handler(exc, context)
    if response is None:
        logger.exception("Unhandled error in %s", context["view"].__class__.__name__)
        return Response({"detail": SERVER_ERROR_DETAIL}, status=500)
    if isinstance(exc, exceptions.ValidationError):
        response.data = validation_error_body(exc.detail)
    else:
        response.data = {"detail": first_message(response.data)}
    return response


def validation_error_body(detail: Any) -> dict[str, Any]:
    if not isinstance(detail, dict):
        detail = {"non_field_errors": detail}
    errors = {field: flatten_messages(messages) for field, messages in detail.items()}
    field, messages = next(iter(errors.items()))
    sentence = messages[0] if field == "non_field_errors" else f"{field}: {messages[0]}"
    return {"detail": sentence, "errors": errors}


def flatten_messages(detail: Any) -> list[str]:
    """Nested serializer errors (lists of dicts) become plain strings under their field."""
    if isinstance(detail, dict):
        return [f"{key}: {m}" for key, value in detail.items() for m in flatten_messages(value)]
    if isinstance(detail, list):
        return [message for item in detail for message in flatten_messages(item)]
    return [str(detail)]


def first_message(data: Any) -> str:
    """One sentence out of whatever an exception carried (SimpleJWT nests its reasons)."""
    if isinstance(data, dict):
        data = data.get("detail", next(iter(data.values()), ""))
    if isinstance(data, list):
        data = data[0] if data else ""
    if isinstance(data, dict | list):
        return first_message(data)
    return str(data)


def is_api_request(request: HttpRequest) -> bool:
    return request.path.startswith("/api/")


# Exempt, or CSRF middleware would answer an unknown POST/PUT/DELETE with an HTML 403.
@csrf_exempt
def api_not_found(request: HttpRequest, *args: Any, **kwargs: Any) -> JsonResponse:
    """Unknown routes under /api/ (also with DEBUG on, where Django would answer in HTML)."""
    return JsonResponse({"detail": "No such route."}, status=404)


def not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    if is_api_request(request):
        return api_not_found(request)
    return defaults.page_not_found(request, exception)


def server_error(request: HttpRequest) -> HttpResponse:
    if is_api_request(request):
        return JsonResponse({"detail": SERVER_ERROR_DETAIL}, status=500)
    return defaults.server_error(request)


def bad_request(request: HttpRequest, exception: Exception) -> HttpResponse:
    if is_api_request(request):
        return JsonResponse({"detail": "The request was malformed."}, status=400)
    return defaults.bad_request(request, exception)
