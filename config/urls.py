from django.contrib import admin
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularRedocView, SpectacularSwaggerView

from accounts.models import USER_ID_PATTERN
from accounts.throttles import throttle_sign_in_attempts
from core import errors
from core.health import HealthView, ReadinessView
from core.views import SchemaView, index
from notifications import urls as push_urls

# The admin is named for this service, not "Django administration".
admin.site.site_header = "Todo backend administration"
admin.site.site_title = "Todo backend admin"
admin.site.index_title = "Users and tasks"

urlpatterns = [
    path("", index, name="index"),
    # Before the admin's own routes: its login form has no rate limit of its own.
    path("admin/login/", throttle_sign_in_attempts(admin.site.login)),
    path("admin/", admin.site.urls),
    re_path(r"^healthz/?$", HealthView.as_view(), name="healthz"),
    re_path(r"^readyz/?$", ReadinessView.as_view(), name="readyz"),
    re_path(r"^api/schema/?$", SchemaView.as_view(), name="schema"),
    re_path(r"^api/docs/?$", SpectacularSwaggerView.as_view(url_name="schema"), name="swagger-ui"),
    re_path(r"^api/redoc/?$", SpectacularRedocView.as_view(url_name="schema"), name="redoc"),
    # Before the user-id routes, which would otherwise take "auth" or "push" for a user id.
    path("api/auth/", include("accounts.urls")),
    path("api/push/", include(push_urls.public_urlpatterns)),
    re_path(rf"^api/(?P<user_id>{USER_ID_PATTERN})/", include("tasks.urls")),
    re_path(rf"^api/(?P<user_id>{USER_ID_PATTERN})/", include("sync.urls")),
    re_path(rf"^api/(?P<user_id>{USER_ID_PATTERN})/", include("notifications.urls")),
    re_path(r"^api/", errors.api_not_found),
]

handler400 = errors.bad_request
handler404 = errors.not_found
handler500 = errors.server_error
