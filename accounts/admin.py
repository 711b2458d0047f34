from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.db.models import Count, IntegerField, OuterRef, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html

from accounts.models import User
from config.admin_paginator import EstimatedCountPaginator
from tasks.admin import OwnerFilter
from tasks.models import Task


def task_count_subquery() -> Coalesce:
    """Each user's task count, computed only for the users on the page.

    A correlated subquery over the (user, ...) index rather than a JOIN + GROUP BY, which
    would count the tasks of every user before the page is cut.
    """
    counts = (
        Task.objects.filter(user=OuterRef("pk"))
        .order_by()
        .values("user")
        .annotate(total=Count("*"))
        .values("total")
    )
    return Coalesce(Subquery(counts, output_field=IntegerField()), 0)


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    """Users keyed by their Better Auth id; staff find them by email, name or id.

    Each row shows the user's task count (in the page's one query) and links to their tasks.
    """

    ordering = ["-date_joined"]
    list_display = ["email", "name", "id", "task_count", "is_staff", "is_active", "date_joined"]
    list_filter = ["is_staff", "is_superuser", "is_active"]
    search_fields = ["email", "name", "id"]
    readonly_fields = ["id", "date_joined", "last_login"]
    paginator = EstimatedCountPaginator
    show_full_result_count = False
    fieldsets = [
        (None, {"fields": ["id", "email", "name", "password"]}),
        ("Permissions", {"fields": ["is_active", "is_staff", "is_superuser", "groups"]}),
        ("Dates", {"fields": ["date_joined", "last_login"]}),
    ]
    add_fieldsets = [
        (None, {"classes": ["wide"], "fields": ["email", "name", "password1", "password2"]}),
    ]

    def get_queryset(self, request: HttpRequest) -> QuerySet[User]:
        return super().get_queryset(request).annotate(task_count=task_count_subquery())

    @admin.display(description="tasks", ordering="task_count")
    def task_count(self, user: User) -> str:
        url = reverse("admin:tasks_task_changelist") + f"?{OwnerFilter.parameter_name}={user.pk}"
        return format_html('<a href="{}">{}</a>', url, user.task_count)
