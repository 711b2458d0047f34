from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext

from django.db import connection, transaction
from django.db.models import Count, Q, QuerySet
from django.http import HttpResponse
from django_filters.rest_framework import DjangoFilterBackend
from rest_framework import generics, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import BaseSerializer

from accounts.permissions import IsPathUser
from tasks import caching, idempotency
from tasks.filters import TaskFilter, overdue_condition
from tasks.models import Priority, Task
from tasks.pagination import HeaderLimitOffsetPagination
from tasks.schema import tag_list_schema, task_schema
from tasks.serializers import (
    BulkActionSerializer,
    CompleteSerializer,
    TagCountSerializer,
    TaskSerializer,
)
from tasks.services import tasks_delete, tasks_set_completed

# The writes to one task. Keyed by action, not method: DRF's OPTIONS metadata calls
# get_object() with a PUT request clone, outside any transaction.
WRITE_ACTIONS = {"update", "partial_update", "destroy", "complete"}


@task_schema
class TaskViewSet(viewsets.ModelViewSet):
    """The tasks of the user named in the path: `/api/{user_id}/tasks[/{id}[/complete]]`,
    plus `/tasks/stats` and `/tasks/bulk`.

    Contract: only the path user's own token gets in (`IsPathUser`: 403 otherwise), and every
    query is scoped to that user here, so another user's task is a 404 like a missing one and
    bulk actions silently skip ids that are not the user's. Reads are cached and carry strong
    ETags; writes honour `If-Match` (412 when stale) and POST honours `Idempotency-Key` (see
    tasks/caching.py and tasks/idempotency.py).
    """

    serializer_class = TaskSerializer
    permission_classes = [IsAuthenticated, IsPathUser]
    filter_backends = [DjangoFilterBackend]
    filterset_class = TaskFilter
    pagination_class = HeaderLimitOffsetPagination
    # Bounded so that an oversized id is a 404 rather than an integer overflow in the database.
    lookup_value_regex = r"[0-9]{1,18}"

    def get_queryset(self) -> QuerySet[Task]:
        if getattr(self, "swagger_fake_view", False):
            # Schema generation has no path user; it only needs the model.
            return Task.objects.none()
        tasks = Task.objects.filter(user_id=self.kwargs["user_id"])
        if self.locks_task():
            tasks = tasks.select_for_update()
        return tasks

    def locks_task(self) -> bool:
        """Whether this write reads the task under a row lock, in one transaction with the
        write: a toggle reads what it flips, and `If-Match` compares what it overwrites."""
        return self.action == "complete" or (
            self.action in WRITE_ACTIONS and "If-Match" in self.request.headers
        )

    def write_transaction(self) -> AbstractContextManager:
        return transaction.atomic() if self.locks_task() else nullcontext()

    def filter_queryset(self, queryset: QuerySet[Task]) -> QuerySet[Task]:
        # The list's filters mean nothing to one task, and a list without query parameters
        # (the frontend's default view) has none to apply; building the FilterSet anyway, with
        # its form and a deep copy of every filter, would be the costliest step of either.
        if self.action != "list" or not self.request.query_params:
            return queryset
        return super().filter_queryset(queryset)

    def get_object(self) -> Task:
        task = super().get_object()
        if self.action in WRITE_ACTIONS:
            caching.check_if_match(self.request, lambda: caching.render(TaskSerializer(task).data))
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
            return respond(*self.create_task(request))
        with transaction.atomic():
            record, replayed = idempotency.claim(request, key)
            if not replayed:
                record.remember(*self.create_task(request))
        headers = {"Location": record.response_location}
        if replayed:
            headers["Idempotent-Replayed"] = "true"
        return respond(record.response_body, record.response_status, headers)

    def create_task(self, request: Request) -> tuple[dict, int, dict[str, str]]:
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        self.perform_create(serializer)
        location = f"/api/{self.kwargs['user_id']}/tasks/{serializer.data['id']}"
        return serializer.data, 201, {"Location": location}

    def perform_create(self, serializer: BaseSerializer) -> None:
        serializer.save(user=self.request.user)

    def update(self, request: Request, *args, **kwargs) -> HttpResponse:
        with self.write_transaction():
            response = super().update(request, *args, **kwargs)
        return respond(response.data)

    def destroy(self, request: Request, *args, **kwargs) -> Response:
        with self.write_transaction():
            return super().destroy(request, *args, **kwargs)

    @action(detail=True, methods=["patch"], serializer_class=CompleteSerializer)
    def complete(self, request: Request, *args, **kwargs) -> HttpResponse:
        """Toggle `completed`, or set it when the body says `{"completed": true|false}`."""
        body = CompleteSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        with self.write_transaction():
            # Locked, so two concurrent toggles flip the task twice rather than once.
            task = self.get_object()
            task.completed = body.validated_data.get("completed", not task.completed)
            task.save(update_fields=["completed"])
        return respond(TaskSerializer(task).data)

    @action(detail=False, methods=["get"], filter_backends=[], pagination_class=None)
    def stats(self, request: Request, *args, **kwargs) -> Response:
        """Totals over all the user's tasks, in one aggregate query."""
        # Aliases must not shadow field names: the filters below refer to `completed`.
        counts = self.get_queryset().aggregate(
            total_count=Count("id"),
            completed_count=Count("id", filter=Q(completed=True)),
            overdue_count=Count("id", filter=overdue_condition()),
            **{
                f"{priority.label}_count": Count("id", filter=Q(priority=priority))
                for priority in Priority
            },
        )
        body = {
            "total": counts["total_count"],
            "completed": counts["completed_count"],
            "pending": counts["total_count"] - counts["completed_count"],
            "overdue": counts["overdue_count"],
            "by_priority": {
                priority.label: counts[f"{priority.label}_count"] for priority in Priority
            },
        }
        return Response(body)

    @action(
        detail=False,
        methods=["post"],
        serializer_class=BulkActionSerializer,
        filter_backends=[],
        pagination_class=None,
    )
    def bulk(self, request: Request, *args, **kwargs) -> Response:
        """One action on up to 500 of the user's tasks, in one transaction.

        Ids that do not exist or are not the user's are ignored; `affected` counts the tasks
        that actually changed (completing an already completed task does not count).
        """
        body = BulkActionSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        action_name, ids = body.validated_data["action"], body.validated_data["ids"]
        tasks = self.get_queryset().filter(id__in=ids)
        # One statement today, but all or nothing whatever the services come to do.
        with transaction.atomic():
            if action_name == "delete":
                affected = tasks_delete(queryset=tasks)
            else:
                affected = tasks_set_completed(queryset=tasks, completed=action_name == "complete")
        return Response({"affected": affected})


