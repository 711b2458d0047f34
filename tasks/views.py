from django.db import transaction
from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from rest_framework import status, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import BaseSerializer

from accounts.permissions import IsPathUser
from tasks.models import Task
from tasks.schema import task_schema
from tasks.serializers import CompleteSerializer, TaskSerializer


@task_schema
class TaskViewSet(viewsets.ModelViewSet):
    """The tasks of the user named in the path: `/api/{user_id}/tasks[/{id}[/complete]]`.

    Contract: only the path user's own token gets in (`IsPathUser`: 403 otherwise), and every
    query is scoped to that user here, so another user's task is a 404 like a missing one.
    """

    serializer_class = TaskSerializer
    permission_classes = [IsAuthenticated, IsPathUser]
    # Bounded so that an oversized id is a 404 rather than an integer overflow in the database.
    lookup_value_regex = r"[0-9]{1,18}"

    def get_queryset(self) -> QuerySet[Task]:
        return Task.objects.filter(user_id=self.kwargs["user_id"])

    def perform_create(self, serializer: BaseSerializer) -> None:
        serializer.save(user=self.request.user)

    def create(self, request: Request, *args, **kwargs) -> Response:
        response = super().create(request, *args, **kwargs)
        response["Location"] = f"/api/{self.kwargs['user_id']}/tasks/{response.data['id']}"
        return response

    @action(detail=True, methods=["patch"], serializer_class=CompleteSerializer)
    def complete(self, request: Request, *args, **kwargs) -> Response:
        """Toggle `completed`, or set it when the body says `{"completed": true|false}`."""
        body = CompleteSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        with transaction.atomic():
            # Locked, so two concurrent toggles flip the task twice rather than once.
            task = get_object_or_404(self.get_queryset().select_for_update(), pk=kwargs["pk"])
            task.completed = body.validated_data.get("completed", not task.completed)
            task.save(update_fields=["completed", "updated_at"])
        return Response(TaskSerializer(task).data, status=status.HTTP_200_OK)
