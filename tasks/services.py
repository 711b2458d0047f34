"""Writes to many tasks at once. Every bulk write goes through here (API bulk route, admin
actions, commands), so the side effects of a write live in one place, next to `Task.save()`:
`completed_at` and `updated_at`. (The owners' cache versions are bumped by the database
itself: tasks/caching.py.)
"""

from django.db.models import QuerySet
from django.utils import timezone

from tasks.models import Task


def tasks_set_completed(*, queryset: QuerySet[Task], completed: bool) -> int:
    """Complete (or reopen) the tasks of `queryset`; returns how many actually changed.

    Tasks already in the wanted state are left alone, so their `completed_at` and
    `updated_at` keep telling the truth. One UPDATE statement.
    """
    now = timezone.now()
    return queryset.exclude(completed=completed).update(
        completed=completed,
        completed_at=now if completed else None,
        updated_at=now,
    )


def tasks_delete(*, queryset: QuerySet[Task]) -> int:
    """Delete the tasks of `queryset`; returns how many tasks were deleted."""
    _, deleted_per_model = queryset.delete()
    return deleted_per_model.get(Task._meta.label, 0)
