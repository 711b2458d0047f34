"""The Django admin for staff: fast task lists, bulk actions, users with their task counts."""

from datetime import UTC, datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.models import User
from core import admin_paginator
from core.admin_paginator import EstimatedCountPaginator
from tasks.models import Reminder, Task, TaskList
from tests.factories import TaskFactory, TaskListFactory, UserFactory

pytestmark = pytest.mark.django_db

requires_postgresql = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="planner estimates exist only in PostgreSQL"
)

TASKS_URL = reverse("admin:tasks_task_changelist")
LISTS_URL = reverse("admin:tasks_tasklist_changelist")
USERS_URL = reverse("admin:accounts_user_changelist")


def queries_for_page(admin_client, url: str) -> int:
    with CaptureQueriesContext(connection) as context:
        assert admin_client.get(url).status_code == 200
    return len(context.captured_queries)


class TestTaskList:
    def test_a_page_costs_the_same_queries_for_1_or_50_tasks(
        self, admin_client, django_assert_num_queries
    ):
        TaskFactory()
        admin_client.get(TASKS_URL)  # the session and content types are warm from here on
        for_one = queries_for_page(admin_client, TASKS_URL)
        TaskFactory.create_batch(49, user=UserFactory())

        with django_assert_num_queries(for_one):
            response = admin_client.get(TASKS_URL)

        assert len(response.context["cl"].result_list) == 50

    def test_shows_title_owner_completed_priority_due_and_updated(self, admin_client, task):
        response = admin_client.get(TASKS_URL)

        content = response.content.decode()
        assert task.title in content and task.user.email in content
        owner_link = f"{TASKS_URL}?owner={task.user_id}"
        assert owner_link in content
        headers = [header["text"] for header in response.context["result_headers"]][1:]
        assert headers == [
            "title",
            "owner",
            "completed",
            "priority",
            "due at",
            "repeats",
            "list",
            "parent",
            "updated at",
        ]

    def test_search_finds_by_title_description_and_owner_email(self, admin_client, user):
        by_title = TaskFactory(user=user, title="Buy oat milk")
        by_description = TaskFactory(description="remember the oat bars")
        owner = UserFactory(email="oat.farmer@example.com")
        by_owner = TaskFactory(user=owner, title="Plough")
        TaskFactory(title="Unrelated")

        response = admin_client.get(TASKS_URL, {"q": "oat"})

        found = {task.pk for task in response.context["cl"].result_list}
        assert found == {by_title.pk, by_description.pk, by_owner.pk}

    def test_owner_filter_lists_only_that_users_tasks(self, admin_client, user, other_user):
        mine = TaskFactory.create_batch(2, user=user)
        TaskFactory(user=other_user)

        response = admin_client.get(TASKS_URL, {"owner": user.pk})

        assert {task.pk for task in response.context["cl"].result_list} == {t.pk for t in mine}

    def test_an_unknown_owner_is_an_empty_list_not_an_error(self, admin_client, task):
        response = admin_client.get(TASKS_URL, {"owner": "no-such-user"})

        assert response.status_code == 200
        assert list(response.context["cl"].result_list) == []

    def test_completed_filter(self, admin_client, user):
        done = TaskFactory(user=user, completed=True)
        TaskFactory(user=user)

        response = admin_client.get(TASKS_URL, {"completed__exact": "1"})

        assert [task.pk for task in response.context["cl"].result_list] == [done.pk]


class TestBulkActions:
    def run_action(self, admin_client, action: str, tasks: list[Task]):
        return admin_client.post(
            TASKS_URL,
            {"action": action, "_selected_action": [task.pk for task in tasks]},
            follow=True,
        )

    def test_mark_complete_completes_only_the_selected_tasks(self, admin_client, user):
        chosen = TaskFactory.create_batch(2, user=user)
        left_alone = TaskFactory(user=user)
        before = Task.objects.get(pk=chosen[0].pk).updated_at

        response = self.run_action(admin_client, "mark_complete", chosen)

        assert "Marked 2 task(s) complete." in response.content.decode()
        assert set(Task.objects.filter(completed=True)) == set(chosen)
        assert Task.objects.get(pk=chosen[0].pk).updated_at > before
        assert not Task.objects.get(pk=left_alone.pk).completed

    def test_reopen_reopens_the_selected_tasks(self, admin_client, user):
        chosen = TaskFactory.create_batch(2, user=user, completed=True)
        left_alone = TaskFactory(user=user, completed=True)

        response = self.run_action(admin_client, "reopen", chosen)

        assert "Reopened 2 task(s)." in response.content.decode()
        assert set(Task.objects.filter(completed=False)) == set(chosen)
        assert Task.objects.get(pk=left_alone.pk).completed

    def test_delete_selected_deletes_after_confirmation(self, admin_client, user):
        chosen = TaskFactory.create_batch(2, user=user)
        kept = TaskFactory(user=user)

        admin_client.post(
            TASKS_URL,
            {
                "action": "delete_selected",
                "_selected_action": [task.pk for task in chosen],
                "post": "yes",
            },
        )

        assert list(Task.objects.all()) == [kept]


