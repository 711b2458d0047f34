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

from core.openapi import error_response
from tasks.filters import PRIORITY_LIST_SCHEMA, TaskFilter
from tasks.serializers import (
    BulkActionSerializer,
    BulkResultSerializer,
    ListMoveSerializer,
    OccurrencesSerializer,
    TagCountSerializer,
    TaskListSerializer,
    TaskMoveSerializer,
    TaskSerializer,
    TaskStatsSerializer,
)

# Every field of TaskSerializer, in its order: tests/test_schema.py fails when one is missing.
TASK_EXAMPLE = {
    "id": 42,
    "user_id": "gY3kPqZ0v8XhR2mN5tLw7cJ1bF4dA6sE",
    "title": "Buy milk",
    "description": "Two litres, semi-skimmed",
    "completed": False,
    "completed_at": None,
    "priority": "medium",
    "due_at": "2026-11-24T17:00:00Z",
    "tags": ["shopping"],
    "list_id": 7,
    "parent_id": None,
    "position": "a3",
    "created_at": "2026-11-23T10:00:00Z",
    "updated_at": "2026-11-23T10:00:00Z",
    "recurrence": None,
    "timezone": "UTC",
    "series_id": None,
    "series_start": None,
    "next_occurrence_id": None,
    "reminders": [{"before_due_minutes": 30, "fire_at": "2026-11-24T16:30:00Z"}],
}
COMPLETED_TASK_EXAMPLE = {
    **TASK_EXAMPLE,
    "completed": True,
    "completed_at": "2026-11-24T08:30:00Z",
    "updated_at": "2026-11-24T08:30:00Z",
}
TASK_RESPONSE_EXAMPLE = OpenApiExample("task", value=TASK_EXAMPLE, response_only=True)
TASK_ID = OpenApiParameter(
    "id", OpenApiTypes.INT, OpenApiParameter.PATH, description="The task's id."
)
NEW_TASK_EXAMPLE = OpenApiExample(
    "new task",
    value={
        "title": "Buy milk",
        "description": "Two litres, semi-skimmed",
        "priority": "medium",
        "due_at": "2026-11-24T18:00:00+01:00",
        "tags": ["Shopping"],
    },
    request_only=True,
)


def location_header(noun: str) -> OpenApiParameter:
    return OpenApiParameter(
        "Location",
        OpenApiTypes.STR,
        OpenApiParameter.HEADER,
        response=[201],
        description=f"The new {noun}'s URL.",
    )


LIST_HEADERS = [
    OpenApiParameter(
        "X-Total-Count",
        OpenApiTypes.INT,
        location=OpenApiParameter.HEADER,
        response=True,
        description="How many tasks match the filters, over all pages.",
    ),
    OpenApiParameter(
        "Link",
        OpenApiTypes.STR,
        location=OpenApiParameter.HEADER,
        response=True,
        description=(
            'RFC 8288 links to the neighbouring pages: `<url>; rel="next"` (absent on the '
            'last page) and `<url>; rel="prev"` (absent at offset 0), with the same filters.'
        ),
    ),
]


def filter_parameter(name: str, schema: dict, **kwargs) -> OpenApiParameter:
    """The OpenAPI entry of a filter whose type is custom, described by its help text
    (drf-spectacular drops the help text of filters with a type override)."""
    description = TaskFilter.base_filters[name].extra["help_text"]
    return OpenApiParameter(name, schema, description=description, **kwargs)


BOOLEAN_PARAMETER = {"type": "string", "enum": ["true", "false"]}
LIST_FILTER_PARAMETERS = [
    filter_parameter("completed", BOOLEAN_PARAMETER),
    filter_parameter("overdue", BOOLEAN_PARAMETER),
    filter_parameter("priority", PRIORITY_LIST_SCHEMA),
    filter_parameter("tag", OpenApiTypes.STR, many=True, explode=True, style="form"),
    filter_parameter("due_before", OpenApiTypes.DATETIME),
    filter_parameter("due_after", OpenApiTypes.DATETIME),
    filter_parameter("list", {"type": "string", "pattern": "^(inbox|[0-9]+)$"}),
    filter_parameter("parent", {"type": "string", "pattern": "^(none|[0-9]+)$"}),
]

ETAG_HEADER = OpenApiParameter(
    "ETag",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    response=[200, 201, 304],
    description="Strong validator of this exact body; send it back in If-None-Match or If-Match.",
)
IF_NONE_MATCH = OpenApiParameter(
    "If-None-Match",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    description="An ETag from an earlier response: 304 with no body when nothing changed.",
)
IF_MATCH = OpenApiParameter(
    "If-Match",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    description="The task's ETag as you read it: 412 if the task changed since (`*` matches any).",
)
IDEMPOTENCY_KEY = OpenApiParameter(
    "Idempotency-Key",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    description=(
        "1-255 visible ASCII characters. A repeat within 24 h returns the first response "
        "(with `Idempotent-Replayed: true`) and creates nothing; another body is a 422."
    ),
)
NOT_MODIFIED = OpenApiResponse(description="Not modified: your copy (If-None-Match) is current.")
PRECONDITION_FAILED = error_response(
    "If-Match did not match: the task changed since you read it.",
    "The task has changed since you read it; fetch it again and retry.",
)
KEY_REUSED = error_response(
    "This Idempotency-Key was already used with a different body.",
    "This Idempotency-Key was already used with a different request body.",
)


