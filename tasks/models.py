import json
from collections.abc import Iterable

import pgtrigger
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Lookup, Q
from django.db.models.functions import Lower
from django.utils import timezone

from tasks import recurrence, reminders
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


RECORD_CHANGES = (
    "owners AS (UPDATE accounts_user SET tasks_version = tasks_version + 1 "
    "WHERE id IN (SELECT user_id FROM touched) RETURNING id) "
    "INSERT INTO tasks_change (user_id, object_type, object_id, created_at) "
    "SELECT touched.user_id, touched.object_type, touched.object_id, now() "
    "FROM touched JOIN owners ON owners.id = touched.user_id "
    "ORDER BY touched.object_type DESC, touched.object_id; "
)


def write_trigger(name: str, operation: pgtrigger.Operation, touched: str) -> pgtrigger.Trigger:
    """After each statement that writes tasks or lists, in the same transaction: bump every
    affected owner's `tasks_version` once, and record each object whose GET answer the write
    changed as a `Change` (`touched`: a query of user_id, object_type, object_id over the
    statement's transition tables `old_rows` and `new_rows`).

    The version keys cached reads (tasks/caching.py); the changes are the change feed. Both
    are kept by the database, so no write, whatever issued it (the services, a cascade, SQL
    typed into psql), can leave a stale read or slip past the feed. The UPDATE locks the
    owners' rows until the transaction ends, and the changes are numbered after it: one
    owner's changes are numbered in the order their writes commit, which is what makes a
    change id a safe cursor.
    """
    tables = {"old": "old_rows", "new": "new_rows"}
    return pgtrigger.Trigger(
        name=name,
        level=pgtrigger.Statement,
        when=pgtrigger.After,
        operation=operation,
        referencing=pgtrigger.Referencing(**{k: v for k, v in tables.items() if v in touched}),
        func=f"WITH touched AS ({touched}), {RECORD_CHANGES}RETURN NULL;",
    )


# What a statement on tasks_task changes: its tasks, and the counts of the lists they were or
# are in (a create or delete, or an update that moves a task or flips `completed`).
TASK_INSERT_TOUCHES = (
    "SELECT user_id, 'task' AS object_type, id AS object_id FROM new_rows "
    "UNION SELECT user_id, 'list', list_id FROM new_rows WHERE list_id IS NOT NULL"
)
TASK_DELETE_TOUCHES = TASK_INSERT_TOUCHES.replace("new_rows", "old_rows")
TASK_UPDATE_TOUCHES = (
    "SELECT user_id, 'task' AS object_type, id AS object_id FROM new_rows "
    "UNION SELECT user_id, 'task', id FROM old_rows "
    "UNION SELECT n.user_id, 'list', n.list_id FROM new_rows n JOIN old_rows o USING (id) "
    "WHERE n.list_id IS NOT NULL AND (n.list_id IS DISTINCT FROM o.list_id "
    "OR n.completed IS DISTINCT FROM o.completed) "
    "UNION SELECT o.user_id, 'list', o.list_id FROM old_rows o JOIN new_rows n USING (id) "
    "WHERE o.list_id IS NOT NULL AND o.list_id IS DISTINCT FROM n.list_id"
)
LIST_INSERT_TOUCHES = "SELECT user_id, 'list' AS object_type, id AS object_id FROM new_rows"
LIST_DELETE_TOUCHES = LIST_INSERT_TOUCHES.replace("new_rows", "old_rows")
LIST_UPDATE_TOUCHES = f"{LIST_INSERT_TOUCHES} UNION SELECT user_id, 'list', id FROM old_rows"


def sqlite_write_triggers(
    table: str, operation: str, touched: list[tuple[str, str, str]]
) -> list[str]:
    """The same on SQLite (development), which has row triggers only: django-pgtrigger speaks
    only PostgreSQL, and SQLite drops a table's triggers whenever a migration rebuilds it, so
    tasks/apps.py creates these anew after every `migrate`. `touched`: (owner, object type,
    object id, as SQL over NEW and OLD) and the condition for recording it."""
    name = f"{table}_record_{operation.lower()}"
    owners = ", ".join(sorted({owner for owner, _, _, _ in touched}))
    inserts = "".join(
        "INSERT INTO tasks_change (user_id, object_type, object_id, created_at) "
        f"SELECT id, '{kind}', {object_id}, strftime('%Y-%m-%d %H:%M:%f', 'now') "
        f"FROM accounts_user WHERE id = {owner} AND {condition}; "
        for owner, kind, object_id, condition in touched
    )
    return [
        f"DROP TRIGGER IF EXISTS {name}",
        f"CREATE TRIGGER {name} AFTER {operation} ON {table} BEGIN "
        f"UPDATE accounts_user SET tasks_version = tasks_version + 1 WHERE id IN ({owners}); "
        f"{inserts}END",
    ]


