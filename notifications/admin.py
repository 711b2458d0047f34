from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from core.admin_paginator import EstimatedCountPaginator
from notifications import push
from notifications.models import PushSubscription


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
