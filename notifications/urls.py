from django.urls import re_path

from notifications.views import PushPublicKeyView, PushSubscriptionViewSet
from tasks.urls import OptionalSlashRouter

router = OptionalSlashRouter()
router.register("push-subscriptions", PushSubscriptionViewSet, basename="push-subscription")

# Under /api/{user_id}/.
urlpatterns = router.urls

# Under /api/push/: no user in the path, no token needed.
public_urlpatterns = [
    re_path(r"^public-key/?$", PushPublicKeyView.as_view(), name="push-public-key"),
]
