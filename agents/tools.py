"""The tools: the task API's routes as functions of (user, arguments), answering what the
route answers.

Each tool does what its route's view does, with the same pieces: the views' querysets narrowed
to the caller (so another user's task is missing, as on the API), the same serializers and
filter set for validation, and tasks.services for every write (so a tool's write is in the
change feed, invalidates the cache and spawns the next occurrence of a recurring task, like
any other). An error is the API's error body, built by the API's exception handler from the
same exception: a tool's message for a bad input is the message the route would give.

The user is always the caller's (the token's, or `mcp_stdio --user`): no tool takes a user id.
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.db.models import QuerySet
from django.http import QueryDict
from django_filters.utils import translate_validation
from rest_framework import exceptions, serializers

from accounts.models import User
from core.errors import api_exception_handler
from tasks import caching
from tasks.filters import TaskFilter
from tasks.models import Task, TaskList
from tasks.pagination import HeaderLimitOffsetPagination
from tasks.serializers import (
    MAX_ID,
    CompleteSerializer,
    TaskListSerializer,
    TaskMoveSerializer,
    TaskSerializer,
)
from tasks.services import (
    list_create,
    task_complete,
    task_create,
    task_delete,
    task_move,
    task_reference,
    task_update,
)
from tasks.views import TaskListViewSet, TaskViewSet, task_stats


@dataclass(frozen=True)
class Answer:
    """What the route would have answered: its status and its JSON body (None for a 204)."""

    status: int
    body: Any

    @property
    def is_error(self) -> bool:
        return self.status >= 400

    def json(self) -> str:
        """The body as the API renders it, byte for byte."""
        return caching.render(self.body).decode()


@dataclass(frozen=True)
class Tool:
    name: str
    description: str
    run: Callable[[User, dict[str, Any]], Answer]


def tasks_of(user: User) -> QuerySet[Task]:
    """The task view's queryset, narrowed to `user` as `PathUserMixin` narrows it."""
    return TaskViewSet.queryset.all().filter(user_id=user.pk)


def lists_of(user: User) -> QuerySet[TaskList]:
    """The list view's queryset (counts included, manual order), narrowed to `user`."""
    return TaskListViewSet.queryset.all().filter(user_id=user.pk)


class TaskIdSerializer(serializers.Serializer):
    task_id = serializers.IntegerField()


