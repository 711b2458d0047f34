import json
from collections.abc import Iterable

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Lookup
from django.utils import timezone

MAX_TAGS = 20
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


class Task(models.Model):
    """One item on a user's todo list (API.md §3 and §4).

    `save()` keeps the derived columns right on every single-task write (API, `complete`,
    admin): `updated_at` moves, and `completed_at` follows `completed`. Writes to many tasks
    at once go through `tasks.services`, which set the same columns in the same UPDATE.
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
    # Plain defaults rather than auto_now(_add), so that bulk loads (seed_demo) can write
    # realistic past timestamps; save() moves `updated_at` on every write.
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["user", "-created_at", "-id"], name="task_user_newest_idx"),
            # due_date sort (ascending, nulls last), due_before/due_after and overdue.
            models.Index(fields=["user", "due_at", "-id"], name="task_user_due_idx"),
        ]

    def __str__(self) -> str:
        return self.title

    def save(self, *args, **kwargs) -> None:
        # A new task was last updated when it was created, to the microsecond.
        now = self.created_at if self._state.adding else timezone.now()
        self.updated_at = now
        if not self.completed:
            self.completed_at = None
        elif self.completed_at is None:
            self.completed_at = now
        update_fields = kwargs.get("update_fields")
        if update_fields is not None:
            update_fields = {*update_fields, "updated_at"}
            # `completed_at` is written only with `completed`: a write that leaves `completed`
            # alone must not overwrite a concurrent completion's timestamp with one derived
            # from what this write read before it.
            if "completed" in update_fields:
                update_fields.add("completed_at")
            kwargs["update_fields"] = update_fields
        super().save(*args, **kwargs)

    def clean(self) -> None:
        super().clean()
        try:
            self.tags = normalize_tags(self.tags or [])
        except ValidationError as error:
            raise ValidationError({"tags": error.messages}) from None


class IdempotencyRecord(models.Model):
    """The first response to a POST that carried an `Idempotency-Key` (tasks/idempotency.py)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, db_index=False)
    key = models.CharField(max_length=255)
    request_fingerprint = models.CharField(max_length=64)
    response_status = models.PositiveSmallIntegerField(null=True)
    response_body = models.JSONField(null=True)
    response_location = models.CharField(max_length=400, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "key"], name="idempotency_user_key_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.user_id}: {self.key}"

    def remember(self, body: dict, status: int, headers: dict[str, str]) -> None:
        self.response_body = body
        self.response_status = status
        self.response_location = headers.get("Location", "")
        self.save(update_fields=["response_body", "response_status", "response_location"])
