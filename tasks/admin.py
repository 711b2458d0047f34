from django.contrib import admin, messages
from django.db.models import Count, IntegerField, OuterRef, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.forms import ModelForm
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html
from rest_framework.exceptions import ValidationError

from accounts.admin import UserAdmin
from accounts.models import User
from core.admin_paginator import EstimatedCountPaginator
from tasks import recurrence
from tasks.forms import RemindersField, TagsField
from tasks.models import Task, TaskList
from tasks.services import (
    list_create,
    list_delete,
    list_update,
    place,
    task_create,
    task_delete,
    task_update,
    tasks_delete,
    tasks_set_completed,
)


class OwnerFilter(admin.SimpleListFilter):
    """Tasks of one owner, chosen from the owner column or the user admin's task link.

    Listing every owner in the sidebar would load the whole user table, so the sidebar
    only offers the owner already chosen (and "All").
    """

    title = "owner"
    parameter_name = "owner"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple]:
        owner = User.objects.filter(pk=self.value()).first() if self.value() else None
        return [(owner.pk, str(owner))] if owner else []

    def queryset(self, request: HttpRequest, queryset: QuerySet[Task]) -> QuerySet[Task]:
        return queryset.filter(user_id=self.value()) if self.value() else queryset

    def has_output(self) -> bool:
        return True


class ListFilter(admin.SimpleListFilter):
    """Tasks of one list (or of the inbox), chosen from the list admin's task link; like
    OwnerFilter, the sidebar offers only the list already chosen."""

    title = "list"
    parameter_name = "list"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple]:
        value = self.value()
        chosen = TaskList.objects.filter(pk=value).first() if value and value.isdigit() else None
        return [("inbox", "Inbox"), *([(str(chosen.pk), str(chosen))] if chosen else [])]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Task]) -> QuerySet[Task]:
        value = self.value()
        if value == "inbox":
            return queryset.filter(list__isnull=True)
        return queryset.filter(list_id=value) if value and value.isdigit() else queryset


def field_names(data: dict) -> dict:
    """Form field names (`list`, `parent`) as the services name them (`list_id`, `parent_id`)."""
    renamed = {}
    for name, value in data.items():
        if name in ("list", "parent"):
            renamed[f"{name}_id"] = value.pk if value is not None else None
        else:
            renamed[name] = value
    return renamed


class TaskAdminForm(ModelForm):
    """Checks list and parent with the rules of the API (tasks.services.place), so a bad
    choice is a form error; the save checks again under the owner's lock. Tags are typed
    comma-separated (tasks.forms.TagsField), and so are reminders (RemindersField)."""

    tags = TagsField()
    reminders = RemindersField()

    def clean(self) -> dict:
        cleaned = super().clean()
        owner = cleaned.get("user") or getattr(self.instance, "user", None)
        changed = {
            name: cleaned.get(name) for name in ("list", "parent") if name in self.changed_data
        }
        if owner is None or not changed:
            return cleaned
        try:
            place(
                user_id=owner.pk,
                task=self.instance if self.instance.pk else None,
                data=field_names(changed),
            )
        except ValidationError as error:
            for field, messages in error.detail.items():
                self.add_error(field.removesuffix("_id"), [str(message) for message in messages])
        return cleaned


class SeriesFilter(OwnerFilter):
    """The occurrences of one recurring series, from a task's "series" link."""

    title = "series"
    parameter_name = "series"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple]:
        return [(self.value(), f"series {self.value()}")] if self.value() else []

    def queryset(self, request: HttpRequest, queryset: QuerySet[Task]) -> QuerySet[Task]:
        if not self.value():
            return queryset
        if not self.value().isdigit():
            return queryset.none()
        return queryset.filter(series_id=self.value())


