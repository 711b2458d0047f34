from rest_framework.permissions import BasePermission
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
