"""Bulk writes to tasks: the one path that the admin, commands and bulk routes share.

Single-task writes go through `Task.save()`; anything that changes many tasks at once
comes here, so side effects (timestamps, later `completed_at` and cache invalidation)
are kept in one place.
"""

from django.db.models import QuerySet
from django.utils import timezone

from tasks.models import Task


def tasks_set_completed(*, queryset: QuerySet[Task], completed: bool) -> int:
    """Mark the tasks complete or reopen them; returns how many rows were written."""
    return queryset.update(completed=completed, updated_at=timezone.now())


def tasks_delete(*, queryset: QuerySet[Task]) -> int:
    """Delete the tasks; returns how many tasks were deleted."""
    return queryset.delete()[0]
