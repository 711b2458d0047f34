from typing import Any

from django.conf import settings
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
)
from rest_framework import mixins, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.permissions import PathUserMixin
from core.openapi import error_response
from notifications import push
from notifications.models import MAX_WEBHOOKS_PER_USER, PushSubscription, Webhook
from notifications.serializers import (
    DeliveryAttemptSerializer,
    NewWebhookSerializer,
    PublicKeySerializer,
    PushSubscriptionSerializer,
    WebhookSerializer,
)
from notifications.webhooks import (
    ATTEMPT_LOG_SIZE,
    webhook_create,
    webhook_delete,
    webhook_update,
)

PUSH_OFF = error_response(
    "Web Push is not configured on this server (no VAPID key).",
    push.PushDisabled.default_detail,
)
ENDPOINT_EXAMPLE = "https://fcm.googleapis.com/fcm/send/dUo2pN8w4kA:APA91bH…"
SUBSCRIPTION_EXAMPLES = [
    OpenApiExample(
        "PushSubscription.toJSON()",
        value={
            "endpoint": ENDPOINT_EXAMPLE,
            "expirationTime": None,
            "keys": {
                "p256dh": "BLij5cpHDmpfwBrMtH7ehPz86DBxq_Wp4IK2wTgMKEe6isQU86Ej1mog-KwFESpbsrWczq4"
                "CLTrWoZiaRttDpcU",
                "auth": "EP1RD45JOSnV32MfKSNUGw",
            },
        },
        request_only=True,
    ),
    OpenApiExample(
        "subscription",
        value={"id": 3, "endpoint": ENDPOINT_EXAMPLE, "created_at": "2026-12-02T08:00:00Z"},
        response_only=True,
    ),
]
SUBSCRIPTION_ID = OpenApiParameter(
    "id", int, OpenApiParameter.PATH, description="The push subscription's id."
)


class PushPublicKeyView(APIView):
    """`GET /api/push/public-key`, no token needed: the VAPID public key a frontend passes to
    `pushManager.subscribe()` as `applicationServerKey`. A 503 when push is not configured,
    so a frontend can hide its "notify me" switch."""

    authentication_classes: list = []
    permission_classes = [AllowAny]

    @extend_schema(
        operation_id="getPushPublicKey",
        summary="The VAPID public key",
        tags=["push"],
        responses={200: PublicKeySerializer, 503: PUSH_OFF},
        examples=[
            OpenApiExample(
                "public key",
                value={
                    "public_key": "BO3ZIw4A2SMqW31kxXDsfmUffRUwn_Ixe-HLdlC58_8vYxGRW96KYjdJOSXHB"
                    "P-cjQelpNSKyDYl9AhyBo3IE28"
                },
            )
        ],
    )
    def get(self, request: Request) -> Response:
        if not push.push_enabled():
            raise push.PushDisabled()
        return Response({"public_key": settings.VAPID_PUBLIC_KEY})


