"""Conditional requests and cached reads: one mechanism, `ConditionalReadMixin`, used by every
read route of the task API, and `check_if_match`, used by every write that carries `If-Match`.

ETags are strong: a digest of the exact body and of the paging headers (`X-Total-Count`,
`Link`), so a list whose total or neighbouring pages changed has a new ETag even when its page
did not. `If-None-Match` on a read is answered with a 304; `If-Match` on a write is compared,
under a row lock (tasks/services.py), with the ETag of the task as it is now: 412 when stale.

Cached reads and their invalidation: every user row carries `tasks_version`, which the database
bumps in the statement of every write to that user's tasks (the triggers on `Task`).
Authentication loads the user row on every request anyway, so a read knows the current
version for free and caches the whole response (body and every header the view set) under a
key that contains it:

    tasks:list:<user>:<version>:<digest of host, path and query>
    tasks:task:<user>:<version>:<task id>
    tasks:tags:<user>:<version>
    tasks:lists:<user>:<version>
    tasks:tasklist:<user>:<version>:<list id>

Lists carry the same triggers as tasks, and a list's counts change only with task writes,
which bump the version too.

A write makes every older key unreachable at once, in every worker (they then expire by TTL).
Because the version lives in the database, a write made while Redis was down bumps it too, so
nothing cached before an outage can be served after it. What depends on the clock as well as
on the data (lists filtered by `overdue`, the stats with their overdue count) is not cached.
"""

import hashlib
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest, HttpResponseBase, HttpResponseNotModified
from django.utils.http import parse_etags
from rest_framework.exceptions import APIException
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.settings import api_settings

from tasks.models import Task, TaskList
from tasks.serializers import TaskListSerializer, TaskSerializer

# Headers that describe the representation as much as its body does: the ETag covers them.
REPRESENTATION_HEADERS = ("X-Total-Count", "Link")


class PreconditionFailed(APIException):
    status_code = 412
    default_detail = "The task has changed since you read it; fetch it again and retry."
    default_code = "precondition_failed"


def render(data: Any) -> bytes:
    return api_settings.DEFAULT_RENDERER_CLASSES[0]().render(data)


def etag_of(body: bytes, headers: HttpResponseBase | dict[str, str] | None = None) -> str:
    digest = hashlib.blake2b(body, digest_size=16)
    for name in REPRESENTATION_HEADERS:
        if headers is not None and name in headers:
            digest.update(f"\n{name}: {headers[name]}".encode())
    return f'"{digest.hexdigest()}"'


def task_etag(task: Task) -> str:
    """The ETag of the task's own route, as a GET would answer it now."""
    return etag_of(render(TaskSerializer(task).data))


def list_etag(task_list: TaskList) -> str:
    """The ETag of the list's own route, as a GET would answer it now (counts included)."""
    counted = TaskList.objects.with_counts().get(pk=task_list.pk)
    return etag_of(render(TaskListSerializer(counted).data))


def check_if_match(offered: str | None, obj: Task | TaskList) -> None:
    """Raise 412 unless `If-Match` is absent, `*`, or lists the task's (or list's) current
    ETag (strong comparison, as RFC 9110 asks for writes: a weak or malformed tag never
    matches)."""
    if offered is None:
        return
    tags = parse_etags(offered)
    if "*" in tags:
        return
    current = list_etag(obj) if isinstance(obj, TaskList) else task_etag(obj)
    if current not in tags:
        raise PreconditionFailed()


def not_modified(request: HttpRequest, etag: str) -> bool:
    """`If-None-Match` lists this ETag (weak comparison, as RFC 9110 asks for GET)."""
    offered = request.headers.get("If-None-Match")
    if not offered:
        return False
    tags = [tag.removeprefix("W/") for tag in parse_etags(offered)]
    return "*" in tags or etag in tags


class ConditionalReadMixin:
    """For views whose read routes answer through `cached_read`, and whose every other
    successful answer carries the ETag of its body too (a write answers the new state)."""

    request: Request

    def read_cache_key(self) -> str | None:
        """The cache key of this read, or None when it must not be cached."""
        return None

    def cached_read(self, build: Callable[[], Response]) -> HttpResponseBase:
        """`build()`'s response, served from the cache when it is there; 304 when the client
        holds its ETag. Only a 200 is cached, with every header the view set."""
        key = self.read_cache_key()
        # The rate limiter may have read the entry already (accounts/throttles.py).
        prefetched_key, hit = getattr(self.request, "prefetched_read", (None, None))
        if key != prefetched_key:
            hit = cache.get(key) if key else None
        if hit is None:
            response = build()
            if response.status_code != 200:
                return response
            body = render(response.data)
            headers = {name: value for name, value in response.items() if name != "Content-Type"}
            headers["ETag"] = etag_of(body, headers)
            hit = (body, headers)
            if key:
                cache.set(key, hit, settings.CACHE_TTL_SECONDS)
        body, headers = hit
        if not_modified(self.request, headers["ETag"]):
            response = HttpResponseNotModified()
            response["ETag"] = headers["ETag"]
            return response
        return prerendered(body, headers=headers)

    def finalize_response(
        self, request: Request, response: HttpResponseBase, *args: Any, **kwargs: Any
    ) -> HttpResponseBase:
        response = super().finalize_response(request, response, *args, **kwargs)
        if response.status_code in (200, 201) and "ETag" not in response:
            response.render()
            response["ETag"] = etag_of(response.content, response)
        return response


def prerendered(body: bytes, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    """A DRF response whose JSON is already rendered (a cached or replayed one): DRF sends
    these exact bytes rather than rendering again."""
    response = Response(status=status, headers=headers)
    # Set here because DRF sets the type only when it renders, which it will not do.
    response["Content-Type"] = "application/json"
    response.content = body
    return response


def user_key(kind: str, request: Request, *parts: object) -> str:
    user = request.user
    return ":".join(["tasks", kind, user.pk, str(user.tasks_version), *map(str, parts)])


def list_key(request: Request) -> str | None:
    if "overdue" in request.query_params:
        return None
    target = f"{request.get_host()}{request.get_full_path()}"
    return user_key("list", request, hashlib.blake2b(target.encode(), digest_size=16).hexdigest())
