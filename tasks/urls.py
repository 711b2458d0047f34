from rest_framework.routers import SimpleRouter

from tasks.views import TaskViewSet


class OptionalSlashRouter(SimpleRouter):
    """Every route answers with and without a trailing slash, never redirecting (API.md §1)."""

    def __init__(self) -> None:
        super().__init__()
        self.trailing_slash = "/?"


router = OptionalSlashRouter()
router.register("tasks", TaskViewSet, basename="task")

urlpatterns = router.urls
