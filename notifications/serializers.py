from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from notifications import push
from notifications.models import (
    ENDPOINT_MAX_LENGTH,
    WEBHOOK_EVENTS,
    DeliveryAttempt,
    PushSubscription,
    Webhook,
)
from notifications.webhooks import check_url


class PushKeysSerializer(serializers.Serializer):
    """`PushSubscription.toJSON().keys`: base64url, as browsers send them."""

    p256dh = serializers.CharField(
        max_length=100, trim_whitespace=False, help_text="The browser's P-256 public key."
    )
    auth = serializers.CharField(
        max_length=100, trim_whitespace=False, help_text="The browser's authentication secret."
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        errors = push.check_browser_keys(attrs["p256dh"], attrs["auth"])
        if errors:
            raise serializers.ValidationError(errors)
        return attrs


class PushSubscriptionSerializer(serializers.ModelSerializer):
    """A browser's `PushSubscription.toJSON()` in; its id, endpoint and creation time out.

    The keys are write-only: nothing the browser encrypts with is ever sent back.
    `expirationTime` is accepted (browsers send it, mostly null) and not used: a push
    service that has expired a subscription answers 404 or 410, which removes it.
    """

    # Declared, not derived from the unique model field: the same endpoint again replaces its
    # row (push.subscribe) rather than failing a uniqueness check.
    endpoint = serializers.CharField(
        max_length=ENDPOINT_MAX_LENGTH,
        help_text="The push service URL the browser was given (https).",
    )
    keys = PushKeysSerializer(write_only=True)
    expirationTime = serializers.FloatField(  # noqa: N815 - the browser's own field name
        write_only=True,
        required=False,
        allow_null=True,
        min_value=0,
        help_text="When the subscription expires (ms since the epoch), or null; not used.",
    )

    class Meta:
        model = PushSubscription
        fields = ["id", "endpoint", "keys", "expirationTime", "created_at"]
        read_only_fields = ["id", "created_at"]


class PublicKeySerializer(serializers.Serializer):
    public_key = serializers.CharField(
        help_text="The VAPID public key: the uncompressed P-256 point, base64url, to pass to "
        "`pushManager.subscribe()` as `applicationServerKey`."
    )


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
