"""The task representation is the contract's, and the serializer never writes."""

from datetime import UTC, datetime, timedelta

import pytest
from rest_framework import serializers

from tasks.models import Priority
from tasks.serializers import TaskSerializer
from tests.factories import TaskFactory

pytestmark = pytest.mark.django_db


def test_a_task_is_answered_with_the_contracts_fields_in_utc():
    due = datetime(2027, 1, 1, tzinfo=UTC) + timedelta(microseconds=7)
    task = TaskFactory(completed=True, priority=Priority.HIGH, due_at=due, tags=["home"])
    task.refresh_from_db()

    data = TaskSerializer(task).data

    assert list(data) == TaskSerializer.Meta.fields
    assert data["due_at"] == "2027-01-01T00:00:00.000007Z"
    assert data["completed_at"].endswith("Z")
    assert (data["priority"], data["tags"], data["user_id"]) == ("high", ["home"], task.user_id)


def test_partial_and_full_validation_do_not_share_fields():
    partial = TaskSerializer(data={}, partial=True)
    full = TaskSerializer(data={})

    assert partial.is_valid()
    assert not full.is_valid()
    assert full.errors == {"title": ["This field is required."]}


def test_saving_through_the_serializer_is_refused():
    serializer = TaskSerializer(data={"title": "bypass"})
    serializer.is_valid(raise_exception=True)

    with pytest.raises(NotImplementedError, match="tasks.services"):
        serializer.save()


@pytest.mark.parametrize(
    "fields",
    [
        {},
        {"description": "Two litres", "completed": True, "priority": Priority.HIGH},
        {"due_at": datetime(2026, 12, 1, 9, 30, tzinfo=UTC), "tags": ["home", "money"]},
        {"due_at": datetime(2027, 1, 1, tzinfo=UTC) + timedelta(microseconds=7)},
        {"title": "Ünïcödé ✓", "description": "", "priority": Priority.LOW},
        {
            "recurrence": "FREQ=DAILY",
            "timezone": "Europe/Berlin",
            "due_at": datetime(2027, 3, 1, tzinfo=UTC),
        },
        {
            "due_at": datetime(2027, 3, 1, tzinfo=UTC),
            "reminders": [
                {"before_due_minutes": 30},
                {"at": datetime(2027, 2, 1, 8, tzinfo=UTC) + timedelta(microseconds=7)},
            ],
        },
    ],
)
def test_the_written_out_representation_equals_drfs(fields):
    task = TaskFactory(**fields)
    task.refresh_from_db()

    drf = serializers.ModelSerializer.to_representation(TaskSerializer(), task)

    assert TaskSerializer(task).data == drf
    assert list(TaskSerializer(task).data) == list(drf) == TaskSerializer.Meta.fields


def test_a_subtask_in_a_list_is_represented_as_drf_would(user):
    parent = TaskFactory(user=user)
    child = TaskFactory(user=user, parent_id=parent.id)
    child.refresh_from_db()

    drf = serializers.ModelSerializer.to_representation(TaskSerializer(), child)

    assert TaskSerializer(child).data == drf
