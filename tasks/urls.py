from django.urls import re_path
from rest_framework.routers import SimpleRouter

from tasks.views import TagListView, TaskViewSet


class OptionalSlashRouter(SimpleRouter):
    """Every route answers with and without a trailing slash, never redirecting (API.md §1)."""

    def __init__(self) -> None:
        super().__init__()
        self.trailing_slash = "/?"


router = OptionalSlashRouter()
router.register("tasks", TaskViewSet, basename="task")

urlpatterns = [
    *router.urls,
    re_path(r"^tags/?$", TagListView.as_view(), name="tag-list"),
]
