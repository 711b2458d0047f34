from rest_framework import serializers

from tasks.models import Task


class TaskSerializer(serializers.ModelSerializer):
    """A task as the frontend sees it. The owner is set by the server, never by the body.

    PUT and PATCH both keep the writable fields a request omits (API.md §3): a frontend that
    edits only title and description must not un-complete the task.
    """

    user_id = serializers.CharField(read_only=True)

    class Meta:
        model = Task
        fields = ["id", "user_id", "title", "description", "completed", "created_at", "updated_at"]
        read_only_fields = ["id", "created_at", "updated_at"]


class CompleteSerializer(serializers.Serializer):
    """Body of `PATCH …/complete`: empty toggles, `{"completed": bool}` sets."""

    completed = serializers.BooleanField(required=False)