task_operations = extend_schema_view(
    list=extend_schema(
        operation_id="listTasks",
        summary="List your tasks",
        description=(
            "A plain JSON array, newest first unless `sort` says otherwise. Filters combine; "
            "a bad value is a 400 naming the parameter; unknown parameters are ignored."
        ),
        parameters=[*LIST_FILTER_PARAMETERS, *LIST_HEADERS, IF_NONE_MATCH, ETAG_HEADER],
        responses={200: TaskSerializer(many=True), 304: NOT_MODIFIED},
        # One task: drf-spectacular puts a list view's example in the array itself.
        examples=[OpenApiExample("tasks", value=TASK_EXAMPLE, response_only=True)],
    ),
    create=extend_schema(
        operation_id="createTask",
        summary="Create a task",
        description="`user_id`, `id` and the timestamps are set by the server.",
        parameters=[
            location_header("task"),
            IDEMPOTENCY_KEY,
            ETAG_HEADER,
        ],
        responses={201: TaskSerializer, 422: KEY_REUSED},
        examples=[NEW_TASK_EXAMPLE, TASK_RESPONSE_EXAMPLE],
    ),
    retrieve=extend_schema(
        operation_id="getTask",
        parameters=[TASK_ID, IF_NONE_MATCH, ETAG_HEADER],
        responses={200: TaskSerializer, 304: NOT_MODIFIED},
        summary="Get a task",
        examples=[TASK_RESPONSE_EXAMPLE],
    ),
    update=extend_schema(
        operation_id="updateTask",
        parameters=[TASK_ID, IF_MATCH, ETAG_HEADER],
        summary="Update a task",
        description="Needs `title`; writable fields left out keep their value.",
        responses={200: TaskSerializer, 412: PRECONDITION_FAILED},
        examples=[NEW_TASK_EXAMPLE, TASK_RESPONSE_EXAMPLE],
    ),
    partial_update=extend_schema(
        operation_id="patchTask",
        parameters=[TASK_ID, IF_MATCH, ETAG_HEADER],
        summary="Change some fields of a task",
        responses={200: TaskSerializer, 412: PRECONDITION_FAILED},
        examples=[
            OpenApiExample("rename", value={"title": "Buy oat milk"}, request_only=True),
            TASK_RESPONSE_EXAMPLE,
        ],
    ),
    destroy=extend_schema(
        operation_id="deleteTask",
        parameters=[TASK_ID, IF_MATCH],
        summary="Delete a task",
        responses={204: OpenApiResponse(description="Deleted; no body."), 412: PRECONDITION_FAILED},
    ),
    complete=extend_schema(
        operation_id="completeTask",
        parameters=[TASK_ID, IF_MATCH, ETAG_HEADER],
        summary="Toggle or set `completed`",
        description=(
            'An empty body toggles `completed`; `{"completed": true|false}` sets it '
            "(repeating it changes nothing)."
        ),
        responses={200: TaskSerializer, 412: PRECONDITION_FAILED},
        examples=[
            OpenApiExample("set", value={"completed": True}, request_only=True),
            OpenApiExample("completed", value=COMPLETED_TASK_EXAMPLE, response_only=True),
        ],
    ),
    occurrences=extend_schema(
        operation_id="previewOccurrences",
        summary="Preview a recurring task's next due dates",
        description=(
            "The due datetimes the series' rule produces after this task's due_at "
            "(`[]` for a task without a recurrence)."
        ),
        parameters=[
            TASK_ID,
            OpenApiParameter(
                "count",
                OpenApiTypes.INT,
                description="How many, 1 to 50 (default 5).",
            ),
            IF_NONE_MATCH,
            ETAG_HEADER,
        ],
        responses={200: OccurrencesSerializer, 304: NOT_MODIFIED},
        examples=[
            OpenApiExample(
                "weekly",
                value={"occurrences": ["2026-12-07T08:00:00Z", "2026-12-14T08:00:00Z"]},
                response_only=True,
            )
        ],
    ),
    move=extend_schema(
        operation_id="moveTask",
        parameters=[TASK_ID, IF_MATCH, ETAG_HEADER],
        summary="Move a task in the manual order, or into another list or parent",
        description=(
            '`{"before": id}` or `{"after": id}` (a task of the target group) or `{}` for the '
            'end; `"list_id"` and/or `"parent_id"` move it into that group first (null: the '
            "inbox, or top level). Only this task's position changes (a parent that changes "
            "list takes its subtasks along). Any other key is a 400."
        ),
        request=TaskMoveSerializer,
        responses={200: TaskSerializer, 412: PRECONDITION_FAILED},
        examples=[
            OpenApiExample("before another", value={"before": 41}, request_only=True),
            OpenApiExample("into a list, at its end", value={"list_id": 7}, request_only=True),
            TASK_RESPONSE_EXAMPLE,
        ],
    ),
    stats=extend_schema(
        operation_id="getTaskStats", summary="Count your tasks", responses=TaskStatsSerializer
    ),
    bulk=extend_schema(
        operation_id="bulkTasks",
        summary="Complete, reopen or delete many tasks",
        request=BulkActionSerializer,
        responses=BulkResultSerializer,
    ),
)

