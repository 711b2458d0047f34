from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.models import Group

from accounts.models import User
from core.admin_paginator import EstimatedCountPaginator


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    """Users keyed by their Better Auth id; staff find them by email, name or id.

    The tasks app extends this admin with each user's task count (tasks/admin.py), so that
    accounts knows nothing of tasks.
    """

    ordering = ["-date_joined"]
    list_display = ["email", "name", "id", "is_staff", "is_active", "date_joined"]
    list_filter = ["is_staff", "is_superuser", "is_active"]
    search_fields = ["email", "name", "id"]
    readonly_fields = ["id", "date_joined", "last_login"]
    paginator = EstimatedCountPaginator
    show_full_result_count = False
    fieldsets = [
        (None, {"fields": ["id", "email", "name", "password"]}),
        ("Permissions", {"fields": ["is_active", "is_staff", "is_superuser"]}),
        ("Dates", {"fields": ["date_joined", "last_login"]}),
    ]
    add_fieldsets = [
        (None, {"classes": ["wide"], "fields": ["email", "name", "password1", "password2"]}),
    ]


# Groups are not used by this service: the Groups page and a user's groups field would only
# invite staff to set up permissions that nothing reads.
admin.site.unregister(Group)
