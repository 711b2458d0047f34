from collections import Counter
from functools import partial
from typing import Any

from django.db import transaction
from django.db.models import Count, Q, QuerySet
from django.http import HttpResponseBase
from django_filters.rest_framework import DjangoFilterBackend
from rest_framework import generics, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.permissions import PathUserMixin
from tasks import caching, idempotency, recurrence
from tasks.filters import TaskFilter, overdue_condition
from tasks.models import Priority, Task, TaskList
from tasks.pagination import HeaderLimitOffsetPagination
from tasks.schema import list_schema, tag_list_schema, task_schema
from tasks.serializers import (
    BulkActionSerializer,
    CompleteSerializer,
    ListMoveSerializer,
    OccurrencesQuerySerializer,
    OccurrencesSerializer,
    TagCountSerializer,
    TaskListSerializer,
    TaskMoveSerializer,
    TaskSerializer,
)
from tasks.services import (
    list_create,
    list_delete,
    list_move,
    list_update,
    task_complete,
    task_create,
    task_delete,
    task_move,
    task_reference,
    task_update,
    tasks_delete,
    tasks_set_completed,
)


class IdempotentCreateMixin:
    """POST honours `Idempotency-Key` (tasks/idempotency.py)."""

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        key = idempotency.idempotency_key(request)
        if key is None:
            return super().create(request, *args, **kwargs)
        with transaction.atomic():
            record, replayed = idempotency.claim(request, key)
            if not replayed:
                idempotency.remember(record, super().create(request, *args, **kwargs))
        return idempotency.replay(record, replayed)


