import base64
import secrets

from django.conf import settings
from django.db import models
from django.utils import timezone

MAX_WEBHOOKS_PER_USER = 10
# What a webhook may subscribe to: the change feed's four change types, and reminders.
WEBHOOK_EVENTS = ["task.changed", "task.deleted", "list.changed", "list.deleted", "reminder"]
SECRET_BYTES = 32


def new_secret() -> str:
    """A Standard Webhooks signing secret: `whsec_` and the base64 of 32 random bytes."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def new_event_id() -> str:
    """A delivery's `webhook-id`, the same on each of its attempts, unique across them all."""
    return "msg_" + secrets.token_hex(16)


class Webhook(models.Model):
    """A URL of a user's that is sent a signed POST for each event it subscribed to
    (notifications/webhooks.py). Its `secret` signs them and is shown to the user once, when
    the webhook is created.

    `change_cursor` is the last change (`tasks.Change` id) of the owner that was turned into
    deliveries for this webhook: the next write of theirs delivers the changes after it.
    `lease_until`/`lease_token` are the per-webhook claim of the worker sending its
    deliveries, so that two workers never send one webhook's deliveries at once or out of
    order; a worker that dies loses its claim when the lease runs out.
    """

    # The (user, active) index serves every lookup by user.
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="webhooks", db_index=False
    )
    url = models.CharField(max_length=2000)
    events = models.JSONField()
    active = models.BooleanField(default=True)
    secret = models.CharField(max_length=100, default=new_secret, editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    change_cursor = models.BigIntegerField(default=0, editable=False)
    lease_until = models.DateTimeField(null=True, blank=True, editable=False)
    lease_token = models.CharField(max_length=32, blank=True, default="", editable=False)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["user", "active"], name="webhook_user_active_idx")]

    def __str__(self) -> str:
        return self.url


class Delivery(models.Model):
    """One event for one webhook, not yet delivered nor given up (the outbox): queued in the
    transaction of the write or reminder it tells of, so it commits with it, and deleted once
    it succeeds or its last retry fails. `body` is the exact JSON text that is signed and
    sent on every attempt, under the same `event_id` (the `webhook-id` header)."""

    webhook = models.ForeignKey(
        Webhook, on_delete=models.CASCADE, related_name="deliveries", db_index=False
    )
    event_id = models.CharField(max_length=40, unique=True, default=new_event_id)
    type = models.CharField(max_length=20)
    body = models.TextField()
    created_at = models.DateTimeField(default=timezone.now)
    # How many attempts have failed so far, and when the next one is due.
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name_plural = "deliveries"
        indexes = [
            # A webhook's deliveries in commit order; the sweep's "what is due".
            models.Index(fields=["webhook", "id"], name="delivery_webhook_order_idx"),
            models.Index(fields=["next_attempt_at"], name="delivery_due_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.event_id} ({self.type})"


class DeliveryAttempt(models.Model):
    """One POST of a delivery and how it ended: the log that `GET …/webhooks/{id}/deliveries`
    answers. `status_code` is null when no answer came; `error` is null on success. Pruned
    to the last 50 per webhook and to `ATTEMPT_LOG_DAYS` (notifications/webhooks.py)."""

    webhook = models.ForeignKey(
        Webhook, on_delete=models.CASCADE, related_name="attempts", db_index=False
    )
    event_id = models.CharField(max_length=40)
    type = models.CharField(max_length=20)
    attempt = models.PositiveIntegerField()
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    error = models.CharField(max_length=300, null=True, blank=True)  # noqa: DJ001
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [
            models.Index(fields=["webhook", "-at", "-id"], name="attempt_webhook_newest_idx"),
            models.Index(fields=["at"], name="attempt_age_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.event_id} #{self.attempt}"
