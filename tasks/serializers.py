import copy
from datetime import datetime
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from tasks import recurrence, reminders
from tasks.datetimes import parse_aware_datetime, rfc3339
from tasks.models import (
    MAX_TAGS,
    RECURRING_NEEDS_DUE_AT,
    Priority,
    Task,
    TaskList,
    normalize_tags,
)

MAX_ID = 2**63 - 1


@extend_schema_field(OpenApiTypes.DATETIME)
class AwareDateTimeField(serializers.DateTimeField):
    """A datetime that must carry its offset; answered in UTC with a `Z`."""

    def to_internal_value(self, value: Any) -> datetime:
        try:
            return super().to_internal_value(parse_aware_datetime(value).isoformat())
        except ValueError as error:
            raise serializers.ValidationError(str(error)) from None


class PriorityField(serializers.ChoiceField):
    """The priority by name (`none` < `low` < `medium` < `high`), stored as its level."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(choices=[priority.label for priority in Priority], **kwargs)

    def to_internal_value(self, data: Any) -> int:
        return Priority.from_name(super().to_internal_value(data))

    def to_representation(self, value: int) -> str:
        return Priority(value).label


class TagsField(serializers.ListField):
    """Tags, each 1–32 characters, at most 20; stored trimmed, lower-case and unique."""

    # Lengths are checked after trimming, by normalize_tags().
    child = serializers.CharField(trim_whitespace=False)

    def to_internal_value(self, data: Any) -> list[str]:
        try:
            return normalize_tags(super().to_internal_value(data))
        except DjangoValidationError as error:
            raise serializers.ValidationError(error.messages) from None


@extend_schema_field(
    {
        "type": "array",
        "maxItems": reminders.MAX_REMINDERS,
        "items": {
            "type": "object",
            "properties": {
                "before_due_minutes": {
                    "type": "integer",
                    "minimum": 0,
                    "maximum": reminders.MAX_MINUTES_BEFORE,
                    "description": "Minutes before due_at (which it needs); or send at.",
                },
                "at": {
                    "type": "string",
                    "format": "date-time",
                    "description": "A fixed time; or send before_due_minutes.",
                },
                "fire_at": {
                    "type": "string",
                    "format": "date-time",
                    "readOnly": True,
                    "description": "When it fires (ignored if sent).",
                },
            },
        },
    }
)
class RemindersField(serializers.Field):
    """Up to 5 reminders, each `{"before_due_minutes": n}` or `{"at": <datetime>}`; null
    means none. Validated here (tasks/reminders.py); their `fire_at` is the write path's."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(allow_null=True, **kwargs)

    def validate_empty_values(self, data: Any) -> tuple[bool, Any]:
        if data is None:
            return True, []
        return super().validate_empty_values(data)

    def to_internal_value(self, data: Any) -> list[dict[str, Any]]:
        try:
            return reminders.parse(data)
        except DjangoValidationError as error:
            raise serializers.ValidationError(error.messages) from None

    def to_representation(self, value: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return value


class TaskSerializer(serializers.ModelSerializer):
    """A task as the frontend sees it, and the validation of a task's writable fields.

    It validates and represents; it never writes: the views hand `validated_data` to
    tasks.services, the one write path, so `save()` is refused. The owner is set by the
    server, never by the body. PUT and PATCH both keep the writable fields a request omits: a
    frontend that edits only title and description must not un-complete the task.
    """

    user_id = serializers.CharField(read_only=True)
    priority = PriorityField(required=False)
    due_at = AwareDateTimeField(required=False, allow_null=True)
    tags = TagsField(required=False, help_text=f"At most {MAX_TAGS} tags.")
    # Plain ids: whether they name one of the owner's lists or top-level tasks is checked by
    # tasks.services under the owner's lock (a 400 naming the field, never a 404).
    list_id = serializers.IntegerField(
        required=False,
        allow_null=True,
        min_value=1,
        max_value=MAX_ID,
        help_text="One of your lists, or null for the inbox.",
    )
    parent_id = serializers.IntegerField(
        required=False,
        allow_null=True,
        min_value=1,
        max_value=MAX_ID,
        help_text="One of your top-level tasks (its list is then this task's), or null.",
    )
    position = serializers.CharField(
        read_only=True,
        help_text="Opaque; sorting a sibling group by it in byte order gives the manual order.",
    )
    recurrence = serializers.CharField(
        required=False,
        allow_null=True,
        allow_blank=True,
        trim_whitespace=False,
        help_text=(
            "An RFC 5545 RRULE value without its RRULE: prefix, e.g. FREQ=WEEKLY;BYDAY=MO,WE "
            "(SECONDLY and MINUTELY are refused); null or empty for none. Needs due_at."
        ),
    )
    timezone = serializers.CharField(
        required=False, help_text="The IANA zone the rule is expanded in (default UTC)."
    )
    reminders = RemindersField(
        required=False,
        help_text=(
            'Up to 5 of {"before_due_minutes": 0..40320} (needs due_at) or {"at": <datetime>}; '
            "answered with their fire_at. Null means none."
        ),
    )

    class Meta:
        model = Task
        fields = [
            "id",
            "user_id",
            "title",
            "description",
            "completed",
            "completed_at",
            "priority",
            "due_at",
            "tags",
            "list_id",
            "parent_id",
            "position",
            "created_at",
            "updated_at",
            "recurrence",
            "timezone",
            "series_id",
            "series_start",
            "next_occurrence_id",
            "reminders",
        ]
        read_only_fields = [
            "id",
            "completed_at",
            "created_at",
            "updated_at",
            "series_id",
            "series_start",
            "next_occurrence_id",
        ]

    def validate_recurrence(self, value: str | None) -> str | None:
        if not value:
            return None
        try:
            return recurrence.validate_rule(value)
        except recurrence.RecurrenceError as error:
            raise serializers.ValidationError(str(error)) from None

    def validate_timezone(self, value: str) -> str:
        try:
            return recurrence.validate_timezone(value)
        except recurrence.RecurrenceError as error:
            raise serializers.ValidationError(str(error)) from None

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        """A recurring task, and one with a reminder before its due time, as this write leaves
        it, has a due_at."""
        task = self.instance
        rule = attrs.get("recurrence", task.recurrence if task else None)
        due_at = attrs.get("due_at", task.due_at if task else None)
        if rule and due_at is None:
            raise serializers.ValidationError({"due_at": [RECURRING_NEEDS_DUE_AT]})
        kept = attrs.get("reminders", task.reminders if task else [])
        if due_at is None and any(map(reminders.is_relative, kept)):
            raise serializers.ValidationError({"reminders": [reminders.RELATIVE_NEEDS_DUE_AT]})
        return attrs

    def save(self, **kwargs: Any) -> Task:
        raise NotImplementedError("Tasks change through tasks.services, not serializer.save().")

    def get_fields(self) -> dict[str, serializers.Field]:
        """ModelSerializer builds every field from the model anew for each serializer; it
        depends only on the class, so it is built once and deep-copied (DRF binds fields to
        the serializer using them). docs/performance.md has what this saves a write."""
        built = BUILT_FIELDS.get(type(self))
        if built is None:
            built = BUILT_FIELDS[type(self)] = super().get_fields()
        return copy.deepcopy(built)

    def to_representation(self, task: Task) -> dict[str, Any]:
        """The dict DRF's fields would produce, written out: every task answer, list page and
        change feed entry goes through here, and DRF's generic walk over the fields costs
        more than twice the rest of an uncached list (docs/performance.md).
        test_serializers holds it equal to DRF's output."""
        return {
            "id": task.id,
            "user_id": task.user_id,
            "title": task.title,
            "description": task.description,
            "completed": task.completed,
            "completed_at": rfc3339(task.completed_at),
            "priority": Priority(task.priority).label,
            "due_at": rfc3339(task.due_at),
            "tags": task.tags,
            "list_id": task.list_id,
            "parent_id": task.parent_id,
            "position": task.position,
            "created_at": rfc3339(task.created_at),
            "updated_at": rfc3339(task.updated_at),
            "recurrence": task.recurrence,
            "timezone": task.timezone,
            "series_id": task.series_id,
            "series_start": rfc3339(task.series_start),
            "next_occurrence_id": task.next_occurrence_id,
            "reminders": task.reminders,
        }


# A serializer class's fields as ModelSerializer built them (TaskSerializer.get_fields).
BUILT_FIELDS: dict[type, dict[str, serializers.Field]] = {}


class TaskListSerializer(serializers.ModelSerializer):
    """A list as the frontend sees it, and the validation of its writable fields (`name`,
    `color`). Like TaskSerializer it never saves; uniqueness of the name (ignoring case) and
    the limit of lists per user are the service's, under the owner's lock."""

    name = serializers.CharField(max_length=100, help_text="Unique among your lists, any case.")
    color = serializers.RegexField(
        r"^#[0-9a-fA-F]{6}\Z",
        required=False,
        allow_null=True,
        error_messages={"invalid": "Send a color as #rrggbb, or null."},
    )
    position = serializers.CharField(read_only=True, help_text="Opaque, byte order.")
    task_count = serializers.IntegerField(read_only=True, help_text="Subtasks included.")
    pending_count = serializers.IntegerField(read_only=True, help_text="Subtasks included.")

    class Meta:
        model = TaskList
        fields = [
            "id",
            "name",
            "color",
            "position",
            "task_count",
            "pending_count",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["id", "created_at", "updated_at"]
        # The database's case-insensitive unique constraint is the check (tasks.services).
        validators: list = []

    def validate_color(self, value: str | None) -> str | None:
        return value.lower() if value else value

    def save(self, **kwargs: Any) -> TaskList:
        raise NotImplementedError("Lists change through tasks.services, not serializer.save().")


class StrictKeysSerializer(serializers.Serializer):
    """A body whose keys are all known: anything else is a 400 naming the key."""

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        unknown = sorted(set(self.initial_data) - set(self.fields))
        if unknown:
            raise serializers.ValidationError({name: ["Unknown field."] for name in unknown})
        if attrs.get("before") is not None and attrs.get("after") is not None:
            raise serializers.ValidationError({"after": ["Send before or after, not both."]})
        return attrs


class ListMoveSerializer(StrictKeysSerializer):
    """Body of `POST …/lists/{id}/move`: `{"before": id}`, `{"after": id}` or `{}` (end)."""

    before = serializers.IntegerField(
        required=False, min_value=1, max_value=MAX_ID, help_text="Place it just before this list."
    )
    after = serializers.IntegerField(
        required=False, min_value=1, max_value=MAX_ID, help_text="Place it just after this list."
    )


class TaskMoveSerializer(ListMoveSerializer):
    """Body of `POST …/tasks/{id}/move`: like a list's, plus `list_id`/`parent_id` to move
    into another sibling group first (null: the inbox, top level)."""

    before = serializers.IntegerField(
        required=False, min_value=1, max_value=MAX_ID, help_text="Place it just before this task."
    )
    after = serializers.IntegerField(
        required=False, min_value=1, max_value=MAX_ID, help_text="Place it just after this task."
    )
    list_id = serializers.IntegerField(
        required=False, allow_null=True, min_value=1, max_value=MAX_ID
    )
    parent_id = serializers.IntegerField(
        required=False, allow_null=True, min_value=1, max_value=MAX_ID
    )


class CompleteSerializer(serializers.Serializer):
    """Body of `PATCH …/complete`: empty toggles, `{"completed": bool}` sets."""

    completed = serializers.BooleanField(required=False)


class BulkActionSerializer(serializers.Serializer):
    """Body of `POST …/tasks/bulk`. Ids that are not the caller's are ignored."""

    MAX_IDS = 500

    action = serializers.ChoiceField(choices=["complete", "reopen", "delete"])
    ids = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=2**63 - 1),
        max_length=MAX_IDS,
        help_text=f"At most {MAX_IDS} task ids.",
    )


class BulkResultSerializer(serializers.Serializer):
    affected = serializers.IntegerField(help_text="How many tasks actually changed.")


class PriorityCountsSerializer(serializers.Serializer):
    none = serializers.IntegerField()
    low = serializers.IntegerField()
    medium = serializers.IntegerField()
    high = serializers.IntegerField()


class TaskStatsSerializer(serializers.Serializer):
    total = serializers.IntegerField()
    completed = serializers.IntegerField()
    pending = serializers.IntegerField()
    overdue = serializers.IntegerField(help_text="Pending tasks whose due_at has passed.")
    by_priority = PriorityCountsSerializer()


class TagCountSerializer(serializers.Serializer):
    name = serializers.CharField()
    count = serializers.IntegerField()


class OccurrencesSerializer(serializers.Serializer):
    occurrences = serializers.ListField(
        child=serializers.DateTimeField(),
        help_text="The due datetimes the rule produces after this task's due_at.",
    )


class OccurrencesQuerySerializer(serializers.Serializer):
    """Query of `GET …/tasks/{id}/occurrences`."""

    MAX_COUNT = 50

    count = serializers.IntegerField(
        min_value=1, max_value=MAX_COUNT, default=5, help_text="How many, 1 to 50 (default 5)."
    )
