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
3. Completing a recurring task creates its next occurrence in the same transaction, whichever
   function completes it (`spawn_next_occurrences`): a pending copy due at the series' next
   date after both its due_at and now. The completed task keeps the new one's id
   (`next_occurrence_id`, unique), and only a task without one spawns, under a row lock, so
   completing twice, or twice at once, creates one. A task that gets a recurrence, or a new
   rule or zone, starts a series of its own (`series_id` its id, `series_start` its due_at).
4. The owner's `tasks_version` is bumped by the database in the same statement (the triggers
   declared on `Task`), which makes every cached read of theirs unreachable (tasks/caching.py).
5. Once the transaction has committed, `tasks.signals.tasks_changed` is sent with the ids of
   the tasks written and deleted: the one hook for whatever must follow a change (change
   feed, live events, reminders, webhooks). Nothing is sent for a write that rolled back.
"""

import json
from collections.abc import Iterable
from contextlib import AbstractContextManager, nullcontext
from datetime import datetime
from typing import Any

from django.db import DatabaseError, connection, transaction
from django.db.models import JSONField, QuerySet
from django.utils import timezone

from accounts.models import User
from tasks import caching, recurrence
from tasks.models import Task
from tasks.signals import TaskChange, tasks_changed


def task_create(*, user: User, data: dict[str, Any]) -> Task:
    """A new task of `user` with the validated `data` (one INSERT; a recurring one then names
    itself its series' first task)."""
    now = timezone.now()
    task = Task(user=user, **data, created_at=now)
    derive_columns(task, now, completion_written=True)
    with transaction.atomic():
        if task.recurrence:
            task.series_start = task.due_at
        task.save(force_insert=True)
        spawned = []
        if task.recurrence:
            task.series_id = task.pk  # the first task of its series
            spawned = spawn_next_occurrences([task], now) if task.completed else []
            Task.objects.filter(pk=task.pk).update(
                series_id=task.series_id, next_occurrence_id=task.next_occurrence_id
            )
    announce([TaskChange(user_id=user.pk, task_id=t.pk) for t in [task, *spawned]])
    return task


def task_update(*, task: Task, data: dict[str, Any], if_match: str | None = None) -> Task:
    """Write `data` (validated fields) to `task`; only those columns and the derived ones.

    Without `if_match` no lock is taken, and a concurrent write to a column this one does not
    name survives it. Raises `Task.DoesNotExist` when the task was deleted meanwhile.
    """
    completes = data.get("completed") is True
    with locked_if_matching(if_match, completes):
        if if_match is not None or completes:
            task = lock(task, if_match)
        was_completed = task.completed
        starts_series = series_changes(task, data)
        for name, value in {**data, **starts_series}.items():
            setattr(task, name, value)
        spawned = spawn_next_occurrences([task]) if completes and not was_completed else []
        save_changes(task, [*data, *starts_series, *(["next_occurrence_id"] if spawned else [])])
    announce([TaskChange(user_id=t.user_id, task_id=t.pk) for t in [task, *spawned]])
    return task


def task_complete(
    *, task: Task, completed: bool | None = None, if_match: str | None = None
) -> Task:
    """Set `completed`, or flip it when `completed` is None; under a row lock, so two
    concurrent toggles flip the task twice rather than once. Setting the value the task
    already has writes nothing (its `updated_at` and ETag stay)."""
    with transaction.atomic():
        task = lock(task, if_match)
        if completed is not None and task.completed == completed:
            return task
        was_completed = task.completed
        task.completed = not task.completed if completed is None else completed
        spawned = spawn_next_occurrences([task]) if task.completed and not was_completed else []
        save_changes(task, ["completed", *(["next_occurrence_id"] if spawned else [])])
    announce([TaskChange(user_id=t.user_id, task_id=t.pk) for t in [task, *spawned]])
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
        tasks = list(queryset.exclude(completed=completed).select_for_update().order_by("pk"))
        now = timezone.now()
        Task.objects.filter(pk__in=[task.pk for task in tasks]).update(
            completed=completed, completed_at=now if completed else None, updated_at=now
        )
        spawned = spawn_next_occurrences(tasks, now) if completed else []
        if spawned:
            Task.objects.bulk_update(
                [task for task in tasks if task.next_occurrence_id], ["next_occurrence_id"]
            )
    announce([TaskChange(user_id=t.user_id, task_id=t.pk) for t in [*tasks, *spawned]])
    return len(tasks)


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


def series_changes(task: Task, data: dict[str, Any]) -> dict[str, Any]:
    """The series columns a write of `data` to `task` sets: a new rule or zone (or a first
    one) starts a series from this task; no rule, no series; a moved due_at changes nothing
    (the next occurrence returns to the rule)."""
    rule = data.get("recurrence", task.recurrence)
    if not rule:
        return {"series_id": None, "series_start": None} if task.series_id else {}
    zone = data.get("timezone", task.timezone)
    if task.series_id and (rule, zone) == (task.recurrence, task.timezone):
        return {}
    return {"series_id": task.pk, "series_start": data.get("due_at", task.due_at)}


def spawn_next_occurrences(tasks: list[Task], now: datetime | None = None) -> list[Task]:
    """The next occurrence of each recurring task of `tasks` (just completed, locked) that has
    none yet and whose rule has one: inserted in one statement, their ids set on `tasks` as
    `next_occurrence_id` for the caller to save. Returns the new tasks."""
    now = now or timezone.now()
    pairs = []
    for task in tasks:
        if not task.recurrence or task.next_occurrence_id is not None:
            continue
        due_at = recurrence.next_occurrence(
            task.recurrence, task.timezone, task.series_start, after=max(task.due_at, now)
        )
        if due_at is not None:
            pairs.append((task, next_occurrence(task, due_at, now)))
    Task.objects.bulk_create([new for _, new in pairs])
    for task, new in pairs:
        task.next_occurrence_id = new.pk
    return [new for _, new in pairs]


def next_occurrence(task: Task, due_at: datetime, now: datetime) -> Task:
    return Task(
        user_id=task.user_id,
        title=task.title,
        description=task.description,
        priority=task.priority,
        tags=list(task.tags),
        due_at=due_at,
        recurrence=task.recurrence,
        timezone=task.timezone,
        series_id=task.series_id,
        series_start=task.series_start,
        created_at=now,
        updated_at=now,
    )


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


def locked_if_matching(if_match: str | None, completes: bool = False) -> AbstractContextManager:
    """The transaction of a write: a plain write is one statement, which is a transaction of
    its own; one with `If-Match`, or one that completes (and may spawn a next occurrence),
    reads under a lock first, in one transaction."""
    return transaction.atomic() if if_match is not None or completes else nullcontext()


def lock(task: Task, if_match: str | None) -> Task:
    """The task as it is now, locked until the transaction ends, checked against `if_match`."""
    current = Task.objects.select_for_update().get(pk=task.pk)
    caching.check_if_match(if_match, current)
    return current


def announce(changes: list[TaskChange]) -> None:
    if changes:
        transaction.on_commit(lambda: tasks_changed.send(sender=Task, changes=changes))


def copy_tasks(tasks: list[Task]) -> None:
    """PostgreSQL's COPY of every column but the id, JSON columns as JSON text."""
    fields = [field for field in Task._meta.concrete_fields if not field.primary_key]
    columns = ", ".join(field.column for field in fields)
    with connection.cursor() as cursor:
        with cursor.cursor.copy(f"COPY {Task._meta.db_table} ({columns}) FROM STDIN") as copy:
            for task in tasks:
                copy.write_row(
                    [
                        json.dumps(value) if isinstance(field, JSONField) else value
                        for field in fields
                        for value in [getattr(task, field.attname)]
                    ]
                )
