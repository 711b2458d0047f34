"""Request id and access log (one line per request, with the id the client sees); body limit."""

import io
import logging
import re
import time
import uuid
from collections.abc import Callable
from contextvars import ContextVar
from typing import BinaryIO

from django.conf import settings
from django.core.handlers.wsgi import LimitedStream
from django.http import HttpRequest, HttpResponse, JsonResponse

access_log = logging.getLogger("api.access")
current_request_id: ContextVar[str] = ContextVar("current_request_id", default="-")

# A client's id is echoed back and written to logs, so only short, plain ids are trusted.
SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")


def authenticated_user_id(request: HttpRequest) -> str | None:
    """The id of the user the request was served for, if any (DRF sets `request.user`)."""
    user = getattr(request, "user", None)
    return user.pk if user is not None and user.is_authenticated else None


class RequestIDLogFilter(logging.Filter):
    """Stamps every log record with the id of the request being served (or `-`)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = current_request_id.get()
        return True


class RequestIDMiddleware:
    """Gives every request an `X-Request-ID` and logs one line when its response leaves.

    The client's own id is kept when it is sane, so a frontend can correlate its logs with
    ours; otherwise a new one is made.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        offered = request.headers.get("X-Request-ID", "")
        request_id = offered if SANE_REQUEST_ID.fullmatch(offered) else uuid.uuid4().hex
        token = current_request_id.set(request_id)
        request.request_id = request_id
        try:
            response = self.get_response(request)
            response["X-Request-ID"] = request_id
            duration_ms = round((time.perf_counter() - started) * 1000, 1)
            user_id = authenticated_user_id(request)
            access_log.info(
                "%s %s %s %.1fms user=%s",
                request.method,
                request.path,
                response.status_code,
                duration_ms,
                user_id or "-",
                extra={
                    "method": request.method,
                    "path": request.path,
                    "status": response.status_code,
                    "duration_ms": duration_ms,
                    "user_id": user_id,
                },
            )
            return response
        finally:
            current_request_id.reset(token)


def request_too_large() -> JsonResponse:
    return JsonResponse({"detail": "The request body is too large (limit 1 MiB)."}, status=413)


def read_at_most(stream: BinaryIO, limit: int) -> bytes:
    """Up to `limit` bytes of a stream of unknown length, in small reads."""
    chunks: list[bytes] = []
    remaining = limit
    while remaining > 0:
        chunk = stream.read(min(remaining, 64 * 1024))
        if not chunk:
            break
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)


class RequestBodyLimitMiddleware:
    """Refuses request bodies over `REQUEST_BODY_MAX_BYTES` with a JSON 413.

    DRF's JSON parser reads the request stream itself, so Django's
    `DATA_UPLOAD_MAX_MEMORY_SIZE` (which guards form parsing and `request.body`) never sees a
    JSON body. A declared `Content-Length` is checked before anything is read. A chunked body
    declares no length, so it is read up to one byte past the limit; when it fits, it is
    handed on as if it had been sent with a length (Django and DRF otherwise ignore it).
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        limit = settings.REQUEST_BODY_MAX_BYTES
        declared = request.META.get("CONTENT_LENGTH", "")
        if declared:
            if not declared.isdigit():
                return JsonResponse({"detail": "Content-Length is not a number."}, status=400)
            if int(declared) > limit:
                return request_too_large()
        elif "chunked" in request.headers.get("Transfer-Encoding", "").lower():
            raw_stream = getattr(request, "environ", {}).get("wsgi.input")
            if raw_stream is not None:
                body = read_at_most(raw_stream, limit + 1)
                if len(body) > limit:
                    return request_too_large()
                request.META["CONTENT_LENGTH"] = str(len(body))
                request._stream = LimitedStream(io.BytesIO(body), len(body))
        return self.get_response(request)
