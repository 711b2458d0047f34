from django.urls import re_path

from sync.views import ChangeFeedView, EventStreamView, EventTicketView

urlpatterns = [
    re_path(r"^changes/?$", ChangeFeedView.as_view(), name="change-feed"),
    re_path(r"^events/?$", EventStreamView.as_view(), name="event-stream"),
    re_path(r"^events/ticket/?$", EventTicketView.as_view(), name="event-ticket"),
]
