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