class TestTaskForm:
    def test_timestamps_are_read_only_and_the_owner_picker_loads_no_other_users(
        self, admin_client, task
    ):
        strangers = UserFactory.create_batch(5)

        response = admin_client.get(reverse("admin:tasks_task_change", args=[task.pk]))

        content = response.content.decode()
        assert 'name="created_at"' not in content and 'name="updated_at"' not in content
        assert all(stranger.pk not in content for stranger in strangers)
        assert "admin/autocomplete" in content

    def test_an_edit_saves_through_the_model_and_moves_updated_at(self, admin_client, task):
        before = task.updated_at

        response = admin_client.post(
            reverse("admin:tasks_task_change", args=[task.pk]),
            {
                "user": task.user_id,
                "title": "Edited",
                "description": "",
                "completed": "on",
                "priority": "3",
                "tags": "Home, home",
            },
        )

        assert response.status_code == 302
        task.refresh_from_db()
        assert (task.title, task.completed, task.tags) == ("Edited", True, ["home"])
        assert task.updated_at > before and task.completed_at is not None


class TestUserAdmin:
    def test_shows_each_users_task_count_linking_to_their_tasks(self, admin_client, user):
        TaskFactory.create_batch(3, user=user)
        idle = UserFactory()

        response = admin_client.get(USERS_URL)

        counts = {row.pk: row.task_count for row in response.context["cl"].result_list}
        assert counts[user.pk] == 3 and counts[idle.pk] == 0
        assert f'href="{TASKS_URL}?owner={user.pk}">3</a>' in response.content.decode()

    def test_a_page_costs_the_same_queries_for_1_or_50_users(
        self, admin_client, django_assert_num_queries
    ):
        TaskFactory()
        admin_client.get(USERS_URL)
        for_two = queries_for_page(admin_client, USERS_URL)  # the admin and one owner
        for owner in UserFactory.create_batch(48):
            TaskFactory(user=owner)

        with django_assert_num_queries(for_two):
            response = admin_client.get(USERS_URL)

        assert len(response.context["cl"].result_list) == 50

    def test_staff_can_add_a_user_with_a_password(self, admin_client):
        response = admin_client.post(
            reverse("admin:accounts_user_add"),
            {
                "email": "New.Staff@Example.com",
                "name": "New",
                "password1": "a sturdy passphrase",
                "password2": "a sturdy passphrase",
                "usable_password": "true",
            },
        )

        assert response.status_code == 302
        created = User.objects.get(email="new.staff@example.com")
        assert created.check_password("a sturdy passphrase")
        assert len(created.pk) == 32


class TestEstimatedCount:
    def test_small_tables_and_other_databases_are_counted_exactly(self, user):
        TaskFactory.create_batch(3, user=user)

        assert EstimatedCountPaginator(Task.objects.all(), 10).count == 3

    @requires_postgresql
    def test_a_large_unfiltered_table_is_counted_from_the_planner_estimate(self, user, monkeypatch):
        TaskFactory.create_batch(3, user=user)
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE tasks_task")
        monkeypatch.setattr(admin_paginator, "ESTIMATE_ABOVE_ROWS", 2)

        with CaptureQueriesContext(connection) as context:
            count = EstimatedCountPaginator(Task.objects.all(), 10).count

        assert count == 3
        assert not any("COUNT(" in query["sql"].upper() for query in context.captured_queries)

    @requires_postgresql
    def test_a_filtered_list_is_counted_exactly(self, user, monkeypatch):
        TaskFactory.create_batch(3, user=user)
        TaskFactory(user=user, completed=True)
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE tasks_task")
        monkeypatch.setattr(admin_paginator, "ESTIMATE_ABOVE_ROWS", 2)

        assert EstimatedCountPaginator(Task.objects.filter(completed=True), 10).count == 1


@pytest.mark.parametrize(
    ("tags", "message"),
    [
        ("x" * 33, "Each tag must be 1 to 32 characters long."),
        (", ".join(f"t{n}" for n in range(21)), "A task carries at most 20 tags."),
        ("home, wo\x00rk", "Tags may not contain NUL characters."),
    ],
)
def test_tags_the_api_would_refuse_are_a_form_error_naming_why(admin_client, task, tags, message):
    response = admin_client.post(
        reverse("admin:tasks_task_change", args=[task.pk]),
        {"user": task.user_id, "title": "t", "priority": "0", "tags": tags},
    )

    assert response.status_code == 200
    assert response.context["adminform"].form.errors["tags"] == [message]
    task.refresh_from_db()
    assert task.tags == []


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("home, work", ["home", "work"]),
        ("  Work ,HOME,work, ,", ["work", "home"]),
        ("", []),
    ],
)
def test_tags_are_typed_comma_separated_and_stored_as_the_api_stores_them(
    admin_client, task, typed, stored
):
    url = reverse("admin:tasks_task_change", args=[task.pk])

    response = admin_client.post(
        url, {"user": task.user_id, "title": "t", "priority": "0", "tags": typed}
    )

    assert response.status_code == 302
    task.refresh_from_db()
    assert task.tags == stored