MOVED_OR_FLIPPED = "(NEW.list_id IS NOT OLD.list_id OR NEW.completed IS NOT OLD.completed)"
SQLITE_WRITE_TRIGGERS = [
    # Before the change feed these bumped the version alone; replaced by the ones below.
    *(f"DROP TRIGGER IF EXISTS tasks_bump_on_{op}" for op in ("insert", "update", "delete")),
    *(f"DROP TRIGGER IF EXISTS tasklists_bump_on_{op}" for op in ("insert", "update", "delete")),
    *sqlite_write_triggers(
        "tasks_task",
        "INSERT",
        [
            ("NEW.user_id", "task", "NEW.id", "1"),
            ("NEW.user_id", "list", "NEW.list_id", "NEW.list_id IS NOT NULL"),
        ],
    ),
    *sqlite_write_triggers(
        "tasks_task",
        "UPDATE",
        [
            ("NEW.user_id", "task", "NEW.id", "1"),
            ("OLD.user_id", "task", "OLD.id", "OLD.user_id IS NOT NEW.user_id"),
            (
                "NEW.user_id",
                "list",
                "NEW.list_id",
                f"NEW.list_id IS NOT NULL AND {MOVED_OR_FLIPPED}",
            ),
            (
                "OLD.user_id",
                "list",
                "OLD.list_id",
                "OLD.list_id IS NOT NULL AND NEW.list_id IS NOT OLD.list_id",
            ),
        ],
    ),
    *sqlite_write_triggers(
        "tasks_task",
        "DELETE",
        [
            ("OLD.user_id", "task", "OLD.id", "1"),
            ("OLD.user_id", "list", "OLD.list_id", "OLD.list_id IS NOT NULL"),
        ],
    ),
    *sqlite_write_triggers("tasks_tasklist", "INSERT", [("NEW.user_id", "list", "NEW.id", "1")]),
    *sqlite_write_triggers(
        "tasks_tasklist",
        "UPDATE",
        [
            ("NEW.user_id", "list", "NEW.id", "1"),
            ("OLD.user_id", "list", "OLD.id", "OLD.user_id IS NOT NEW.user_id"),
        ],
    ),
    *sqlite_write_triggers("tasks_tasklist", "DELETE", [("OLD.user_id", "list", "OLD.id", "1")]),
]


# Manual order keys (tasks/positions.py) compare byte by byte; PostgreSQL's default collation
# of the database may be a language one, so the column names "C"; SQLite's default, BINARY,
# already is byte order (and SQLite has no collation called "C").
POSITION_COLLATION = "C"


class PositionField(models.TextField):
    """A manual order key: text in byte order on every database.

    Text rather than a bounded varchar: keys grow by about a character per six inserts into
    the same gap, and a too-long key must never turn a move into a database error.
    """

    def db_parameters(self, connection) -> dict:
        parameters = super().db_parameters(connection)
        if connection.vendor == "postgresql":
            parameters["collation"] = POSITION_COLLATION
        return parameters


MAX_LISTS_PER_USER = 500


class TaskListQuerySet(models.QuerySet):
    def with_counts(self) -> "TaskListQuerySet":
        """Each list's `task_count` and `pending_count` (subtasks included), computed in the
        query that loads the lists, however many there are."""
        return self.annotate(
            task_count=models.Count("tasks"),
            pending_count=models.Count("tasks", filter=Q(tasks__completed=False)),
        )


