"""manage.py purge_completed."""

import io
from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from tasks.management.commands.purge_completed import Command
from tasks.models import Task
from tests.factories import TaskFactory

pytestmark = pytest.mark.django_db


def purge(*args: str) -> str:
    out = io.StringIO()
    call_command("purge_completed", *args, stdout=out)
    return out.getvalue()


def task_aged(age: timedelta, completed: bool) -> Task:
    task = TaskFactory(completed=completed)
    # save() stamps completed_at with now, so an old completion is written past it; a
    # recent edit of an old completed task must not protect it from the purge.
    Task.objects.filter(pk=task.pk).update(
        completed_at=timezone.now() - age if completed else None, updated_at=timezone.now()
    )
    return task


@pytest.fixture
def tasks_of_all_ages() -> dict[str, Task]:
    return {
        "old_completed": task_aged(timedelta(days=40), completed=True),
        "old_pending": task_aged(timedelta(days=40), completed=False),
        "recent_completed": task_aged(timedelta(days=5), completed=True),
    }


def test_deletes_only_completed_tasks_older_than_the_age_and_reports(tasks_of_all_ages):
    output = purge("--older-than", "30d")

    assert "Deleted 1 task(s) completed before" in output
    remaining = set(Task.objects.values_list("pk", flat=True))
    assert remaining == {
        tasks_of_all_ages["old_pending"].pk,
        tasks_of_all_ages["recent_completed"].pk,
    }


def test_dry_run_reports_and_deletes_nothing(tasks_of_all_ages):
    output = purge("--older-than", "2w", "--dry-run")

    assert "Would delete 1 task(s)" in output and "dry run" in output
    assert Task.objects.count() == 3


@pytest.mark.parametrize(("age", "deleted"), [("90m", 2), ("12h", 2), ("1w", 1), ("8w", 0)])
def test_understands_minutes_hours_and_weeks(tasks_of_all_ages, age, deleted):
    purge("--older-than", age)

    assert Task.objects.count() == 3 - deleted


@pytest.mark.parametrize("age", ["30", "30y", "d30", "-30d", "0d", "thirty days", "99999d"])
def test_a_bad_age_is_a_clear_error_and_deletes_nothing(tasks_of_all_ages, age):
    with pytest.raises(CommandError, match="is not a duration"):
        purge(f"--older-than={age}")

    assert Task.objects.count() == 3


def test_the_age_is_required():
    with pytest.raises(CommandError, match="--older-than"):
        purge()


def test_help_describes_the_command_and_its_options():
    help_text = Command().create_parser("manage.py", "purge_completed").format_help()

    assert "--older-than" in help_text and "--dry-run" in help_text and "30d" in help_text