def test_the_form_shows_a_tasks_tags_comma_separated(admin_client, user):
    task = TaskFactory(user=user, tags=["home", "work"])

    response = admin_client.get(reverse("admin:tasks_task_change", args=[task.pk]))

    assert 'value="home, work"' in response.content.decode()


def test_the_admin_is_named_for_the_service_and_hides_groups(admin_client):
    response = admin_client.get(reverse("admin:index"))

    content = response.content.decode()
    assert "Todo backend administration" in content and "Django administration" not in content
    assert "/admin/auth/group/" not in content
    assert admin_client.get("/admin/auth/group/").status_code == 404


def test_the_admin_is_styled_without_collectstatic(client):
    response = client.get("/static/admin/css/base.css")

    assert response.status_code == 200
    assert b"".join(response.streaming_content).strip()


class TestSignIn:
    PASSWORD = "staff-password-0123456789"

    @pytest.fixture
    def staff(self, db) -> User:
        return User.objects.create_superuser("staff@example.com", self.PASSWORD)

    def sign_in(self, client, password: str, address: str = "203.0.113.20"):
        return client.post(
            reverse("admin:login"),
            {"username": "staff@example.com", "password": password, "next": "/admin/"},
            REMOTE_ADDR=address,
        )

    def test_the_right_password_signs_in(self, client, staff):
        response = self.sign_in(client, self.PASSWORD)

        assert response.status_code == 302
        assert client.get("/admin/").status_code == 200

    def test_after_ten_wrong_passwords_even_the_right_one_is_429(self, client, staff):
        statuses = [self.sign_in(client, f"wrong-{n}").status_code for n in range(10)]

        response = self.sign_in(client, self.PASSWORD)

        assert statuses == [200] * 10  # the form again, with its error
        assert response.status_code == 429
        assert 0 < int(response["Retry-After"]) <= 60
        assert set(response.json()) == {"detail"}
        assert client.get("/admin/").status_code == 302  # still signed out

    def test_another_address_still_signs_in(self, client, staff):
        for n in range(11):
            self.sign_in(client, f"wrong-{n}")

        assert self.sign_in(client, self.PASSWORD, address="198.51.100.20").status_code == 302

    def test_showing_the_form_is_not_counted(self, client, staff):
        for _ in range(20):
            assert client.get(reverse("admin:login"), REMOTE_ADDR="203.0.113.21").status_code == 200

        assert self.sign_in(client, self.PASSWORD, address="203.0.113.21").status_code == 302


