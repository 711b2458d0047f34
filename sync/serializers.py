from rest_framework import serializers

from tasks.serializers import TaskSerializer


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
    type = serializers.ChoiceField(choices=["task.changed", "task.deleted"])
    id = serializers.IntegerField()
    data = TaskSerializer(
        allow_null=True, help_text="The object as its GET answers now; null when deleted."
    )


class ChangeFeedSerializer(serializers.Serializer):
    changes = ChangeSerializer(many=True)
    cursor = serializers.CharField(help_text="Send it back as `since` for the next page or poll.")
    has_more = serializers.BooleanField(help_text="More changes wait: ask again at once.")
