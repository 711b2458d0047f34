"""The one way tasks change. The API, the admin's forms and actions and the management commands
call these functions; nothing else writes tasks. Each call is one transaction: a single
statement, or an atomic block.

What happens when tasks change, every time, whichever function below made the change:
1. `updated_at` moves to the time of the write, and `completed_at` follows `completed`: set
   when a task becomes completed, cleared when it is reopened, left alone otherwise
   (`derive_columns`, the only code that sets either; a database constraint on `Task` holds
   "completed if and only if completed_at is set").
2. A write that carries the ETag its client last saw (`If-Match`) first reads the task under
   a row lock and raises `PreconditionFailed` (412) when it has changed since; so does every
   toggle, which must read what it flips. Of two writers holding one ETag, one wins.
3. The owner's `tasks_version` is bumped by the database in the same statement (the triggers
   declared on `Task`), which makes every cached read of theirs unreachable (tasks/caching.py).
4. Once the transaction has committed, `tasks.signals.tasks_changed` is sent with the ids of
   the tasks written and deleted: the one hook for whatever must follow a change (change
   feed, live events, reminders, webhooks). Nothing is sent for a write that rolled back.
"""

import json
from collections.abc import Iterable
from contextlib import AbstractContextManager, nullcontext
from datetime import datetime
from typing import Any

from django.db import DatabaseError, connection, transaction
from django.db.models import QuerySet
from django.utils import timezone

from accounts.models import User
from tasks import caching
from tasks.models import Task
from tasks.signals import TaskChange, tasks_changed


def task_create(*, user: User, data: dict[str, Any]) -> Task:
    """A new task of `user` with the validated `data` (one INSERT)."""
    now = timezone.now()
    task = Task(user=user, **data, created_at=now)
    derive_columns(task, now, completion_written=True)
    task.save(force_insert=True)
    announce([TaskChange(user_id=user.pk, task_id=task.pk)])
    return task


def task_update(*, task: Task, data: dict[str, Any], if_match: str | None = None) -> Task:
    """Write `data` (validated fields) to `task`; only those columns and the derived ones.

    Without `if_match` no lock is taken, and a concurrent write to a column this one does not
    name survives it. Raises `Task.DoesNotExist` when the task was deleted meanwhile.
    """
    with locked_if_matching(if_match):
        if if_match is not None:
            task = lock(task, if_match)
        for name, value in data.items():
            setattr(task, name, value)
        save_changes(task, data.keys())
    announce([TaskChange(user_id=task.user_id, task_id=task.pk)])
    return task


def task_complete(
    *, task: Task, completed: bool | None = None, if_match: str | None = None
) -> Task:
    """Set `completed`, or flip it when `completed` is None; under a row lock, so two
    concurrent toggles flip the task twice rather than once."""
    with transaction.atomic():
        task = lock(task, if_match)
        task.completed = not task.completed if completed is None else completed
        save_changes(task, ["completed"])
    announce([TaskChange(user_id=task.user_id, task_id=task.pk)])
    return task


def task_delete(*, task: Task, if_match: str | None = None) -> None:
    with locked_if_matching(if_match):
        if if_match is not None:
            task = lock(task, if_match)
        if not Task.objects.filter(pk=task.pk).delete()[0]:
            raise Task.DoesNotExist()
    announce([TaskChange(user_id=task.user_id, task_id=task.pk, deleted=True)])


def tasks_set_completed(*, queryset: QuerySet[Task], completed: bool) -> int:
    """Complete (or reopen) the tasks of `queryset`, of any owners; returns how many changed.

    Tasks already in the wanted state are left alone, so their `completed_at` and
    `updated_at` keep telling the truth. The tasks are locked, then changed in one UPDATE.
    """
    with transaction.atomic():
        rows = list(
            queryset.exclude(completed=completed)
            .select_for_update()
            .order_by()
            .values_list("pk", "user_id")
        )
        now = timezone.now()
        Task.objects.filter(pk__in=[pk for pk, _ in rows]).update(
            completed=completed, completed_at=now if completed else None, updated_at=now
        )
    announce([TaskChange(user_id=owner, task_id=pk) for pk, owner in rows])
    return len(rows)


