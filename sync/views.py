import hashlib
import secrets
import threading
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

from django.conf import settings
from django.db import connection
from django.http import HttpRequest, HttpResponseBase, StreamingHttpResponse
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.authentication import BearerTokenAuthentication
from accounts.permissions import PathUserMixin
from sync import cursors, feed, live
from sync.authentication import TicketAuthentication
from sync.models import EventTicket, ticket_digest
from sync.serializers import ChangeFeedSerializer, ChangeQuerySerializer, TicketSerializer
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
                "changes": [change for _, change in page.changes],
                "cursor": cursors.issue(user_id, page.last_id),
                "has_more": page.has_more,
            }
        )


class EventTicketView(PathUserMixin, generics.GenericAPIView):
    """`POST /api/{user_id}/events/ticket`: a single-use ticket, valid 60 s, that opens the
    path user's event stream as `?ticket=` (for `EventSource`, which cannot send headers). It
    opens nothing else and is no Bearer token; the stream it opens ends when the token that
    asked for it expires."""

    queryset = EventTicket.objects.all()
    serializer_class = TicketSerializer

    @extend_schema(
        operation_id="createEventTicket",
        summary="A ticket for EventSource",
        tags=["sync"],
        request=None,
        responses={201: TicketSerializer},
    )
    def post(self, request: Request, user_id: str) -> Response:
        ticket = secrets.token_urlsafe(32)
        expires_at = timezone.now() + TICKET_LIFETIME
        EventTicket.objects.create(
            digest=ticket_digest(ticket),
            user=request.user,
            expires_at=expires_at,
            token_expires_at=datetime.fromtimestamp(token_expiry(request.auth), UTC),
        )
        return Response(TicketSerializer({"ticket": ticket, "expires_at": expires_at}).data, 201)


class EventStreamView(PathUserMixin, APIView):
    """`GET /api/{user_id}/events`: the path user's changes as Server-Sent Events, each an
    `id: <cursor>`, `event: <type>`, `data: <the change>`, within a second of its commit, to
    every open stream on every server process (sync/live.py); and each reminder of the user
    that fires after it opened, once, as `event: reminder` without an `id:` (not replayed).

    With `Last-Event-ID` (or `?since=`) a reconnecting client first gets every change it
    missed; without, the changes committed after the stream opened. A bad or expired cursor,
    a missing token or another user's path are the usual JSON 400/410/401/403, before the
    stream starts. The stream ends when the token it was opened with expires (leeway
    included). Served by the ASGI process (uvicorn): a stream holds no thread.
    """

    authentication_classes = [TicketAuthentication, BearerTokenAuthentication]

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        """Opens the stream with at most OPENING_AT_ONCE others, and lets go of the database
        connection before the stream starts. The ASGI server runs each request's sync code in
        a thread of its own, without limit: a burst of reconnecting streams (after a deploy,
        say) would otherwise open a database connection each, all at once; and a stream's
        connection would stay open, idle, for as long as the stream does (it reads the feed
        through sync/live.py's readers). The request's thread itself is let go as the
        stream starts (live.let_go_of_the_request_thread)."""
        with OPENING:
            try:
                return super().dispatch(request, *args, **kwargs)
            finally:
                connection.close()

    def perform_content_negotiation(self, request: Request, force: bool = False) -> tuple:
        # EventSource asks for text/event-stream; errors before the stream are JSON anyway.
        renderer = self.get_renderers()[0]
        return renderer, renderer.media_type

    @extend_schema(
        operation_id="streamEvents",
        summary="Live events (Server-Sent Events)",
        tags=["sync"],
        parameters=[
            OpenApiParameter("since", str, description="A cursor, as Last-Event-ID."),
            OpenApiParameter("ticket", str, description="From POST …/events/ticket."),
            OpenApiParameter("Last-Event-ID", str, OpenApiParameter.HEADER),
        ],
        responses={(200, "text/event-stream"): OpenApiTypes.STR},
    )
    def get(self, request: Request, user_id: str) -> StreamingHttpResponse:
        header = request.headers.get("Last-Event-ID")
        if header:
            after_id = cursors.read(user_id, header, "Last-Event-ID")
        elif "since" in request.query_params:
            after_id = cursors.read(user_id, request.query_params["since"])
        else:
            after_id = feed.latest_change_id(user_id)
        ends_at = token_expiry(request.auth) + leeway_seconds()
        response = StreamingHttpResponse(
            live.stream(user_id, after_id, ends_at), content_type="text/event-stream"
        )
        response["Cache-Control"] = "no-cache"
        # nginx would otherwise buffer the stream.
        response["X-Accel-Buffering"] = "no"
        return response


TICKET_LIFETIME = timedelta(seconds=60)
OPENING_AT_ONCE = 8
OPENING = threading.BoundedSemaphore(OPENING_AT_ONCE)


def token_expiry(auth: Any) -> float:
    """When the credential a request came with expires (time.time()): a ticket's, or the
    Bearer token's `exp`."""
    if isinstance(auth, EventTicket):
        return auth.token_expires_at.timestamp()
    return float(auth["exp"])


def leeway_seconds() -> float:
    leeway = settings.SIMPLE_JWT["LEEWAY"]
    return leeway.total_seconds() if isinstance(leeway, timedelta) else float(leeway)
