from collections.abc import Callable

from django.db import transaction
from django.db.models import QuerySet
from django.http import HttpResponse
from rest_framework import viewsets
from rest_framework.decorators import action
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import BaseSerializer

from accounts.permissions import IsPathUser
from tasks import caching, idempotency
from tasks.models import Task
from tasks.serializers import CompleteSerializer, TaskSerializer

LOCKING_METHODS = {"PUT", "PATCH", "DELETE"}


class TaskViewSet(viewsets.ModelViewSet):
    """The tasks of the user named in the path: `/api/{user_id}/tasks[/{id}[/complete]]`.

    Contract: only the path user's own token gets in (`IsPathUser`: 403 otherwise), and every
    query is scoped to that user here, so another user's task is a 404 like a missing one.
    Reads are cached and carry strong ETags; writes honour `If-Match` (412 when stale) and
    POST honours `Idempotency-Key` (see tasks/caching.py and tasks/idempotency.py).
    """

    serializer_class = TaskSerializer
    permission_classes = [IsAuthenticated, IsPathUser]
    # Bounded so that an oversized id is a 404 rather than an integer overflow in the database.
    lookup_value_regex = r"[0-9]{1,18}"

    def get_queryset(self) -> QuerySet[Task]:
        tasks = Task.objects.filter(user_id=self.kwargs["user_id"])
        if self.request.method in LOCKING_METHODS and "pk" in self.kwargs:
            # Writes to one task read it under a row lock, so `If-Match` and the write are
            # one atomic step.
            tasks = tasks.select_for_update()
        return tasks

    def get_object(self) -> Task:
        task = super().get_object()
        if self.request.method in LOCKING_METHODS:
            caching.check_if_match(self.request, self.render_task(task))
        return task

    def list(self, request: Request, *args, **kwargs) -> HttpResponse:
        key = caching.list_key(request, request.user)
        return self.cached_read(request, key, super().list, *args, **kwargs)

    def retrieve(self, request: Request, *args, **kwargs) -> HttpResponse:
        key = caching.task_key(request.user, kwargs["pk"])
        return self.cached_read(request, key, super().retrieve, *args, **kwargs)

    def cached_read(
        self, request: Request, key: str | None, build: Callable[..., Response], *args, **kwargs
    ) -> HttpResponse:
        hit = caching.cached(key)
        if hit is None:
            response = build(request, *args, **kwargs)
            body = caching.render(response.data)
            headers = {name: response[name] for name in caching.CACHED_HEADERS if name in response}
            hit = (body, caching.etag_of(body), headers)
            caching.store(key, *hit)
        body, etag, headers = hit
        if caching.not_modified(request, etag):
            return caching.not_modified_response(etag)
        return caching.json_response(body, etag, headers)

    def create(self, request: Request, *args, **kwargs) -> HttpResponse:
        key = idempotency.idempotency_key(request)
        if key is None:
            return self.respond(*self.create_task(request))
        with transaction.atomic():
            record, replayed = idempotency.claim(request, key)
            if not replayed:
                record.remember(*self.create_task(request))
        headers = {"Location": record.response_location}
        if replayed:
            headers["Idempotent-Replayed"] = "true"
        return self.respond(record.response_body, record.response_status, headers)

    def create_task(self, request: Request) -> tuple[dict, int, dict[str, str]]:
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        self.perform_create(serializer)
        location = f"/api/{self.kwargs['user_id']}/tasks/{serializer.data['id']}"
        return serializer.data, 201, {"Location": location}

    def perform_create(self, serializer: BaseSerializer) -> None:
        serializer.save(user=self.request.user)

    def update(self, request: Request, *args, **kwargs) -> HttpResponse:
        with transaction.atomic():
            response = super().update(request, *args, **kwargs)
        return self.respond(response.data)

    def destroy(self, request: Request, *args, **kwargs) -> Response:
        with transaction.atomic():
            return super().destroy(request, *args, **kwargs)

    @action(detail=True, methods=["patch"], serializer_class=CompleteSerializer)
    def complete(self, request: Request, *args, **kwargs) -> HttpResponse:
        """Toggle `completed`, or set it when the body says `{"completed": true|false}`."""
        body = CompleteSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        with transaction.atomic():
            # Locked, so two concurrent toggles flip the task twice rather than once.
            task = self.get_object()
            task.completed = body.validated_data.get("completed", not task.completed)
            task.save(update_fields=["completed", "updated_at"])
        return self.respond(TaskSerializer(task).data)

    def render_task(self, task: Task) -> bytes:
        return caching.render(TaskSerializer(task).data)

    def respond(self, data: object, status: int = 200, headers: dict | None = None) -> HttpResponse:
        """A task response rendered once, with the ETag of exactly those bytes."""
        body = caching.render(data)
        response = caching.json_response(body, caching.etag_of(body), headers)
        response.status_code = status
        return response
