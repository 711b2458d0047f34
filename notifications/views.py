from django.conf import settings
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    extend_schema,
    extend_schema_view,
)
from rest_framework import mixins, viewsets
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.permissions import PathUserMixin
from core.openapi import error_response
from notifications import push
from notifications.models import PushSubscription
from notifications.serializers import PublicKeySerializer, PushSubscriptionSerializer

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
