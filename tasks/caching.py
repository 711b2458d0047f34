"""Cached task reads with exact invalidation, ETags and conditional writes (API.md §4).

Invalidation: every user row carries `tasks_version`, and every write to a user's tasks bumps
it, in the database, in the statement that writes the task: triggers on the task table do it
(migration 0004), so no write path can forget, be it the API, the admin, a bulk update or
COPY. Authentication loads the user row on every request anyway, so a read knows the current
version for free and caches under keys that contain it:

    tasks:list:<user>:<version>:<digest of host, path and query>   rendered list + headers
    tasks:task:<user>:<version>:<task id>                          rendered task

A write makes every older key unreachable at once, in every worker (they then expire by TTL).
Because the version lives in the database, a write made while Redis was down bumps it too, so
nothing cached before an outage can be served after it. Lists filtered with `overdue` depend
on the clock as well as on the data, so they are never cached.

ETags are a digest of the exact body, so they are strong. A cache hit carries its ETag, so
`If-None-Match` is answered with a 304 without rebuilding anything. A write that carries
`If-Match` compares it with the ETag of the task as it is now, read under a row lock in the
write's transaction, so of two writers holding the same ETag only the first succeeds; the
second gets a 412.
"""

import hashlib
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse
from django.utils.http import parse_etags
from rest_framework.exceptions import APIException
from rest_framework.settings import api_settings

from accounts.models import User

CACHED_HEADERS = ("X-Total-Count", "Link")


class PreconditionFailed(APIException):
    status_code = 412
    default_detail = "The task has changed since you read it; fetch it again and retry."
    default_code = "precondition_failed"


def render(data: Any) -> bytes:
    renderer = api_settings.DEFAULT_RENDERER_CLASSES[0]()
    return renderer.render(data)


def etag_of(body: bytes) -> str:
    return f'"{hashlib.blake2b(body, digest_size=16).hexdigest()}"'


def json_response(body: bytes, etag: str, headers: dict[str, str] | None = None) -> HttpResponse:
    response = HttpResponse(body, content_type="application/json")
    response["ETag"] = etag
    for name, value in (headers or {}).items():
        response[name] = value
    return response


def not_modified(request: HttpRequest, etag: str) -> bool:
    """`If-None-Match` lists this ETag (weak comparison, as RFC 9110 asks for GET)."""
    offered = request.headers.get("If-None-Match")
    if not offered:
        return False
    tags = [tag.removeprefix("W/") for tag in parse_etags(offered)]
    return "*" in tags or etag in tags


def not_modified_response(etag: str) -> HttpResponse:
    response = HttpResponse(status=304)
    del response["Content-Type"]  # a 304 has no body to describe
    response["ETag"] = etag
    return response


def check_if_match(request: HttpRequest, current_body: Callable[[], bytes]) -> None:
    """Raise 412 unless `If-Match` is absent, `*`, or the task's current ETag (strong).

    The body is rendered only when a client sent `If-Match`.
    """
    offered = request.headers.get("If-Match")
    if offered is None:
        return
    tags = parse_etags(offered)
    if "*" not in tags and etag_of(current_body()) not in tags:
        raise PreconditionFailed()


def list_key(request: HttpRequest, user: User) -> str | None:
    """The cache key of a list request, or None when the list must not be cached."""
    if "overdue" in request.GET:
        return None
    target = f"{request.get_host()}{request.get_full_path()}"
    digest = hashlib.blake2b(target.encode(), digest_size=16).hexdigest()
    return f"tasks:list:{user.pk}:{user.tasks_version}:{digest}"


def task_key(user: User, task_id: str) -> str:
    return f"tasks:task:{user.pk}:{user.tasks_version}:{task_id}"


def cached(key: str | None) -> tuple[bytes, str, dict[str, str]] | None:
    return cache.get(key) if key else None


def store(key: str | None, body: bytes, etag: str, headers: dict[str, str]) -> None:
    if key:
        cache.set(key, (body, etag, headers), settings.CACHE_TTL_SECONDS)
