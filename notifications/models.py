import base64
import secrets

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.utils import timezone

# Long enough for every push service's endpoints (FCM's, Mozilla's and Apple's are a few
# hundred characters), short enough to stay one index entry.
ENDPOINT_MAX_LENGTH = 2048


class PushSubscription(models.Model):
    """A browser's Web Push subscription (its `PushSubscription.toJSON()`), for one user.

    An endpoint is one browser profile, and it belongs to whoever signed in there last: it is
    unique across users, and subscribing it again replaces the row (notifications/push.py).
    `p256dh` and `auth` are the browser's keys that each payload is encrypted to (RFC 8291),
    base64url without padding.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="push_subscriptions"
    )
    endpoint = models.CharField(max_length=ENDPOINT_MAX_LENGTH, unique=True)
    p256dh = models.CharField(max_length=87, help_text="The browser's P-256 public key.")
    auth = models.CharField(max_length=22, help_text="The browser's authentication secret.")
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["user", "created_at"], name="pushsub_user_created_idx")]

    def __str__(self) -> str:
        return self.endpoint[:80]


class PushMessage(models.Model):
    """One push to send: a reminder's payload for one subscription, queued in the transaction
    that fired the reminder and sent after it commits (notifications/push.py).

    `pending` until a send succeeds (`sent`) or is given up (`failed`, with `error`). A sender
    first claims the row until `claimed_until`, so two workers never send it at once, and a
    `sent` row is never sent again. A failed attempt that may succeed later sets
    `next_attempt_at`; a push is worth nothing after its time to live, so one still pending
    then is given up.
    """

    class State(models.TextChoices):
        PENDING = "pending"
        SENT = "sent"
        FAILED = "failed"

    subscription = models.ForeignKey(
        PushSubscription, on_delete=models.CASCADE, related_name="messages"
    )
    # The signal's payload is JSON-ready; the encoder keeps a stray datetime from failing it.
    payload = models.JSONField(encoder=DjangoJSONEncoder)
    state = models.CharField(max_length=7, choices=State.choices, default=State.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    claimed_until = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    error = models.CharField(max_length=200, blank=True)

    class Meta:
        indexes = [
            # The sweep's lookup: pending messages due by now.
            models.Index(
                fields=["next_attempt_at"],
                condition=models.Q(state="pending"),
                name="pushmessage_pending_due_idx",
            ),
            models.Index(fields=["created_at"], name="pushmessage_age_idx"),
        ]

    def __str__(self) -> str:
        return f"push {self.pk} ({self.state})"


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