class TaskList(models.Model):
    """A named group of a user's tasks (the API calls it a list); tasks outside every list
    are in the inbox. Lists change only through `tasks.services`. Writes bump the owner's
    cache version like task writes do (the triggers below; SQLite: tasks/apps.py)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="lists", db_index=False
    )
    name = models.CharField(max_length=100)
    color = models.CharField(max_length=7, null=True, blank=True)  # noqa: DJ001
    position = PositionField(editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(default=timezone.now, editable=False)

    objects = TaskListQuerySet.as_manager()

    class Meta:
        ordering = ["position", "-id"]
        constraints = [
            # Unique ignoring case, held by the database so that two concurrent creates of
            # "Work" and "work" cannot both win.
            models.UniqueConstraint(Lower("name"), "user", name="tasklist_user_name_ci_unique"),
        ]
        indexes = [models.Index(fields=["user", "position"], name="tasklist_user_position_idx")]
        triggers = [
            write_trigger("record_insert", pgtrigger.Insert, LIST_INSERT_TOUCHES),
            write_trigger("record_update", pgtrigger.Update, LIST_UPDATE_TOUCHES),
            write_trigger("record_delete", pgtrigger.Delete, LIST_DELETE_TOUCHES),
        ]

    def __str__(self) -> str:
        return self.name


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
    # In the shape the API answers, each with its fire_at (tasks/reminders.py), so that a read
    # costs no query more; `Reminder` holds the ones still to fire. (Declared before `list`,
    # which names a field below and would be this default.)
    reminders = models.JSONField(default=list, blank=True)
    # null: the inbox. Deleting a list deletes its tasks; deleting a task, its subtasks.
    list = models.ForeignKey(
        TaskList, on_delete=models.CASCADE, null=True, blank=True, related_name="tasks"
    )
    # One level only (a subtask's parent is top level), and a subtask lives in its parent's
    # list: both held by tasks.services, under the owner's lock.
    parent = models.ForeignKey(
        "self", on_delete=models.CASCADE, null=True, blank=True, related_name="subtasks"
    )
    # The manual order within the sibling group (user, list, parent).
    position = PositionField(editable=False)
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
            # A sibling group in manual order (list=<id>&sort=position, the end of a group).
            models.Index(
                fields=["user", "list", "parent", "position"], name="task_user_group_position_idx"
            ),
            # parent=none (and parent=<id>) in the default newest-first order.
            models.Index(
                fields=["user", "parent", "-created_at", "-id"], name="task_user_parent_newest_idx"
            ),
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
            write_trigger("record_insert", pgtrigger.Insert, TASK_INSERT_TOUCHES),
            write_trigger("record_update", pgtrigger.Update, TASK_UPDATE_TOUCHES),
            write_trigger("record_delete", pgtrigger.Delete, TASK_DELETE_TOUCHES),
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
        if self.due_at is None and any(map(reminders.is_relative, self.reminders or [])):
            raise ValidationError({"reminders": [reminders.RELATIVE_NEEDS_DUE_AT]})


class Reminder(models.Model):
    """A reminder still to fire: one row per reminder of `Task.reminders` whose `fire_at` was
    in the future when the write that set it was made, kept in step with that column by
    tasks.services: a write that moves a `fire_at` replaces its row (re-arms it, if the new
    time is still ahead); one that keeps it leaves its row, or the lack of one, alone.

    The firing (notifications/tasks.py) claims a row by deleting it, in the transaction that
    delivers it: a row is deleted once, whatever number of workers try, so a reminder fires
    at most once per arming, and a firing that rolls back leaves its row to be claimed again.
    """

    task = models.ForeignKey(Task, on_delete=models.CASCADE, related_name="+")
    fire_at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["fire_at"], name="reminder_fire_at_idx")]

    def __str__(self) -> str:
        return f"task {self.task_id} at {self.fire_at:%Y-%m-%d %H:%M:%S}"


class Change(models.Model):
    """One task or list written (created or updated) or deleted, recorded by the database in
    the statement that made the write (`write_trigger`): the change feed, which the sync app
    serves. Whether it was a deletion is read at answer time: the object is gone. Kept for
    `CHANGES_RETENTION_DAYS` (`manage.py purge_changes`)."""

    # No constraint: deleting a user deletes their tasks, whose triggers record changes of a
    # user on the way out; the retention purge takes those.
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, db_index=False, db_constraint=False
    )
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
