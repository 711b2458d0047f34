import json
from collections.abc import Iterable

import pgtrigger
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Lookup, Q
from django.utils import timezone

from tasks import recurrence
from tasks.recurrence import MAX_RULE_LENGTH

MAX_TAGS = 20
RECURRING_NEEDS_DUE_AT = "A recurring task needs a due_at: the time of its first occurrence."
MAX_TAG_LENGTH = 32


class Priority(models.IntegerChoices):
    """Stored as a small integer so that sorting by priority is sorting by level."""

    NONE = 0, "none"
    LOW = 1, "low"
    MEDIUM = 2, "medium"
    HIGH = 3, "high"

    @classmethod
    def from_name(cls, name: str) -> "Priority":
        return next(priority for priority in cls if priority.label == name)


def normalize_tags(tags: Iterable[str]) -> list[str]:
    """Trimmed, lower-case and unique, in the order first given; raises on a bad tag."""
    if not isinstance(tags, list):  # a string would otherwise become one tag per letter
        raise ValidationError("Tags must be a list of strings.")
    normalized: list[str] = []
    for tag in tags:
        if not isinstance(tag, str):
            raise ValidationError("Each tag must be a string.")
        tag = tag.strip().lower()
        if not 1 <= len(tag) <= MAX_TAG_LENGTH:
            raise ValidationError(f"Each tag must be 1 to {MAX_TAG_LENGTH} characters long.")
        if "\x00" in tag:
            raise ValidationError("Tags may not contain NUL characters.")
        if tag not in normalized:
            normalized.append(tag)
    if len(normalized) > MAX_TAGS:
        raise ValidationError(f"A task carries at most {MAX_TAGS} tags.")
    return normalized


class TagListField(models.JSONField):
    """A task's tags, a JSON array of strings, filterable with `tags__has_all=[...]`.

    A JSON column keeps the tags on the task row (no join, no extra query per page) and works
    on every database; the `has_all` lookup below makes the filter fast on PostgreSQL.
    """


@TagListField.register_lookup
class HasAllTags(Lookup):
    """`tags__has_all=["home", "work"]`: the task carries every one of the given tags.

    PostgreSQL: jsonb containment (`@>`), which the GIN index on `tags` can answer.
    SQLite: one `json_each()` probe per tag, since Django's `contains` is PostgreSQL-only there.
    """

    lookup_name = "has_all"
    prepare_rhs = False

    def as_sql(self, compiler, connection):
        lhs, lhs_params = self.process_lhs(compiler, connection)
        tags = list(self.rhs)
        if connection.vendor == "postgresql":
            return f"{lhs} @> %s::jsonb", [*lhs_params, json.dumps(tags)]
        probe = f"EXISTS (SELECT 1 FROM json_each({lhs}) AS tag WHERE tag.value = %s)"
        return (
            " AND ".join([probe] * len(tags)),
            [param for tag in tags for param in (*lhs_params, tag)],
        )


def write_trigger(name: str, operation: pgtrigger.Operation, *rows: str) -> pgtrigger.Trigger:
    """After each statement that writes tasks, in the same transaction: bump every affected
    owner's `tasks_version` once, and record each task written or deleted as a `Change`.

    The version keys cached reads (tasks/caching.py); the changes are the change feed. Both
    are kept by the database, so no write, whatever issued it (the services, a cascade from a
    deleted user, SQL typed into psql), can leave a stale read or slip past the feed. The
    UPDATE locks the owner's row until the transaction ends, and the changes are numbered
    after it: one owner's changes are numbered in the order their writes commit, which is what
    makes a change id a safe cursor. `rows` names the transition tables: old, new or both.
    """
    written = " UNION ".join(f"SELECT id, user_id FROM {table}_rows" for table in rows)
    return pgtrigger.Trigger(
        name=name,
        level=pgtrigger.Statement,
        when=pgtrigger.After,
        operation=operation,
        referencing=pgtrigger.Referencing(**{table: f"{table}_rows" for table in rows}),
        func=(
            f"WITH written AS ({written}), owners AS ("
            "UPDATE accounts_user SET tasks_version = tasks_version + 1 "
            "WHERE id IN (SELECT user_id FROM written) RETURNING id) "
            "INSERT INTO tasks_change (user_id, object_type, object_id, created_at) "
            "SELECT written.user_id, 'task', written.id, now() "
            "FROM written JOIN owners ON owners.id = written.user_id ORDER BY written.id; "
            "RETURN NULL;"
        ),
    )


def sqlite_write_trigger(operation: str, *rows: str) -> list[str]:
    """The same on SQLite (development), which has row triggers only: django-pgtrigger speaks
    only PostgreSQL, and SQLite drops a table's triggers whenever a migration rebuilds it, so
    tasks/apps.py creates these anew after every `migrate`."""
    name = f"tasks_record_{operation.lower()}"
    owners = ", ".join(f"{row}.user_id" for row in rows)
    return [
        f"DROP TRIGGER IF EXISTS {name}",
        f"CREATE TRIGGER {name} AFTER {operation} ON tasks_task BEGIN "
        f"UPDATE accounts_user SET tasks_version = tasks_version + 1 WHERE id IN ({owners}); "
        "INSERT INTO tasks_change (user_id, object_type, object_id, created_at) "
        f"SELECT id, 'task', {rows[0]}.id, strftime('%Y-%m-%d %H:%M:%f', 'now') "
        f"FROM accounts_user WHERE id IN ({owners}); END",
    ]


