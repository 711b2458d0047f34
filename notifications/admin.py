from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from core.admin_paginator import EstimatedCountPaginator
from notifications import push
from notifications.models import Delivery, DeliveryAttempt, PushSubscription, Webhook
from notifications.webhooks import ATTEMPT_LOG_SIZE, webhook_delete, webhook_update


@admin.register(PushSubscription)
class PushSubscriptionAdmin(admin.ModelAdmin):
    """Each user's Web Push subscriptions: found by owner email or id and by endpoint, and
    deletable (a browser that should get no more reminders). Staff cannot add or edit one:
    only the browser has the keys that make it."""

    list_display = ["endpoint_start", "user", "created_at"]
    list_select_related = ["user"]
    search_fields = ["user__email", "user__id", "endpoint"]
    ordering = ["-created_at"]
    fields = ["user", "endpoint", "created_at"]
    readonly_fields = fields
    paginator = EstimatedCountPaginator
    show_full_result_count = False

    @admin.display(description="endpoint", ordering="endpoint")
    def endpoint_start(self, subscription: PushSubscription) -> str:
        return str(subscription)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def delete_model(self, request: HttpRequest, obj: PushSubscription) -> None:
        push.unsubscribe(subscription=obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[PushSubscription]) -> None:
        for subscription in queryset:
            push.unsubscribe(subscription=subscription)


class ReadOnlyInline(admin.TabularInline):
    """Rows staff look at, never edit: what was queued and what was attempted."""

    extra = 0
    can_delete = False
    show_change_link = False

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


class PendingDeliveryInline(ReadOnlyInline):
    model = Delivery
    verbose_name_plural = "deliveries waiting to be sent"
    fields = ["event_id", "type", "attempts", "next_attempt_at", "created_at"]
    readonly_fields = fields
    ordering = ["id"]


class DeliveryAttemptInline(ReadOnlyInline):
    model = DeliveryAttempt
    verbose_name_plural = f"last attempts (up to {ATTEMPT_LOG_SIZE}, newest first)"
    fields = ["at", "event_id", "type", "attempt", "status_code", "error"]
    readonly_fields = fields
    ordering = ["-at", "-id"]


@admin.register(Webhook)
class WebhookAdmin(admin.ModelAdmin):
    """Users' webhooks, their queued deliveries and their last attempts, for support.

    The secret is never shown (it is not a field of any admin page): only the user saw it,
    once. Staff may pause or resume a webhook and delete it, through notifications/webhooks.py
    like the API; webhooks are created by their owners only, who alone can receive the secret.
    """

    list_display = ["url", "user", "events", "active", "created_at"]
    list_filter = ["active"]
    list_select_related = ["user"]
    search_fields = ["url", "user__email", "user__id"]
    fields = ["user", "url", "events", "active", "created_at"]
    readonly_fields = ["user", "url", "events", "created_at"]
    inlines = [PendingDeliveryInline, DeliveryAttemptInline]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def save_model(self, request: HttpRequest, obj: Webhook, form, change: bool) -> None:
        webhook_update(webhook=obj, data={"active": form.cleaned_data["active"]})

    def delete_model(self, request: HttpRequest, obj: Webhook) -> None:
        webhook_delete(webhook=obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Webhook]) -> None:
        for webhook in queryset:
            webhook_delete(webhook=webhook)
