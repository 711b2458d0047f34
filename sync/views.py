import hashlib
from functools import partial
from typing import Any

from django.http import HttpResponseBase
from drf_spectacular.utils import extend_schema
from rest_framework import generics
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.permissions import PathUserMixin
from sync import cursors, feed
from sync.serializers import ChangeFeedSerializer, ChangeQuerySerializer
from tasks import caching
from tasks.models import Change


class ChangeFeedView(PathUserMixin, caching.ConditionalReadMixin, generics.GenericAPIView):
    """`GET /api/{user_id}/changes?since=<cursor>&limit=<n>`: what changed in the path user's
    tasks since a cursor, for another tab or device to catch up without reloading everything.

    Without `since`: no changes and the current cursor (for a client that has just loaded
    everything). A client that applies every page in order (upsert on `changed`, remove on
    `deleted`) ends with exactly the server's tasks, however many clients write at once. A
    cursor that this server did not issue is a 400; one older than the kept deletions, a 410.
    """

    queryset = Change.objects.all()
    serializer_class = ChangeFeedSerializer
    pagination_class = None

    def read_cache_key(self) -> str:
        query = hashlib.blake2b(self.request.META.get("QUERY_STRING", "").encode(), digest_size=16)
        return caching.user_key("changes", self.request, query.hexdigest())

    @extend_schema(
        operation_id="listChanges",
        summary="Changes since a cursor",
        tags=["sync"],
        parameters=[ChangeQuerySerializer],
        responses=ChangeFeedSerializer,
    )
    def get(self, request: Request, user_id: str) -> HttpResponseBase:
        return self.cached_read(partial(self.answer, user_id))

    def answer(self, user_id: str) -> Response:
        query = ChangeQuerySerializer(data=self.request.query_params)
        query.is_valid(raise_exception=True)
        since = query.validated_data.get("since")
        if since is None:
            body: dict[str, Any] = {
                "changes": [],
                "cursor": cursors.issue(user_id, feed.latest_change_id(user_id)),
                "has_more": False,
            }
            return Response(body)
        page = feed.changes_after(
            user_id, cursors.read(user_id, since), query.validated_data["limit"]
        )
        return Response(
            {
                "changes": page.changes,
                "cursor": cursors.issue(user_id, page.last_id),
                "has_more": page.has_more,
            }
        )