SQLITE_WRITE_TRIGGERS = [
    # Bumped the version alone before the change feed; replaced by the triggers below.
    *(f"DROP TRIGGER IF EXISTS tasks_bump_on_{op}" for op in ("insert", "update", "delete")),
    *sqlite_write_trigger("INSERT", "NEW"),
    *sqlite_write_trigger("UPDATE", "NEW", "OLD"),
    *sqlite_write_trigger("DELETE", "OLD"),
]


class Task(models.Model):
    """One item on a user's todo list.

    Tasks change only through `tasks.services`, which sets the derived columns
    (`updated_at`, `completed_at`); the constraints below hold whatever writes. The triggers
    below bump the owner's cache version and record each write in the change feed
    (`write_trigger`; SQLITE_WRITE_TRIGGERS on SQLite).
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="tasks",
        # The (user, ...) indexes below serve every lookup by user.
        db_index=False,
    )
    title = models.CharField(max_length=200)
    # The contract distinguishes "no description" (null) from an empty one.
    description = models.CharField(max_length=1000, null=True, blank=True)  # noqa: DJ001
    completed = models.BooleanField(default=False)
    completed_at = models.DateTimeField(null=True, blank=True, editable=False)
    priority = models.PositiveSmallIntegerField(choices=Priority.choices, default=Priority.NONE)
    due_at = models.DateTimeField(null=True, blank=True)
    tags = TagListField(default=list, blank=True)
    # Plain defaults rather than auto_now(_add): the services set them, and bulk loads
    # (seed_demo) can write realistic past timestamps.
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(default=timezone.now, editable=False)
    # Recurring tasks (tasks/recurrence.py): an RRULE value, expanded in the IANA zone
    # `timezone` (declared after the timestamps, whose defaults use django.utils.timezone).
    recurrence = models.CharField(max_length=MAX_RULE_LENGTH, null=True, blank=True)  # noqa: DJ001
    timezone = models.CharField(max_length=64, default="UTC", blank=True)
    # The id and due_at of the series' first task, kept by every occurrence (also after the
    # first is deleted, hence no foreign key). Null without a recurrence.
    series_id = models.BigIntegerField(null=True, blank=True, editable=False)
    series_start = models.DateTimeField(null=True, blank=True, editable=False)
    # Set when completing this task created the next occurrence, and never cleared: a task
    # completed again, or twice at once, creates no second one. Unique: one task has one
    # predecessor.
    next_occurrence_id = models.BigIntegerField(null=True, blank=True, unique=True, editable=False)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["user", "-created_at", "-id"], name="task_user_newest_idx"),
            # due_date sort (ascending, nulls last), due_before/due_after and overdue.
            models.Index(fields=["user", "due_at", "-id"], name="task_user_due_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(completed=True, completed_at__isnull=False)
                | Q(completed=False, completed_at__isnull=True),
                name="task_completed_at_iff_completed",
            ),
            models.CheckConstraint(
                condition=Q(recurrence__isnull=True)
                | Q(due_at__isnull=False, series_start__isnull=False),
                name="task_recurring_has_due_at_and_series_start",
            ),
        ]
        triggers = [
            write_trigger("record_insert", pgtrigger.Insert, "new"),
            write_trigger("record_update", pgtrigger.Update, "old", "new"),
            write_trigger("record_delete", pgtrigger.Delete, "old"),
        ]

    def __str__(self) -> str:
        return self.title

    def clean(self) -> None:
        """What the admin's form checks beyond the field types, as the API does."""
        super().clean()
        try:
            self.tags = normalize_tags(self.tags or [])
        except ValidationError as error:
            raise ValidationError({"tags": error.messages}) from None
        errors = {}
        try:
            self.recurrence = recurrence.validate_rule(self.recurrence) if self.recurrence else None
        except recurrence.RecurrenceError as error:
            errors["recurrence"] = [str(error)]
        try:
            self.timezone = recurrence.validate_timezone(self.timezone or "UTC")
        except recurrence.RecurrenceError as error:
            errors["timezone"] = [str(error)]
        if errors:
            raise ValidationError(errors)
        if self.recurrence and self.due_at is None:
            raise ValidationError({"due_at": [RECURRING_NEEDS_DUE_AT]})


class Change(models.Model):
    """One task written (created or updated) or deleted, recorded by the database in the
    statement that made the write (`write_trigger`): the change feed, which the sync app
    serves. Whether it was a deletion is read at answer time: the task is gone. Kept for
    `CHANGES_RETENTION_DAYS` (`manage.py purge_changes`)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, db_index=False)
    object_type = models.CharField(max_length=8)
    object_id = models.BigIntegerField()
    created_at = models.DateTimeField()

    class Meta:
        indexes = [
            models.Index(fields=["user", "id"], name="change_user_feed_idx"),
            models.Index(fields=["created_at"], name="change_age_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.user_id}: {self.object_type} {self.object_id}"


class IdempotencyRecord(models.Model):
    """The first response to a POST that carried an `Idempotency-Key` (tasks/idempotency.py)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, db_index=False)
    key = models.CharField(max_length=255)
    request_fingerprint = models.CharField(max_length=64)
    response_status = models.PositiveSmallIntegerField(null=True)
    # The exact JSON text of the first answer, so that a replay is the same bytes.
    response_body = models.TextField(null=True)  # noqa: DJ001
    response_location = models.CharField(max_length=400, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "key"], name="idempotency_user_key_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.user_id}: {self.key}"
