from django.urls import re_path
from rest_framework.routers import SimpleRouter

from tasks.views import TagListView, TaskListViewSet, TaskViewSet


class OptionalSlashRouter(SimpleRouter):
    """Every route answers with and without a trailing slash, never redirecting."""

    def __init__(self) -> None:
        super().__init__()
        self.trailing_slash = "/?"


router = OptionalSlashRouter()
router.register("tasks", TaskViewSet, basename="task")
router.register("lists", TaskListViewSet, basename="tasklist")

urlpatterns = [
    *router.urls,
    re_path(r"^tags/?$", TagListView.as_view(), name="tag-list"),
]
