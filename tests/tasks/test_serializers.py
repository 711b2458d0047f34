"""The hand-written task representation stays exactly what DRF's fields would produce."""

from datetime import UTC, datetime, timedelta

import pytest
from rest_framework import serializers

from tasks.models import Priority
from tasks.serializers import TaskSerializer
from tests.factories import TaskFactory

pytestmark = pytest.mark.django_db


def drf_representation(task) -> dict:
    return serializers.ModelSerializer.to_representation(TaskSerializer(), task)


@pytest.mark.parametrize(
    "fields",
    [
        {},
        {"description": "Two litres", "completed": True, "priority": Priority.HIGH},
        {"due_at": datetime(2026, 12, 1, 9, 30, tzinfo=UTC), "tags": ["home", "money"]},
        {"due_at": datetime(2027, 1, 1, tzinfo=UTC) + timedelta(microseconds=7)},
        {"title": "Ünïcödé ✓", "description": "", "priority": Priority.LOW},
    ],
)
def test_fast_representation_equals_drfs(fields):
    task = TaskFactory(**fields)
    task.refresh_from_db()

    assert TaskSerializer(task).data == drf_representation(task)
    assert list(TaskSerializer(task).data) == TaskSerializer.Meta.fields
