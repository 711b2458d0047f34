"""The data migration that gives existing tasks their first positions."""

import importlib

import pytest
from django.apps import apps

from tasks.models import Task
from tests.factories import TaskFactory

pytestmark = pytest.mark.django_db

migration = importlib.import_module("tasks.migrations.0010_existing_task_positions")


def test_existing_tasks_keep_their_newest_first_order_per_user(user, other_user, monkeypatch):
    mine = [TaskFactory(user=user) for _ in range(5)]
    theirs = [TaskFactory(user=other_user) for _ in range(3)]
    Task.objects.update(position="")
    monkeypatch.setattr(migration, "BATCH_SIZE", 2)  # several batches per user

    migration.assign_positions(apps, None)

    for owner, tasks in ((user, mine), (other_user, theirs)):
        by_position = list(
            Task.objects.filter(user=owner).order_by("position").values_list("pk", flat=True)
        )
        newest_first = list(
            Task.objects.filter(user=owner)
            .order_by("-created_at", "-id")
            .values_list("pk", flat=True)
        )
        assert by_position == newest_first
        assert sorted(by_position) == sorted(task.pk for task in tasks)
    assert not Task.objects.filter(position="").exists()
