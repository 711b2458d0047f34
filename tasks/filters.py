"""The list's query parameters: each one validated, a bad value is a 400 naming it.

django-filter does the parsing and validation; `DjangoFilterBackend` turns the form errors
into a DRF ValidationError, which core.errors shapes as `{"detail", "errors": {param: [...]}}`.
Empty values (`?status=`) mean "no filter", like an absent parameter.
"""

# Annotations stay unevaluated: in TaskFilter's body `list` is the `list=` filter.
from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import django_filters
from django import forms
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import F, Q, QuerySet
from django.utils import timezone
from django_filters.widgets import QueryArrayWidget
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field

from tasks.datetimes import parse_aware_datetime
from tasks.models import Priority, Task, normalize_tags

PRIORITY_NAMES = [priority.label for priority in Priority]

# sort value → the column it orders by; `-` in front of the value means descending.
SORT_COLUMNS = {
    "created": "created_at",
    "updated": "updated_at",
    "title": "title",
    "due_date": "due_at",
    "priority": "priority",
}
SORT_CHOICES = [
    *[(prefix + name, prefix + name) for name in SORT_COLUMNS for prefix in ("", "-")],
    ("position", "position"),
]
MAX_ID = 2**63 - 1


class StrictBooleanField(forms.ChoiceField):
    """`true` or `false`, nothing else (django-filter's BooleanFilter quietly drops `maybe`)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(choices=[("true", "true"), ("false", "false")], **kwargs)

    def clean(self, value: Any) -> bool | None:
        value = super().clean(value)
        return None if value in ("", None) else value == "true"


class AwareDateTimeFormField(forms.Field):
    def clean(self, value: Any) -> datetime | None:
        if value in ("", None):
            return None
        try:
            # In UTC here, so that a time at the very edge of the calendar (year 1 with a
            # positive offset) is refused now rather than overflowing in the database.
            return parse_aware_datetime(value).astimezone(UTC)
        except (ValueError, OverflowError) as error:
            # Through params: django-filter %-formats messages, and this one contains "%2B".
            raise forms.ValidationError("%(reason)s", params={"reason": str(error)}) from None


class PriorityListFormField(forms.Field):
    """`high,medium`: priority names separated by commas."""

    def clean(self, value: Any) -> list[int]:
        names = [name.strip() for name in (value or "").split(",") if name.strip()]
        unknown = [name for name in names if name not in PRIORITY_NAMES]
        if unknown:
            raise forms.ValidationError(
                f"Unknown priority {unknown[0]!r}; use {', '.join(PRIORITY_NAMES)}."
            )
        return [Priority.from_name(name) for name in names]


class TagsFormField(forms.Field):
    """`tag=home&tag=work`: every value a tag, compared after normalisation."""

    widget = QueryArrayWidget

    def clean(self, value: Any) -> list[str]:
        try:
            return normalize_tags(value or [])
        except DjangoValidationError as error:
            raise forms.ValidationError(error.messages) from None


class IdOrWordFormField(forms.Field):
    """An id (a positive integer) or one `word` (`inbox`, `none`), which cleans to None."""

    def __init__(self, *, word: str, **kwargs: Any) -> None:
        self.word = word
        super().__init__(**kwargs)

    def clean(self, value: Any) -> int | None | str:
        if value in ("", None):
            return ""
        if value == self.word:
            return None
        if not (value.isascii() and value.isdigit()) or not 1 <= int(value) <= MAX_ID:
            raise forms.ValidationError(f"Send {self.word} or the id of one of yours.")
        return int(value)


@extend_schema_field({"type": "string", "pattern": "^(inbox|[0-9]+)$"})
class ListFilter(django_filters.Filter):
    """`list=inbox` (tasks in no list) or `list=<id>`; a foreign or missing id matches none."""

    field_class = IdOrWordFormField

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(word="inbox", **kwargs)

    def filter(self, queryset: QuerySet[Task], value: int | None | str) -> QuerySet[Task]:
        return queryset if value == "" else queryset.filter(list_id=value)


@extend_schema_field({"type": "string", "pattern": "^(none|[0-9]+)$"})
class ParentFilter(django_filters.Filter):
    """`parent=none` (top-level tasks) or `parent=<id>` (that task's subtasks)."""

    field_class = IdOrWordFormField

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(word="none", **kwargs)

    def filter(self, queryset: QuerySet[Task], value: int | None | str) -> QuerySet[Task]:
        return queryset if value == "" else queryset.filter(parent_id=value)


@extend_schema_field({"type": "string", "enum": ["true", "false"]})
class StrictBooleanFilter(django_filters.Filter):
    field_class = StrictBooleanField


@extend_schema_field(OpenApiTypes.DATETIME)
class AwareDateTimeFilter(django_filters.Filter):
    field_class = AwareDateTimeFormField


PRIORITY_ALTERNATIVES = "|".join(PRIORITY_NAMES)


PRIORITY_LIST_SCHEMA = {
    "type": "string",
    "pattern": rf"^({PRIORITY_ALTERNATIVES})(,({PRIORITY_ALTERNATIVES}))*$",
}


@extend_schema_field(PRIORITY_LIST_SCHEMA)
class PriorityListFilter(django_filters.Filter):
    field_class = PriorityListFormField


@extend_schema_field({"type": "array", "items": {"type": "string", "maxLength": 32}})
class TagsFilter(django_filters.Filter):
    field_class = TagsFormField


def overdue_condition() -> Q:
    return Q(completed=False, due_at__lt=timezone.now())


class TaskFilter(django_filters.FilterSet):
    """Filters and sort order of `GET /api/{user_id}/tasks`; all of them combine (AND)."""

    status = django_filters.ChoiceFilter(
        choices=[("all", "all"), ("pending", "pending"), ("completed", "completed")],
        method="filter_status",
        help_text="all (default), pending or completed.",
    )
    completed = StrictBooleanFilter(
        field_name="completed", help_text="Alias of status: true = completed, false = pending."
    )
    priority = PriorityListFilter(
        method="filter_priority",
        help_text="One or more of none, low, medium, high, separated by commas.",
    )
    tag = TagsFilter(
        method="filter_tags",
        help_text="Repeatable (tag=home&tag=work): a task must carry every given tag.",
    )
    q = django_filters.CharFilter(
        method="search",
        max_length=200,
        help_text="Case-insensitive text to find in the title or the description.",
    )
    due_before = AwareDateTimeFilter(
        field_name="due_at",
        lookup_expr="lt",
        help_text="Tasks due strictly before this RFC 3339 datetime (with offset).",
    )
    due_after = AwareDateTimeFilter(
        field_name="due_at",
        lookup_expr="gte",
        help_text="Tasks due at or after this RFC 3339 datetime (with offset).",
    )
    overdue = StrictBooleanFilter(
        method="filter_overdue",
        help_text="true: pending tasks whose due_at has passed; false: all the others.",
    )
    list = ListFilter(help_text="inbox (tasks in no list) or a list id.")
    parent = ParentFilter(help_text="none (top-level tasks only) or a task id (its subtasks).")
    recurring = StrictBooleanFilter(
        method="filter_recurring", help_text="true: recurring tasks only; false: the others."
    )
    sort = django_filters.ChoiceFilter(
        choices=SORT_CHOICES,
        method="sort_by",
        error_messages={
            "invalid_choice": "%(value)s is not a sort order; use one of "
            + ", ".join(value for value, _ in SORT_CHOICES)
            + "."
        },
        help_text=(
            "created (default -created), updated, title, due_date or priority; a leading - "
            "sorts descending. Ties are broken by -id. priority sorts by level "
            "(none < low < medium < high); tasks without due_at come last for due_date. "
            "position: the manual order (meaningful within one list and parent)."
        ),
    )

    class Meta:
        model = Task
        fields: list[str] = []

    def filter_status(self, queryset: QuerySet[Task], name: str, value: str) -> QuerySet[Task]:
        if value == "all":
            return queryset
        return queryset.filter(completed=value == "completed")

    def filter_priority(self, queryset: QuerySet[Task], name: str, value: list[int]):
        return queryset.filter(priority__in=value)

    def filter_tags(self, queryset: QuerySet[Task], name: str, value: list[str]):
        return queryset.filter(tags__has_all=value)

    def search(self, queryset: QuerySet[Task], name: str, value: str) -> QuerySet[Task]:
        # On PostgreSQL the trigram indexes on upper(title) and upper(description) serve this.
        return queryset.filter(Q(title__icontains=value) | Q(description__icontains=value))

    def filter_overdue(self, queryset: QuerySet[Task], name: str, value: bool):
        return (
            queryset.filter(overdue_condition()) if value else queryset.exclude(overdue_condition())
        )

    def filter_recurring(self, queryset: QuerySet[Task], name: str, value: bool):
        return queryset.filter(recurrence__isnull=not value)

    def sort_by(self, queryset: QuerySet[Task], name: str, value: str) -> QuerySet[Task]:
        if value == "position":
            # Byte order: the column's collation is "C" on PostgreSQL, BINARY on SQLite.
            return queryset.order_by("position", "-id")
        column = F(SORT_COLUMNS[value.lstrip("-")])
        # nulls_last only matters for due_at, the one nullable sort column.
        order = (
            column.desc(nulls_last=True) if value.startswith("-") else column.asc(nulls_last=True)
        )
        return queryset.order_by(order, "-id")
