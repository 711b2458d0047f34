from django.conf import settings
from django.db import models


class Task(models.Model):
    """One item on a user's todo list (API.md §3)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="tasks",
        # The (user, -created_at, -id) index below serves every lookup by user.
        db_index=False,
    )
    title = models.CharField(max_length=200)
    # The contract distinguishes "no description" (null) from an empty one.
    description = models.CharField(max_length=1000, null=True, blank=True)  # noqa: DJ001
    completed = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["user", "-created_at", "-id"], name="task_user_newest_idx"),
        ]

    def __str__(self) -> str:
        return self.title


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