tag_list_schema = extend_schema(
    operation_id="listTags",
    summary="List your tags",
    tags=["tasks"],
    responses=TagCountSerializer(many=True),
)


LIST_EXAMPLE = {
    "id": 7,
    "name": "Groceries",
    "color": "#34a853",
    "position": "a1",
    "task_count": 12,
    "pending_count": 5,
    "created_at": "2026-11-23T10:00:00Z",
    "updated_at": "2026-11-23T10:00:00Z",
}
LIST_RESPONSE_EXAMPLE = OpenApiExample("list", value=LIST_EXAMPLE, response_only=True)
LIST_ID = OpenApiParameter(
    "id", OpenApiTypes.INT, OpenApiParameter.PATH, description="The list's id."
)
NEW_LIST_EXAMPLE = OpenApiExample(
    "new list", value={"name": "Groceries", "color": "#34a853"}, request_only=True
)
LIST_IF_MATCH = OpenApiParameter(
    "If-Match",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    description="The list's ETag as you read it: 412 if the list changed since (`*` matches any).",
)
list_operations = extend_schema_view(
    list=extend_schema(
        operation_id="listLists",
        summary="List your lists",
        description="A plain JSON array in manual order (not paginated: at most 500).",
        parameters=[IF_NONE_MATCH, ETAG_HEADER],
        responses={200: TaskListSerializer(many=True), 304: NOT_MODIFIED},
        examples=[OpenApiExample("lists", value=[LIST_EXAMPLE], response_only=True)],
    ),
    create=extend_schema(
        operation_id="createList",
        summary="Create a list",
        description=(
            "At the end of your lists. A name you already have (ignoring case) or a 501st "
            "list is a 400."
        ),
        parameters=[
            location_header("list"),
            IDEMPOTENCY_KEY,
            ETAG_HEADER,
        ],
        responses={201: TaskListSerializer, 422: KEY_REUSED},
        examples=[NEW_LIST_EXAMPLE, LIST_RESPONSE_EXAMPLE],
    ),
    retrieve=extend_schema(
        operation_id="getList",
        summary="Get a list",
        parameters=[LIST_ID, IF_NONE_MATCH, ETAG_HEADER],
        responses={200: TaskListSerializer, 304: NOT_MODIFIED},
        examples=[LIST_RESPONSE_EXAMPLE],
    ),
    update=extend_schema(
        operation_id="updateList",
        summary="Update a list",
        parameters=[LIST_ID, LIST_IF_MATCH, ETAG_HEADER],
        responses={200: TaskListSerializer, 412: PRECONDITION_FAILED},
        examples=[NEW_LIST_EXAMPLE, LIST_RESPONSE_EXAMPLE],
    ),
    partial_update=extend_schema(
        operation_id="patchList",
        summary="Change some fields of a list",
        parameters=[LIST_ID, LIST_IF_MATCH, ETAG_HEADER],
        responses={200: TaskListSerializer, 412: PRECONDITION_FAILED},
        examples=[
            OpenApiExample("recolor", value={"color": "#4285f4"}, request_only=True),
            LIST_RESPONSE_EXAMPLE,
        ],
    ),
    destroy=extend_schema(
        operation_id="deleteList",
        summary="Delete a list, its tasks and their subtasks",
        parameters=[LIST_ID, LIST_IF_MATCH],
        responses={204: OpenApiResponse(description="Deleted; no body."), 412: PRECONDITION_FAILED},
    ),
    move=extend_schema(
        operation_id="moveList",
        summary="Move a list in the manual order",
        description='`{"before": id}`, `{"after": id}` (another of your lists) or `{}` (end).',
        parameters=[LIST_ID, LIST_IF_MATCH, ETAG_HEADER],
        request=ListMoveSerializer,
        responses={200: TaskListSerializer, 412: PRECONDITION_FAILED},
        examples=[
            OpenApiExample("first", value={"before": 3}, request_only=True),
            LIST_RESPONSE_EXAMPLE,
        ],
    ),
)


def list_schema(viewset: type) -> type:
    """Documents `TaskListViewSet`: every operation tagged "lists"."""
    return extend_schema(tags=["lists"])(list_operations(viewset))


def task_schema(viewset: type) -> type:
    """Documents `TaskViewSet`: every operation tagged "tasks", with the names above."""
    return extend_schema(tags=["tasks"])(task_operations(viewset))