@task_schema
class TaskViewSet(
    PathUserMixin, IdempotentCreateMixin, caching.ConditionalReadMixin, viewsets.ModelViewSet
):
    """The tasks of the user named in the path: `/api/{user_id}/tasks[/{id}[/complete|move]]`,
    plus `/tasks/stats` and `/tasks/bulk`.

    Only the path user's own token gets in, and only their tasks are found (`PathUserMixin`).
    Reads are cached and carry strong ETags (tasks/caching.py); every write goes through
    tasks/services.py, with the request's `If-Match`; POST honours `Idempotency-Key`
    (tasks/idempotency.py).
    """

    queryset = Task.objects.all()
    serializer_class = TaskSerializer
    filter_backends = [DjangoFilterBackend]
    filterset_class = TaskFilter
    pagination_class = HeaderLimitOffsetPagination
    # Bounded so that an oversized id is a 404 rather than an integer overflow in the database.
    lookup_value_regex = r"[0-9]{1,18}"

    def filter_queryset(self, queryset: QuerySet[Task]) -> QuerySet[Task]:
        # The list's filters mean nothing to one task, and a list without query parameters
        # (the frontend's default view) has none to apply: building the FilterSet anyway is
        # the costliest step of either (docs/performance.md).
        if self.action != "list" or not self.request.query_params:
            return queryset
        return super().filter_queryset(queryset)

    def read_cache_key(self) -> str | None:
        if self.action == "list":
            return caching.list_key(self.request)
        if self.action == "retrieve":
            return caching.user_key("task", self.request, self.kwargs["pk"])
        if self.action == "occurrences":
            count = self.request.query_params.get("count", "")
            return caching.user_key("occurrences", self.request, self.kwargs["pk"], count)
        return None

    def list(self, request: Request, *args: Any, **kwargs: Any) -> HttpResponseBase:
        return self.cached_read(partial(super().list, request, *args, **kwargs))

    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> HttpResponseBase:
        return self.cached_read(partial(super().retrieve, request, *args, **kwargs))

    def perform_create(self, serializer: TaskSerializer) -> None:
        serializer.instance = task_create(user=self.request.user, data=serializer.validated_data)

    def get_success_headers(self, data: dict[str, Any]) -> dict[str, str]:
        return {"Location": f"/api/{self.kwargs['user_id']}/tasks/{data['id']}"}

    def perform_update(self, serializer: TaskSerializer) -> None:
        serializer.instance = task_update(
            task=serializer.instance,
            data=serializer.validated_data,
            if_match=self.request.headers.get("If-Match"),
        )

    def perform_destroy(self, instance: Task) -> None:
        task_delete(task=instance, if_match=self.request.headers.get("If-Match"))

    @action(detail=True, methods=["patch"], serializer_class=CompleteSerializer)
    def complete(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Toggle `completed`, or set it when the body says `{"completed": true|false}`."""
        body = CompleteSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        task = task_complete(
            task=task_reference(user=request.user, task_id=self.kwargs["pk"]),
            completed=body.validated_data.get("completed"),
            if_match=request.headers.get("If-Match"),
        )
        return Response(TaskSerializer(task).data)

    @action(detail=True, methods=["post"], serializer_class=TaskMoveSerializer)
    def move(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Place the task before/after a sibling or at the end, optionally in another group."""
        body = TaskMoveSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        fields = body.validated_data
        task = task_move(
            task=task_reference(user=request.user, task_id=self.kwargs["pk"]),
            before=fields.get("before"),
            after=fields.get("after"),
            group={name: fields[name] for name in ("list_id", "parent_id") if name in fields},
            if_match=request.headers.get("If-Match"),
        )
        return Response(TaskSerializer(task).data)

    @action(detail=True, methods=["get"], filter_backends=[], pagination_class=None)
    def occurrences(self, request: Request, *args: Any, **kwargs: Any) -> HttpResponseBase:
        """The next due datetimes of this task's series after its own due_at, for a preview."""
        return self.cached_read(self.preview_occurrences)

    def preview_occurrences(self) -> Response:
        count = OccurrencesQuerySerializer(data=self.request.query_params)
        count.is_valid(raise_exception=True)
        task = self.get_object()
        due = []
        if task.recurrence:
            due = recurrence.occurrences(
                task.recurrence,
                task.timezone,
                task.series_start,
                after=task.due_at,
                count=count.validated_data["count"],
            )
        return Response(OccurrencesSerializer({"occurrences": due}).data)

    @action(detail=False, methods=["get"], filter_backends=[], pagination_class=None)
    def stats(self, request: Request, *args: Any, **kwargs: Any) -> HttpResponseBase:
        """Totals over all the user's tasks, in one aggregate query."""
        return self.cached_read(self.count_tasks)

    def count_tasks(self) -> Response:
        return Response(task_stats(self.get_queryset()))

    @action(
        detail=False,
        methods=["post"],
        serializer_class=BulkActionSerializer,
        filter_backends=[],
        pagination_class=None,
    )
    def bulk(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """One action on up to 500 of the user's tasks, in one transaction.

        Ids that do not exist or are not the user's are ignored; `affected` counts the tasks
        that actually changed (completing an already completed task does not count).
        """
        body = BulkActionSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        action_name, ids = body.validated_data["action"], body.validated_data["ids"]
        tasks = self.get_queryset().filter(id__in=ids)
        if action_name == "delete":
            affected = tasks_delete(queryset=tasks)
        else:
            affected = tasks_set_completed(queryset=tasks, completed=action_name == "complete")
        return Response({"affected": affected})


class TagListView(PathUserMixin, caching.ConditionalReadMixin, generics.GenericAPIView):
    """`GET /api/{user_id}/tags`: the path user's tags with how many tasks carry each, most
    used first (ties by name)."""

    queryset = Task.objects.all()
    serializer_class = TagCountSerializer
    pagination_class = None

    def read_cache_key(self) -> str:
        return caching.user_key("tags", self.request)

    @tag_list_schema
    def get(self, request: Request, user_id: str) -> HttpResponseBase:
        return self.cached_read(self.count_tags)

    def count_tags(self) -> Response:
        counts = Counter(
            tag for tags in self.get_queryset().values_list("tags", flat=True) for tag in tags
        )
        ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
        return Response([{"name": name, "count": count} for name, count in ranked])


@list_schema
class TaskListViewSet(
    PathUserMixin, IdempotentCreateMixin, caching.ConditionalReadMixin, viewsets.ModelViewSet
):
    """The lists of the user named in the path: `/api/{user_id}/lists[/{id}[/move]]`.

    Same rules as the tasks: ownership from `PathUserMixin`, cached reads with ETags, writes
    through tasks.services with `If-Match`, `Idempotency-Key` on POST. Not paginated (at most
    500 per user); the counts come with the lists, in the one query that loads them.
    """

    # Explicitly ordered: Django leaves Meta.ordering out of aggregating queries.
    queryset = TaskList.objects.with_counts().order_by("position", "-id")
    serializer_class = TaskListSerializer
    pagination_class = None
    lookup_value_regex = r"[0-9]{1,18}"

    def read_cache_key(self) -> str | None:
        if self.action == "list":
            return caching.user_key("lists", self.request)
        if self.action == "retrieve":
            return caching.user_key("tasklist", self.request, self.kwargs["pk"])
        return None

    def list(self, request: Request, *args: Any, **kwargs: Any) -> HttpResponseBase:
        return self.cached_read(partial(super().list, request, *args, **kwargs))

    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> HttpResponseBase:
        return self.cached_read(partial(super().retrieve, request, *args, **kwargs))

    def counted(self, task_list: TaskList) -> TaskList:
        """The list as a GET answers it, counts included (one query)."""
        return self.get_queryset().get(pk=task_list.pk)

    def perform_create(self, serializer: TaskListSerializer) -> None:
        task_list = list_create(user=self.request.user, data=serializer.validated_data)
        task_list.task_count = task_list.pending_count = 0
        serializer.instance = task_list

    def get_success_headers(self, data: dict[str, Any]) -> dict[str, str]:
        return {"Location": f"/api/{self.kwargs['user_id']}/lists/{data['id']}"}

    def perform_update(self, serializer: TaskListSerializer) -> None:
        task_list = list_update(
            task_list=serializer.instance,
            data=serializer.validated_data,
            if_match=self.request.headers.get("If-Match"),
        )
        serializer.instance = self.counted(task_list)

    def perform_destroy(self, instance: TaskList) -> None:
        list_delete(task_list=instance, if_match=self.request.headers.get("If-Match"))

    @action(detail=True, methods=["post"], serializer_class=ListMoveSerializer)
    def move(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Place the list before/after another of the user's lists, or at the end."""
        body = ListMoveSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        task_list = list_move(
            task_list=self.get_object(),
            before=body.validated_data.get("before"),
            after=body.validated_data.get("after"),
            if_match=request.headers.get("If-Match"),
        )
        return Response(TaskListSerializer(self.counted(task_list)).data)


def task_stats(tasks: QuerySet[Task]) -> dict[str, Any]:
    """The body of `GET …/tasks/stats` for `tasks` (one user's): totals in one aggregate query.

    A function rather than a view method so that every caller (the view, the agents' tools)
    answers the same numbers in the same shape."""
    # Aliases must not shadow field names: the filters below refer to `completed`.
    counts = tasks.aggregate(
        total_count=Count("id"),
        completed_count=Count("id", filter=Q(completed=True)),
        overdue_count=Count("id", filter=overdue_condition()),
        **{
            f"{priority.label}_count": Count("id", filter=Q(priority=priority))
            for priority in Priority
        },
    )
    return {
        "total": counts["total_count"],
        "completed": counts["completed_count"],
        "pending": counts["total_count"] - counts["completed_count"],
        "overdue": counts["overdue_count"],
        "by_priority": {priority.label: counts[f"{priority.label}_count"] for priority in Priority},
    }
