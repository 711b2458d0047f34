from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from notifications.models import WEBHOOK_EVENTS, DeliveryAttempt, Webhook
from notifications.webhooks import check_url


@extend_schema_field({"type": "string", "enum": WEBHOOK_EVENTS})
class EventField(serializers.CharField):
    """One event name; checked with the others in `validate_events`, so that an unknown one is
    one plain sentence rather than an error per list index."""


class WebhookSerializer(serializers.ModelSerializer):
    """A webhook as its owner sees it, and the validation of its writable fields (`url`,
    `events`, `active`). It validates and represents; notifications/webhooks.py writes. The
    secret is never part of it: only the answer to the create carries it
    (`NewWebhookSerializer`)."""

    url = serializers.CharField(
        max_length=2000,
        help_text=(
            "Where the signed POSTs go: https, on a host whose every address is public "
            "(checked again before each delivery)."
        ),
    )
    events = serializers.ListField(
        child=EventField(),
        allow_empty=False,
        help_text="What it is sent: one or more of " + ", ".join(WEBHOOK_EVENTS) + ".",
    )
    active = serializers.BooleanField(
        required=False, help_text="An inactive webhook is sent nothing (default true)."
    )

    class Meta:
        model = Webhook
        fields = ["id", "url", "events", "active", "created_at"]
        read_only_fields = ["id", "created_at"]

    def validate_url(self, url: str) -> str:
        check_url(url)
        return url

    def validate_events(self, events: list[str]) -> list[str]:
        unknown = [event for event in events if event not in WEBHOOK_EVENTS]
        if unknown:
            raise serializers.ValidationError(
                f"{unknown[0]!r} is not an event; use some of: {', '.join(WEBHOOK_EVENTS)}."
            )
        if len(set(events)) != len(events):
            raise serializers.ValidationError("Name each event once.")
        return events

    def save(self, **kwargs: Any) -> None:
        raise NotImplementedError("Webhooks are written by notifications.webhooks.")


class NewWebhookSerializer(WebhookSerializer):
    """The answer to a create: the webhook and, this once, its signing secret."""

    secret = serializers.CharField(
        read_only=True,
        help_text=(
            "`whsec_` and the base64 of 32 random bytes: the key of the signatures "
            "(Standard Webhooks). Shown in this answer only; keep it."
        ),
    )

    class Meta(WebhookSerializer.Meta):
        fields = [*WebhookSerializer.Meta.fields, "secret"]


class DeliveryAttemptSerializer(serializers.ModelSerializer):
    """One attempt to deliver an event to a webhook, and how it ended."""

    event_id = serializers.CharField(help_text="The `webhook-id` header: one per event.")
    type = serializers.CharField(help_text="The event's type, e.g. task.changed or reminder.")
    attempt = serializers.IntegerField(help_text="1 for the first attempt of this event.")
    status_code = serializers.IntegerField(
        allow_null=True, help_text="The receiver's HTTP status; null when none came."
    )
    error = serializers.CharField(
        allow_null=True, help_text="Why the attempt failed; null when it succeeded."
    )

    class Meta:
        model = DeliveryAttempt
        fields = ["event_id", "type", "attempt", "status_code", "error", "at"]
        read_only_fields = fields
