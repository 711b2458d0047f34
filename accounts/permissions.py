from typing import Any

from django.db.models import QuerySet
from rest_framework.permissions import BasePermission, IsAuthenticated
from rest_framework.request import Request
from rest_framework.views import APIView


class IsPathUser(BasePermission):
    """The authenticated user must be the `{user_id}` of the path.

    Contract: a token used on another user's path is a 403. Objects need no check of their
    own: views scope their querysets to the path user, so another user's task id under your
    own path is a 404 and never reveals that the task exists.
    """

    message = "You may only access your own tasks."

    def has_permission(self, request: Request, view: APIView) -> bool:
        user = request.user
        return bool(user and user.is_authenticated and user.pk == view.kwargs.get("user_id"))


class PathUserMixin:
    """The base of every view under `/api/{user_id}/`: it is what keeps users apart.

    It carries both halves of ownership, so that a view cannot have one without the other:
    `IsPathUser` always runs (another user's path is a 403, whatever `permission_classes` a
    view names), and `get_queryset()` narrows the view's `queryset` to the path user's rows
    (another user's object is a 404, like a missing one). Views name a `queryset` and, when
    their model reaches its owner by another path, `owner_field`. A test walks every route
    under `/api/{user_id}/` and fails for a view that does not derive from this class.
    """

    owner_field = "user_id"
    kwargs: dict[str, Any]

    def get_permissions(self) -> list[BasePermission]:
        return [IsAuthenticated(), IsPathUser(), *super().get_permissions()]

    def get_queryset(self) -> QuerySet:
        queryset = super().get_queryset()
        if getattr(self, "swagger_fake_view", False):
            # Schema generation has no path user; it only needs the model.
            return queryset.none()
        return queryset.filter(**{self.owner_field: self.kwargs["user_id"]})