@admin.register(Task)
class TaskAdmin(admin.ModelAdmin):
    """Tasks for staff: a page costs the same few queries however many tasks exist.

    Every change staff make (the form, the actions, deletions) goes through tasks.services,
    the write path of the API.
    """

    list_display = [
        "title",
        "owner",
        "completed",
        "priority",
        "due_at",
        "repeats",
        "list",
        "parent",
        "updated_at",
    ]
    form = TaskAdminForm
    list_filter = [
        "completed",
        "priority",
        ("due_at", admin.DateFieldListFilter),
        OwnerFilter,
        ListFilter,
        SeriesFilter,
    ]
    search_fields = ["title", "description", "user__email"]
    # Newest first along the primary key: the model's (-created_at, -id) order has no index
    # of its own and would sort the whole table for every page.
    ordering = ["-id"]
    list_select_related = ["user", "list", "parent"]
    autocomplete_fields = ["user"]
    raw_id_fields = ["list", "parent"]
    readonly_fields = [
        "position",
        "completed_at",
        "created_at",
        "updated_at",
        "series",
        "series_start",
        "next_occurrence_id",
        "upcoming",
    ]
    actions = ["mark_complete", "reopen"]
    paginator = EstimatedCountPaginator
    # The "N total" link would cost a second COUNT(*) over the whole table on every page.
    show_full_result_count = False

    @admin.display(description="owner", ordering="user__email")
    def owner(self, task: Task) -> str:
        url = reverse("admin:tasks_task_changelist")
        return format_html(
            '<a href="{}?{}={}">{}</a>', url, OwnerFilter.parameter_name, task.user_id, task.user
        )

    @admin.display(description="repeats")
    def repeats(self, task: Task) -> str:
        return recurrence.describe_rule(task.recurrence) if task.recurrence else ""

    @admin.display(description="series")
    def series(self, task: Task) -> str:
        if task.series_id is None:
            return "-"
        url = reverse("admin:tasks_task_changelist")
        return format_html(
            '<a href="{}?{}={}">all tasks of series {}</a>',
            url,
            SeriesFilter.parameter_name,
            task.series_id,
            task.series_id,
        )

    @admin.display(description="next occurrences")
    def upcoming(self, task: Task) -> str:
        if not task.recurrence or task.due_at is None:
            return "-"
        due = recurrence.occurrences(
            task.recurrence, task.timezone, task.series_start, after=task.due_at, count=3
        )
        return ", ".join(f"{moment:%Y-%m-%d %H:%M} UTC" for moment in due) or "none"

    @admin.action(description="Mark selected tasks complete")
    def mark_complete(self, request: HttpRequest, queryset: QuerySet[Task]) -> None:
        changed = tasks_set_completed(queryset=queryset, completed=True)
        self.message_user(request, f"Marked {changed} task(s) complete.", messages.SUCCESS)

    @admin.action(description="Reopen selected tasks")
    def reopen(self, request: HttpRequest, queryset: QuerySet[Task]) -> None:
        changed = tasks_set_completed(queryset=queryset, completed=False)
        self.message_user(request, f"Reopened {changed} task(s).", messages.SUCCESS)

    def save_model(self, request: HttpRequest, task: Task, form: ModelForm, change: bool) -> None:
        # The form has put its cleaned values on `task` (and Task.clean() normalised them).
        fields = field_names({name: getattr(task, name) for name in form.changed_data})
        if change:
            task_update(task=task, data=fields)
            return
        fields.pop("user", None)
        created = task_create(user=task.user, data=fields)
        # The admin goes on with the object it passed in (its id for the redirect, the log).
        vars(task).update(vars(created))

    def delete_model(self, request: HttpRequest, task: Task) -> None:
        task_delete(task=task)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Task]) -> None:
        tasks_delete(queryset=queryset)


def list_count_subquery(**condition: object) -> Coalesce:
    counts = (
        Task.objects.filter(list=OuterRef("pk"), **condition)
        .order_by()
        .values("list")
        .annotate(total=Count("*"))
        .values("total")
    )
    return Coalesce(Subquery(counts, output_field=IntegerField()), 0)


@admin.register(TaskList)
class TaskListAdmin(admin.ModelAdmin):
    """Lists for staff, with their task counts (computed for the page's lists only) linking
    to their tasks. Changes go through tasks.services."""

    list_display = ["name", "user", "color", "task_count", "pending_count", "updated_at"]
    search_fields = ["name", "user__email"]
    ordering = ["-id"]
    list_select_related = ["user"]
    autocomplete_fields = ["user"]
    readonly_fields = ["position", "created_at", "updated_at"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[TaskList]:
        return (
            super()
            .get_queryset(request)
            .annotate(
                task_count=list_count_subquery(), pending_count=list_count_subquery(completed=False)
            )
        )

    @admin.display(description="tasks", ordering="task_count")
    def task_count(self, task_list: TaskList) -> str:
        url = (
            reverse("admin:tasks_task_changelist") + f"?{ListFilter.parameter_name}={task_list.pk}"
        )
        return format_html('<a href="{}">{}</a>', url, task_list.task_count)

    @admin.display(description="pending", ordering="pending_count")
    def pending_count(self, task_list: TaskList) -> int:
        return task_list.pending_count

    def save_model(
        self, request: HttpRequest, task_list: TaskList, form: ModelForm, change: bool
    ) -> None:
        fields = {name: getattr(task_list, name) for name in form.changed_data}
        fields.pop("user", None)
        # The form has checked the name against the unique constraint already
        # (Model.validate_constraints); the service checks again, in its transaction.
        if change:
            list_update(task_list=task_list, data=fields)
            return
        created = list_create(user=task_list.user, data=fields)
        vars(task_list).update(vars(created))

    def delete_model(self, request: HttpRequest, task_list: TaskList) -> None:
        list_delete(task_list=task_list)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[TaskList]) -> None:
        for task_list in queryset:
            list_delete(task_list=task_list)


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


admin.site.unregister(User)


@admin.register(User)
class UserWithTasksAdmin(UserAdmin):
    """The accounts app's user admin, plus each user's task count (in the page's one query)
    linking to their tasks."""

    list_display = [*UserAdmin.list_display[:3], "task_count", *UserAdmin.list_display[3:]]

    def get_queryset(self, request: HttpRequest) -> QuerySet[User]:
        return super().get_queryset(request).annotate(task_count=task_count_subquery())

    @admin.display(description="tasks", ordering="task_count")
    def task_count(self, user: User) -> str:
        url = reverse("admin:tasks_task_changelist") + f"?{OwnerFilter.parameter_name}={user.pk}"
        return format_html('<a href="{}">{}</a>', url, user.task_count)