def split_task_id(arguments: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    """`task_id`, validated, and the other arguments (the route's body)."""
    given = TaskIdSerializer(data=arguments)
    given.is_valid(raise_exception=True)
    rest = {name: value for name, value in arguments.items() if name != "task_id"}
    return given.validated_data["task_id"], rest


def in_range(task_id: int) -> int:
    """`task_id`, or the API's 404 for an id that no route would even match."""
    if not 1 <= task_id <= MAX_ID:
        raise exceptions.NotFound()
    return task_id


def find_task(user: User, task_id: int) -> Task:
    """The user's task, or the API's 404."""
    return tasks_of(user).get(pk=in_range(task_id))


def task_answer(task: Task, status: int = 200) -> Answer:
    return Answer(status, TaskSerializer(task).data)


class QueryParams:
    """The arguments as the query string of `GET …/tasks` would carry them."""

    def __init__(self, arguments: dict[str, Any]) -> None:
        self.query_params = QueryDict(mutable=True)
        for name, value in arguments.items():
            values = value if isinstance(value, list) else [value]
            self.query_params.setlist(name, [query_value(v) for v in values if v is not None])


def query_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def list_tasks(user: User, arguments: dict[str, Any]) -> Answer:
    """`GET …/tasks` with these query parameters: the page of tasks, filtered and sorted."""
    request = QueryParams(arguments)
    queryset = tasks_of(user)
    if request.query_params:
        filters = TaskFilter(data=request.query_params, queryset=queryset)
        if not filters.is_valid():
            raise translate_validation(filters.errors)
        queryset = filters.qs
    page = HeaderLimitOffsetPagination().paginate_queryset(queryset, request)
    return Answer(200, TaskSerializer(page, many=True).data)


def get_task(user: User, arguments: dict[str, Any]) -> Answer:
    """`GET …/tasks/{task_id}`."""
    task_id, _ = split_task_id(arguments)
    return task_answer(find_task(user, task_id))


def create_task(user: User, arguments: dict[str, Any]) -> Answer:
    """`POST …/tasks` with the arguments as the body."""
    body = TaskSerializer(data=arguments)
    body.is_valid(raise_exception=True)
    return task_answer(task_create(user=user, data=body.validated_data), 201)


def update_task(user: User, arguments: dict[str, Any]) -> Answer:
    """`PATCH …/tasks/{task_id}` with the other arguments as the body."""
    task_id, fields = split_task_id(arguments)
    body = TaskSerializer(find_task(user, task_id), data=fields, partial=True)
    body.is_valid(raise_exception=True)
    return task_answer(task_update(task=body.instance, data=body.validated_data))


def complete_task(user: User, arguments: dict[str, Any]) -> Answer:
    """`PATCH …/tasks/{task_id}/complete`: sets `completed`, or toggles without it."""
    task_id, fields = split_task_id(arguments)
    body = CompleteSerializer(data=fields)
    body.is_valid(raise_exception=True)
    task = task_complete(
        task=task_reference(user=user, task_id=in_range(task_id)),
        completed=body.validated_data.get("completed"),
    )
    return task_answer(task)


def delete_task(user: User, arguments: dict[str, Any]) -> Answer:
    """`DELETE …/tasks/{task_id}`: the task and its subtasks."""
    task_id, _ = split_task_id(arguments)
    task_delete(task=find_task(user, task_id))
    return Answer(204, None)


def move_task(user: User, arguments: dict[str, Any]) -> Answer:
    """`POST …/tasks/{task_id}/move` with `before`/`after`/`list_id`/`parent_id` as the body."""
    task_id, fields = split_task_id(arguments)
    body = TaskMoveSerializer(data=fields)
    body.is_valid(raise_exception=True)
    given = body.validated_data
    task = task_move(
        task=task_reference(user=user, task_id=in_range(task_id)),
        before=given.get("before"),
        after=given.get("after"),
        group={name: given[name] for name in ("list_id", "parent_id") if name in given},
    )
    return task_answer(task)


def list_lists(user: User, arguments: dict[str, Any]) -> Answer:
    """`GET …/lists`: every list, in manual order, with its counts."""
    return Answer(200, TaskListSerializer(lists_of(user), many=True).data)


def create_list(user: User, arguments: dict[str, Any]) -> Answer:
    """`POST …/lists` with the arguments as the body."""
    body = TaskListSerializer(data=arguments)
    body.is_valid(raise_exception=True)
    task_list = list_create(user=user, data=body.validated_data)
    task_list.task_count = task_list.pending_count = 0
    return Answer(201, TaskListSerializer(task_list).data)


def stats(user: User, arguments: dict[str, Any]) -> Answer:
    """`GET …/tasks/stats`."""
    return Answer(200, task_stats(tasks_of(user)))


TOOLS = {
    tool.name: tool
    for tool in [
        Tool(
            "list_tasks",
            "List your tasks, newest first unless `sort` says otherwise, filtered by any of "
            "the arguments (all combine). Answers the array GET /api/{user_id}/tasks answers; "
            "`limit` (default 100, at most 500) and `offset` page through it.",
            list_tasks,
        ),
        Tool("get_task", "One of your tasks by its id.", get_task),
        Tool(
            "create_task",
            "Create a task (at the end of its list, or of the inbox without `list_id`). A "
            "recurring task (`recurrence`, an RRULE) needs `due_at`.",
            create_task,
        ),
        Tool(
            "update_task",
            "Change some fields of a task; the fields not given keep their value.",
            update_task,
        ),
        Tool(
            "complete_task",
            "Mark a task completed (`completed: true`), or pending again (`false`); without "
            "`completed`, toggle it. Completing a recurring task creates its next occurrence "
            "(its id is then the answer's `next_occurrence_id`); completing a task completes "
            "its subtasks.",
            complete_task,
        ),
        Tool("delete_task", "Delete a task and its subtasks.", delete_task),
        Tool(
            "move_task",
            "Place a task just before (`before`) or after (`after`) a sibling task, or at "
            "the end without either; `list_id` (null: the inbox) and `parent_id` (null: top "
            "level) move it into another list or under another task first.",
            move_task,
        ),
        Tool("list_lists", "Your lists in their manual order, with task counts.", list_lists),
        Tool("create_list", "Create a list, at the end of your lists.", create_list),
        Tool(
            "task_stats",
            "How many tasks you have: total, completed, pending, overdue, and by priority.",
            stats,
        ),
    ]
}


def call(user: User, name: str, arguments: dict[str, Any] | None) -> Answer:
    """Run tool `name` for `user`. Never raises: a failure is the API's error answer for it
    (an unknown tool is a 404, an unexpected error the API's 500 body, logged)."""
    tool = TOOLS.get(name)
    if tool is None:
        return Answer(404, {"detail": f"There is no tool named {name!r}."})
    try:
        return tool.run(user, arguments or {})
    except Exception as error:  # noqa: BLE001 - every failure becomes the API's error body
        response = api_exception_handler(error, {"view": tool})
        return Answer(response.status_code, response.data)