class TestListsAndSubtasks:
    def edit(self, admin_client, task: Task, **fields: object):
        return admin_client.post(
            reverse("admin:tasks_task_change", args=[task.pk]),
            {
                "user": task.user_id,
                "title": task.title,
                "description": "",
                "priority": "0",
                "tags": "",
                **fields,
            },
        )

    def test_lists_show_their_task_counts_in_constant_queries(self, admin_client, user):
        task_list = TaskListFactory(user=user)
        TaskFactory(user=user, list_id=task_list.id)
        TaskFactory(user=user, list_id=task_list.id, completed=True)
        admin_client.get(LISTS_URL)
        for_one = queries_for_page(admin_client, LISTS_URL)
        for _ in range(10):
            TaskFactory(user=user, list_id=TaskListFactory(user=user).id)

        response = admin_client.get(LISTS_URL)

        assert queries_for_page(admin_client, LISTS_URL) == for_one
        row = next(item for item in response.context["cl"].result_list if item.pk == task_list.pk)
        assert (row.task_count, row.pending_count) == (2, 1)
        assert f"{TASKS_URL}?list={task_list.pk}" in response.content.decode()

    def test_tasks_filter_by_list_and_inbox(self, admin_client, user):
        task_list = TaskListFactory(user=user)
        listed = TaskFactory(user=user, list_id=task_list.id)
        inbox = TaskFactory(user=user)

        by_list = admin_client.get(TASKS_URL, {"list": task_list.pk})
        by_inbox = admin_client.get(TASKS_URL, {"list": "inbox"})

        assert [task.pk for task in by_list.context["cl"].result_list] == [listed.pk]
        assert [task.pk for task in by_inbox.context["cl"].result_list] == [inbox.pk]

    def test_a_parent_set_in_the_admin_follows_the_api_rules(self, admin_client, user):
        task_list = TaskListFactory(user=user)
        parent = TaskFactory(user=user, list_id=task_list.id)
        task = TaskFactory(user=user)

        response = self.edit(admin_client, task, parent=parent.pk)

        assert response.status_code == 302
        task.refresh_from_db()
        assert (task.parent_id, task.list_id) == (parent.pk, task_list.pk)

    def test_a_bad_parent_is_a_form_error(self, admin_client, user, other_user):
        parent = TaskFactory(user=user)
        subtask = TaskFactory(user=user, parent_id=parent.pk)
        theirs = TaskFactory(user=other_user)
        task = TaskFactory(user=user)

        for bad in (subtask.pk, theirs.pk, task.pk):
            response = self.edit(admin_client, task, parent=bad)
            assert response.status_code == 200
            assert "parent" in response.context["adminform"].form.errors
        assert Task.objects.get(pk=task.pk).parent_id is None

    def test_completing_in_the_admin_completes_subtasks(self, admin_client, user):
        parent = TaskFactory(user=user)
        subtask = TaskFactory(user=user, parent_id=parent.pk)

        admin_client.post(
            TASKS_URL, {"action": "mark_complete", "_selected_action": [parent.pk]}, follow=True
        )

        assert Task.objects.get(pk=subtask.pk).completed is True

    def test_deleting_a_list_in_the_admin_deletes_its_tasks(self, admin_client, user):
        task_list = TaskListFactory(user=user)
        TaskFactory(user=user, list_id=task_list.id)

        response = admin_client.post(
            reverse("admin:tasks_tasklist_delete", args=[task_list.pk]), {"post": "yes"}
        )

        assert response.status_code == 302
        assert not TaskList.objects.exists() and not Task.objects.exists()

    def test_a_list_added_in_the_admin_goes_through_the_services(self, admin_client, user):
        TaskListFactory(user=user, name="Work")

        taken = admin_client.post(
            reverse("admin:tasks_tasklist_add"), {"user": user.pk, "name": "WORK"}
        )
        added = admin_client.post(
            reverse("admin:tasks_tasklist_add"), {"user": user.pk, "name": "Home"}
        )

        assert taken.status_code == 200
        assert added.status_code == 302
        assert (
            TaskList.objects.get(name="Home").position > TaskList.objects.get(name="Work").position
        )


class TestReminders:
    def change(self, admin_client, task, **fields):
        body = {"user": task.user_id, "title": "t", "priority": "0", "tags": "", **fields}
        return admin_client.post(reverse("admin:tasks_task_change", args=[task.pk]), body)

    def test_reminders_are_typed_comma_separated_and_scheduled(self, admin_client, task):
        response = self.change(
            admin_client,
            task,
            due_at_0="2027-03-01",
            due_at_1="09:00:00",
            reminders="30, 2027-02-28T20:00:00+01:00",
        )

        assert response.status_code == 302
        task.refresh_from_db()
        assert task.reminders == [
            {"before_due_minutes": 30, "fire_at": "2027-03-01T08:30:00Z"},
            {"at": "2027-02-28T19:00:00Z", "fire_at": "2027-02-28T19:00:00Z"},
        ]
        assert Reminder.objects.filter(task=task).count() == 2

    @pytest.mark.parametrize(
        ("typed", "message"),
        [
            (
                "15",
                "A reminder before the due time (before_due_minutes) needs a due_at; "
                "set one, or remind at a fixed time with at.",
            ),
            ("-5", "before_due_minutes must be from 0 to 40320 (28 days)."),
            ("soon", "at must be an RFC 3339 datetime, e.g. 2026-11-23T10:00:00Z."),
            (
                ", ".join(f"2027-01-0{n}T00:00:00Z" for n in range(1, 7)),
                "A task carries at most 5 reminders.",
            ),
        ],
    )
    def test_reminders_the_api_would_refuse_are_a_form_error(
        self, admin_client, task, typed, message
    ):
        response = self.change(admin_client, task, reminders=typed)

        assert response.status_code == 200
        assert response.context["adminform"].form.errors["reminders"] == [message]
        assert not Reminder.objects.exists()

    def test_the_form_shows_them_as_typed(self, admin_client, user):
        task = TaskFactory(
            user=user,
            due_at=datetime(2027, 3, 1, 9, tzinfo=UTC),
            reminders=[{"before_due_minutes": 15}, {"at": datetime(2027, 2, 1, tzinfo=UTC)}],
        )

        response = admin_client.get(reverse("admin:tasks_task_change", args=[task.pk]))

        assert 'value="15, 2027-02-01T00:00:00Z"' in response.content.decode()