def tasks_delete(*, queryset: QuerySet[Task]) -> int:
    """Delete the tasks of `queryset`, of any owners; returns how many were deleted."""
    with transaction.atomic():
        rows = list(queryset.select_for_update().order_by().values_list("pk", "user_id"))
        Task.objects.filter(pk__in=[pk for pk, _ in rows]).delete()
    announce([TaskChange(user_id=owner, task_id=pk, deleted=True) for pk, owner in rows])
    return len(rows)


def tasks_import(*, tasks: Iterable[Task]) -> int:
    """Insert many new tasks that carry their own history (`created_at`, `updated_at`), as
    `seed_demo` makes them; a completed one was completed at its last update. COPY on
    PostgreSQL, several times faster than multi-row INSERTs for big loads; one transaction.
    """
    tasks = list(tasks)
    for task in tasks:
        derive_columns(task, task.updated_at, completion_written=True)
    with transaction.atomic():
        if connection.vendor == "postgresql":
            copy_tasks(tasks)
        else:
            Task.objects.bulk_create(tasks, batch_size=1000)
    # Rows written by COPY have no ids here; their owners' caches were invalidated by the
    # trigger all the same, and an import is nothing another device needs to hear of.
    return len(tasks)


def derive_columns(task: Task, now: datetime, *, completion_written: bool) -> None:
    """`updated_at` is the time of this write; `completed_at` follows `completed`, when this
    write sets `completed` (otherwise it may be a concurrent completion's, not ours to undo)."""
    task.updated_at = now
    if completion_written:
        if not task.completed:
            task.completed_at = None
        elif task.completed_at is None:
            task.completed_at = now


def save_changes(task: Task, fields: Iterable[str]) -> None:
    """UPDATE only `fields` and the columns derived from them."""
    fields = {*fields, "updated_at"}
    if "completed" in fields:
        fields.add("completed_at")
    derive_columns(task, timezone.now(), completion_written="completed" in fields)
    try:
        task.save(update_fields=fields)
    except DatabaseError as error:
        # Django refuses to save fields of a row that is gone with a plain DatabaseError (the
        # driver's own errors are its subclasses): the task was deleted since it was read.
        if type(error) is not DatabaseError:
            raise
        raise Task.DoesNotExist() from None


def locked_if_matching(if_match: str | None) -> AbstractContextManager:
    """The transaction of a write: a write without `If-Match` is one statement, which is a
    transaction of its own; one with it reads under a lock first, in one transaction."""
    return transaction.atomic() if if_match is not None else nullcontext()


def lock(task: Task, if_match: str | None) -> Task:
    """The task as it is now, locked until the transaction ends, checked against `if_match`."""
    current = Task.objects.select_for_update().get(pk=task.pk)
    caching.check_if_match(if_match, current)
    return current


def announce(changes: list[TaskChange]) -> None:
    if changes:
        transaction.on_commit(lambda: tasks_changed.send(sender=Task, changes=changes))


COPY_COLUMNS = [
    "user_id",
    "title",
    "description",
    "completed",
    "completed_at",
    "priority",
    "due_at",
    "tags",
    "created_at",
    "updated_at",
]


def copy_tasks(tasks: list[Task]) -> None:
    with connection.cursor() as cursor:
        copy_sql = f"COPY {Task._meta.db_table} ({', '.join(COPY_COLUMNS)}) FROM STDIN"
        with cursor.cursor.copy(copy_sql) as copy:
            for task in tasks:
                copy.write_row(
                    [
                        json.dumps(task.tags) if column == "tags" else getattr(task, column)
                        for column in COPY_COLUMNS
                    ]
                )