def respond(data: object, status: int = 200, headers: dict[str, str] | None = None) -> HttpResponse:
    """A task response rendered once, with the ETag of exactly those bytes."""
    body = caching.render(data)
    response = caching.json_response(body, caching.etag_of(body), headers)
    response.status_code = status
    return response


TAG_COUNTS_SQL = {
    "postgresql": (
        "SELECT tag.name, COUNT(*) FROM tasks_task "
        "CROSS JOIN LATERAL jsonb_array_elements_text(tasks_task.tags) AS tag(name) "
        "WHERE tasks_task.user_id = %s GROUP BY tag.name ORDER BY COUNT(*) DESC, tag.name"
    ),
    "sqlite": (
        "SELECT tag.value, COUNT(*) FROM tasks_task, json_each(tasks_task.tags) AS tag "
        "WHERE tasks_task.user_id = %s GROUP BY tag.value ORDER BY COUNT(*) DESC, tag.value"
    ),
}


class TagListView(generics.GenericAPIView):
    """`GET /api/{user_id}/tags`: the path user's tags with how many tasks carry each, most
    used first (ties by name).

    Contract: like the task routes, only the path user's own token gets in (403 otherwise),
    and only that user's tasks are counted.
    """

    permission_classes = [IsAuthenticated, IsPathUser]
    serializer_class = TagCountSerializer
    pagination_class = None

    @tag_list_schema
    def get(self, request: Request, user_id: str) -> Response:
        # Unnesting a JSON array has no ORM spelling, and each database spells it its own way.
        with connection.cursor() as cursor:
            cursor.execute(TAG_COUNTS_SQL[connection.vendor], [user_id])
            rows = cursor.fetchall()
        return Response([{"name": name, "count": count} for name, count in rows])
