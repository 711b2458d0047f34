"""OpenAPI documentation of the task routes: operation ids, summaries, examples.

Kept out of views.py so the viewset reads as behaviour; `@task_schema` applies it.
"""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
)

from tasks.serializers import TaskSerializer

TASK_EXAMPLE = {
    "id": 42,
    "user_id": "gY3kPqZ0v8XhR2mN5tLw7cJ1bF4dA6sE",
    "title": "Buy milk",
    "description": "Two litres, semi-skimmed",
    "completed": False,
    "created_at": "2026-11-23T10:00:00Z",
    "updated_at": "2026-11-23T10:00:00Z",
}
TASK_RESPONSE_EXAMPLE = OpenApiExample("task", value=TASK_EXAMPLE, response_only=True)
TASK_ID = OpenApiParameter(
    "id", OpenApiTypes.INT, OpenApiParameter.PATH, description="The task's id."
)
NEW_TASK_EXAMPLE = OpenApiExample(
    "new task",
    value={"title": "Buy milk", "description": "Two litres, semi-skimmed"},
    request_only=True,
)


task_operations = extend_schema_view(
    list=extend_schema(
        operation_id="listTasks",
        summary="List your tasks",
        description="Your tasks, newest first, as a plain array.",
        examples=[OpenApiExample("tasks", value=TASK_EXAMPLE, response_only=True)],
    ),
    create=extend_schema(
        operation_id="createTask",
        summary="Create a task",
        description="`user_id`, `id` and the timestamps are set by the server.",
        parameters=[
            OpenApiParameter(
                "Location",
                OpenApiTypes.STR,
                OpenApiParameter.HEADER,
                response=[201],
                description="The new task's URL.",
            )
        ],
        examples=[NEW_TASK_EXAMPLE, TASK_RESPONSE_EXAMPLE],
    ),
    retrieve=extend_schema(
        operation_id="getTask",
        parameters=[TASK_ID],
        summary="Get a task",
        examples=[TASK_RESPONSE_EXAMPLE],
    ),
    update=extend_schema(
        operation_id="updateTask",
        parameters=[TASK_ID],
        summary="Update a task",
        description="Needs `title`; writable fields left out keep their value.",
        examples=[NEW_TASK_EXAMPLE, TASK_RESPONSE_EXAMPLE],
    ),
    partial_update=extend_schema(
        operation_id="patchTask",
        parameters=[TASK_ID],
        summary="Change some fields of a task",
        examples=[
            OpenApiExample("rename", value={"title": "Buy oat milk"}, request_only=True),
            TASK_RESPONSE_EXAMPLE,
        ],
    ),
    destroy=extend_schema(
        operation_id="deleteTask",
        parameters=[TASK_ID],
        summary="Delete a task",
        responses={204: OpenApiResponse(description="Deleted; no body.")},
    ),
    complete=extend_schema(
        operation_id="completeTask",
        parameters=[TASK_ID],
        summary="Toggle or set `completed`",
        description=(
            'An empty body toggles `completed`; `{"completed": true|false}` sets it '
            "(repeating it changes nothing)."
        ),
        responses={200: TaskSerializer},
        examples=[
            OpenApiExample("set", value={"completed": True}, request_only=True),
            TASK_RESPONSE_EXAMPLE,
        ],
    ),
)


def task_schema(viewset: type) -> type:
    """Documents `TaskViewSet`: every operation tagged "tasks", with the names above."""
    return extend_schema(tags=["tasks"])(task_operations(viewset))
