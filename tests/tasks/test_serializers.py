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


def test_fields_built_once_are_still_bound_to_each_serializer():
    # The fields are built from the model once and copied: a PATCH's `partial` must not leak
    # into a PUT validated with the same class.
    partial = TaskSerializer(data={}, partial=True)
    full = TaskSerializer(data={})

    assert partial.is_valid()
    assert not full.is_valid()
    assert full.errors == {"title": ["This field is required."]}
    assert partial.fields["title"] is not full.fields["title"]
    assert full.fields["title"].parent is full
