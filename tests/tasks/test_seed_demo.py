"""`manage.py seed_demo`."""

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from accounts.models import User
from tasks.models import Task, TaskList

pytestmark = pytest.mark.django_db


def seed(*args: str) -> None:
    call_command("seed_demo", *args, verbosity=0)


def content() -> list[tuple]:
    rows = Task.objects.values_list(
        "user__email", "title", "description", "priority", "completed", "tags"
    )
    return sorted(rows, key=repr)


def test_creates_demo_users_and_consistent_tasks():
    seed("--users", "3", "--tasks", "50", "--seed", "1")

    users = User.objects.filter(email__endswith="@example.com")
    assert sorted(users.values_list("email", flat=True)) == [
        "demo-1@example.com",
        "demo-2@example.com",
        "demo-3@example.com",
    ]
    assert all(len(user.id) == 32 and not user.has_usable_password() for user in users)
    assert Task.objects.count() == 50
    for task in Task.objects.all():
        assert (task.completed_at is not None) == task.completed
        assert task.created_at <= task.updated_at
        assert task.tags == sorted(set(task.tags), key=task.tags.index)
    assert Task.objects.filter(completed=True).exists()
    assert Task.objects.filter(due_at__isnull=False, completed=False).exists()


def test_the_same_seed_gives_the_same_tasks():
    seed("--users", "2", "--tasks", "30", "--seed", "7")
    first = content()
    Task.objects.all().delete()

    seed("--users", "2", "--tasks", "30", "--seed", "7")

    assert content() == first


def test_running_twice_reuses_the_users_and_adds_tasks():
    seed("--users", "2", "--tasks", "10")
    ids = set(User.objects.values_list("id", flat=True))

    seed("--users", "3", "--tasks", "10")

    assert ids < set(User.objects.values_list("id", flat=True))
    assert User.objects.count() == 3
    assert Task.objects.count() == 20


def test_big_user_gets_its_own_tasks():
    seed("--users", "1", "--tasks", "5", "--big-user-tasks", "25", "--batch-size", "7")

    assert Task.objects.filter(user__email="demo-big@example.com").count() == 25


def test_rejects_nonsense_counts():
    with pytest.raises(CommandError):
        seed("--users", "0", "--tasks", "5")


def test_makes_lists_and_subtasks_that_follow_the_rules():
    seed("--users", "4", "--tasks", "300", "--seed", "3", "--batch-size", "40")
    seed("--users", "4", "--tasks", "100", "--seed", "4")  # again: positions go on

    assert TaskList.objects.exists()
    assert Task.objects.count() == 400
    subtasks = Task.objects.filter(parent__isnull=False).select_related("parent")
    assert subtasks.exists()
    for subtask in subtasks:
        assert subtask.parent.parent_id is None
        assert subtask.list_id == subtask.parent.list_id
        assert subtask.user_id == subtask.parent.user_id
        assert subtask.completed or not subtask.parent.completed
    for task in Task.objects.filter(list__isnull=False).select_related("list"):
        assert task.list.user_id == task.user_id
    groups = Task.objects.values_list("user_id", "list_id", "parent_id", "position")
    assert len(set(groups)) == 400
