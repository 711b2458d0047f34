from django.contrib import admin
from django.urls import include, path, re_path

from accounts.models import USER_ID_PATTERN
from config import errors

urlpatterns = [
    path("admin/", admin.site.urls),
    re_path(rf"^api/(?P<user_id>{USER_ID_PATTERN})/", include("tasks.urls")),
    re_path(r"^api/", errors.api_not_found),
]

handler400 = errors.bad_request
handler404 = errors.not_found
handler500 = errors.server_error
