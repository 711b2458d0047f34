from typing import Any

from rest_framework import serializers

from notifications import push
from notifications.models import ENDPOINT_MAX_LENGTH, PushSubscription


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
