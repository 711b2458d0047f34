"""Reading the change feed: the changes after a cursor, each object once, as it is now."""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from tasks.models import Change, Task, TaskList
from tasks.serializers import TaskListSerializer, TaskSerializer


@dataclass
class Page:
    # (the id of the object's last change, the change), in the order of those ids.
    changes: list[tuple[int, dict[str, Any]]]
    last_id: int
    has_more: bool


def latest_change_id(user_id: str) -> int:
    last = Change.objects.filter(user_id=user_id).order_by("-id").values_list("id", flat=True)
    return last.first() or 0


def ids_of(kind: str, objects: list[tuple[str, int]]) -> list[int]:
    return [object_id for object_kind, object_id in objects if object_kind == kind]


def changes_after(user_id: str, after_id: int, limit: int) -> Page:
    """Up to `limit` changes after `after_id`, in commit order. An object written several
    times appears once, at its last place, with its state now; one that is gone now is a
    deletion. Three queries whatever the page holds: the changes, their tasks, their lists."""
    rows = list(
        Change.objects.filter(user_id=user_id, id__gt=after_id)
        .order_by("id")
        .values_list("id", "object_type", "object_id")[: limit + 1]
    )
    has_more = len(rows) > limit
    rows = rows[:limit]
    last_place = {(kind, object_id): change_id for change_id, kind, object_id in rows}
    ordered = sorted(last_place, key=last_place.__getitem__)
    current = {
        **{
            ("task", task.pk): TaskSerializer(task).data
            for task in Task.objects.filter(user_id=user_id, pk__in=ids_of("task", ordered))
        },
        **{
            ("list", task_list.pk): TaskListSerializer(task_list).data
            for task_list in TaskList.objects.with_counts().filter(
                user_id=user_id, pk__in=ids_of("list", ordered)
            )
        },
    }
    changes = []
    for kind, object_id in ordered:
        data = current.get((kind, object_id))
        change = {
            "type": f"{kind}.{'deleted' if data is None else 'changed'}",
            "id": object_id,
            "data": data,
        }
        changes.append((last_place[kind, object_id], change))
    return Page(changes, rows[-1][0] if rows else after_id, has_more)


def purge_changes(*, before: datetime, batch_size: int = 10_000) -> int:
    """Delete the changes recorded before `before`, in batches (short transactions, so the
    writers' triggers never wait long); returns how many."""
    deleted = 0
    while True:
        batch = list(
            Change.objects.filter(created_at__lt=before).values_list("id", flat=True)[:batch_size]
        )
        if not batch:
            return deleted
        deleted += Change.objects.filter(id__in=batch).delete()[0]
