from django.urls import re_path

from sync.views import ChangeFeedView

urlpatterns = [
    re_path(r"^changes/?$", ChangeFeedView.as_view(), name="change-feed"),
]