@extend_schema_view(
    list=extend_schema(
        operation_id="listPushSubscriptions",
        summary="The user's push subscriptions",
        description="Oldest first; at most 20. The browsers' keys are never answered.",
    ),
    create=extend_schema(
        operation_id="createPushSubscription",
        summary="Subscribe a browser to pushes",
        description=(
            "The body is the browser's `PushSubscription.toJSON()`. The same endpoint again "
            "replaces its subscription (with a new id). The endpoint must be https and its "
            "host resolve to public addresses only; at most 20 subscriptions per user."
        ),
        responses={201: PushSubscriptionSerializer, 503: PUSH_OFF},
        examples=SUBSCRIPTION_EXAMPLES,
    ),
    destroy=extend_schema(
        operation_id="deletePushSubscription",
        summary="Unsubscribe a browser",
        parameters=[SUBSCRIPTION_ID],
    ),
)
@extend_schema(tags=["push"])
class PushSubscriptionViewSet(
    PathUserMixin,
    mixins.ListModelMixin,
    mixins.CreateModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    """`/api/{user_id}/push-subscriptions[/{id}]`: the path user's Web Push subscriptions,
    one per browser that asked for reminders. POST registers (or replaces) one through
    notifications/push.py, GET lists them, DELETE removes one; another user's id is a 404.
    A push service that answers 404 or 410 removes its subscription on its own."""

    queryset = PushSubscription.objects.all()
    serializer_class = PushSubscriptionSerializer
    pagination_class = None
    lookup_value_regex = r"[0-9]{1,18}"

    def perform_create(self, serializer: PushSubscriptionSerializer) -> None:
        data = serializer.validated_data
        serializer.instance = push.subscribe(
            user=self.request.user,
            endpoint=data["endpoint"],
            p256dh=data["keys"]["p256dh"],
            auth=data["keys"]["auth"],
        )

    def perform_destroy(self, instance: PushSubscription) -> None:
        push.unsubscribe(subscription=instance)


WEBHOOK_ID = OpenApiParameter(
    "id", OpenApiTypes.INT, OpenApiParameter.PATH, description="The webhook's id."
)
WEBHOOK_EXAMPLE = {
    "id": 3,
    "url": "https://hooks.example.com/todo",
    "events": ["task.changed", "task.deleted", "reminder"],
    "active": True,
    "created_at": "2026-11-23T10:00:00Z",
}
NEW_WEBHOOK_EXAMPLE = OpenApiExample(
    "new webhook",
    value={"url": "https://hooks.example.com/todo", "events": ["task.changed", "reminder"]},
    request_only=True,
)
WEBHOOK_RESPONSE_EXAMPLE = OpenApiExample("webhook", value=WEBHOOK_EXAMPLE, response_only=True)


@extend_schema(tags=["webhooks"])
@extend_schema_view(
    list=extend_schema(
        operation_id="listWebhooks",
        summary="List your webhooks",
        description="Oldest first; without their secrets.",
        examples=[OpenApiExample("webhooks", value=WEBHOOK_EXAMPLE, response_only=True)],
    ),
    create=extend_schema(
        operation_id="createWebhook",
        summary="Create a webhook",
        description=(
            "Every event it subscribes to is POSTed to `url`, signed per Standard Webhooks "
            "with `secret`, which this answer alone shows (docs/webhooks.md). A URL that is "
            "not https or whose host resolves to a non-public address is a 400 naming `url`; "
            f"so is a {MAX_WEBHOOKS_PER_USER + 1}th webhook."
        ),
        request=WebhookSerializer,
        responses={201: NewWebhookSerializer},
        parameters=[
            OpenApiParameter(
                "Location",
                OpenApiTypes.STR,
                OpenApiParameter.HEADER,
                response=[201],
                description="The new webhook's URL.",
            )
        ],
        examples=[
            NEW_WEBHOOK_EXAMPLE,
            OpenApiExample(
                "created",
                value={
                    **WEBHOOK_EXAMPLE,
                    "secret": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw2v3CPMgEoL0=",
                },
                response_only=True,
            ),
        ],
    ),
    retrieve=extend_schema(
        operation_id="getWebhook",
        summary="Get a webhook",
        parameters=[WEBHOOK_ID],
        examples=[WEBHOOK_RESPONSE_EXAMPLE],
    ),
    partial_update=extend_schema(
        operation_id="patchWebhook",
        summary="Change a webhook's url, events or active",
        description=(
            "Deactivating drops its deliveries not yet sent; reactivating delivers the writes "
            "made from then on."
        ),
        parameters=[WEBHOOK_ID],
        examples=[
            OpenApiExample("pause", value={"active": False}, request_only=True),
            WEBHOOK_RESPONSE_EXAMPLE,
        ],
    ),
    destroy=extend_schema(
        operation_id="deleteWebhook",
        summary="Delete a webhook",
        parameters=[WEBHOOK_ID],
        responses={204: OpenApiResponse(description="Deleted; no body.")},
    ),
    deliveries=extend_schema(
        operation_id="listWebhookDeliveries",
        summary="A webhook's last delivery attempts",
        description=f"The last {ATTEMPT_LOG_SIZE} attempts, newest first.",
        parameters=[WEBHOOK_ID],
        responses={200: DeliveryAttemptSerializer(many=True)},
        examples=[
            OpenApiExample(
                "attempts",
                value=[
                    {
                        "event_id": "msg_5f0c8a9e2b7d4c1a9e3f6b2d8c4a7e10",
                        "type": "task.changed",
                        "attempt": 2,
                        "status_code": 200,
                        "error": None,
                        "at": "2026-11-23T10:00:05Z",
                    },
                    {
                        "event_id": "msg_5f0c8a9e2b7d4c1a9e3f6b2d8c4a7e10",
                        "type": "task.changed",
                        "attempt": 1,
                        "status_code": 503,
                        "error": "Answered 503.",
                        "at": "2026-11-23T10:00:00Z",
                    },
                ],
                response_only=True,
            )
        ],
    ),
)
class WebhookViewSet(
    PathUserMixin,
    mixins.ListModelMixin,
    mixins.CreateModelMixin,
    mixins.RetrieveModelMixin,
    mixins.UpdateModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    """The webhooks of the user named in the path: `/api/{user_id}/webhooks[/{id}[/deliveries]]`.

    Only the path user's own token gets in, and only their webhooks are found
    (`PathUserMixin`: another user's webhook is a 404). Writes go through
    notifications/webhooks.py; the secret is in the create's answer only.
    """

    queryset = Webhook.objects.all()
    serializer_class = WebhookSerializer
    pagination_class = None
    # PATCH only: a PUT would have to restate the secret-bearing webhook whole, for nothing.
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]
    lookup_value_regex = r"[0-9]{1,18}"

    def get_serializer_class(self) -> type:
        if self.action == "deliveries":
            return DeliveryAttemptSerializer
        return WebhookSerializer

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        body = WebhookSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        webhook = webhook_create(user=request.user, data=body.validated_data)
        data = NewWebhookSerializer(webhook).data
        headers = {"Location": f"/api/{self.kwargs['user_id']}/webhooks/{webhook.pk}"}
        return Response(data, status=201, headers=headers)

    def perform_update(self, serializer: WebhookSerializer) -> None:
        serializer.instance = webhook_update(
            webhook=serializer.instance, data=serializer.validated_data
        )

    def perform_destroy(self, instance: Webhook) -> None:
        webhook_delete(webhook=instance)

    @action(detail=True, methods=["get"])
    def deliveries(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """The webhook's last attempts, newest first."""
        webhook = self.get_object()
        attempts = webhook.attempts.order_by("-at", "-id")[:ATTEMPT_LOG_SIZE]
        return Response(DeliveryAttemptSerializer(attempts, many=True).data)
