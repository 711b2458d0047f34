from rest_framework import serializers


class ChangeQuerySerializer(serializers.Serializer):
    """Query of `GET …/changes`."""

    MAX_LIMIT = 1000

    since = serializers.CharField(
        required=False, help_text="The cursor of your last answer; without it, none."
    )
    limit = serializers.IntegerField(
        min_value=1, max_value=MAX_LIMIT, default=500, help_text="1 to 1000 (default 500)."
    )


class ChangeSerializer(serializers.Serializer):
    type = serializers.ChoiceField(
        choices=["task.changed", "task.deleted", "list.changed", "list.deleted"]
    )
    id = serializers.IntegerField()
    data = serializers.JSONField(
        allow_null=True,
        help_text="The task or list as its GET answers now; null when deleted.",
    )


class ChangeFeedSerializer(serializers.Serializer):
    changes = ChangeSerializer(many=True)
    cursor = serializers.CharField(help_text="Send it back as `since` for the next page or poll.")
    has_more = serializers.BooleanField(help_text="More changes wait: ask again at once.")


class TicketSerializer(serializers.Serializer):
    ticket = serializers.CharField(help_text="Single use: `GET …/events?ticket=<ticket>`.")
    expires_at = serializers.DateTimeField(help_text="Valid until then (60 s).")
