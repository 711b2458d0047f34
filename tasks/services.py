"""The one way tasks and lists change. The API, the admin's forms and actions and the
management commands call these functions; nothing else writes tasks or lists. Each call is one
transaction, which first locks the owner's user row (`lock_owners`): one user's writes run
one at a time, so the rules that depend on other rows (a list's 500 limit, one level of
subtasks, distinct positions within a sibling group) cannot be raced, and every writer takes
its locks in one order (owner, then rows), so none deadlocks with the version triggers.

What happens when tasks or lists change, every time, whichever function below made the change:
1. `updated_at` moves to the time of the write, and `completed_at` follows `completed`: set
   when a task becomes completed, cleared when it is reopened, left alone otherwise
   (`derive_columns`, the only code that sets either; a database constraint on `Task` holds
   "completed if and only if completed_at is set").
2. A write that carries the ETag its client last saw (`If-Match`) first reads the task under
   a row lock and raises `PreconditionFailed` (412) when it has changed since; so does every
   toggle, which must read what it flips. Of two writers holding one ETag, one wins.
3. Completing a recurring task creates its next occurrence in the same transaction, whichever
   function completes it (`spawn_next_occurrences`): a pending copy due at the series' next
   date after both its due_at and now, in the same list, at the end of its group, with
   pending copies of its subtasks. The completed task keeps the new one's id
   (`next_occurrence_id`, unique), and only a task without one spawns, under a row lock, so
   completing twice, or twice at once, creates one. A task that gets a recurrence, or a new
   rule or zone, starts a series of its own (`series_id` its id, `series_start` its due_at).
4. The owner's `tasks_version` is bumped by the database in the same statement (the triggers
   declared on `Task`), which makes every cached read of theirs unreachable (tasks/caching.py).
   Lists carry the same triggers, so list writes invalidate too.
5. `announce`, the one hook for whatever must follow a change (live events, reminders,
   webhooks): inside the transaction, after the write's last statement, under the owners'
   locks, `tasks.signals.tasks_written` is sent with the ids of the tasks and lists written
   and deleted, for what must commit with the write (webhook deliveries); once the
   transaction has committed, `tasks_changed` with the tasks' and `lists_changed` with the
   lists'. Nothing after-commit is sent for a write that rolled back. Imports send only
   `tasks_written`.
6. Placement (`place`): `list_id` and `parent_id` are checked against the owner's lists and
   tasks (400s naming the field); a subtask lives in its parent's list, one level deep. A
   task that is new, or whose list or parent a write changes, goes to the end of its sibling
   group (same list, same parent); a parent whose list changes takes its subtasks along.
   Deleting a task deletes its subtasks; deleting a list, its tasks.
7. Completing a task, by any function here, completes its pending subtasks in the same
   transaction; reopening it reopens none.
8. Reminders (tasks/reminders.py): a write that sets `reminders`, or moves the `due_at` of a
   task that has some, stores each with its `fire_at` (a relative one without `due_at` is a
   ValidationError naming `reminders`) and brings the task's schedule (`Reminder`) in step
   (`schedule_reminders`): a reminder whose `fire_at` this write moves (or sets) is armed
   if that time is still ahead, and never fires otherwise; one whose `fire_at` it keeps is
   left as it was. A next occurrence carries the relative reminders, armed for its due_at.
"""

import json
from collections import Counter
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import DatabaseError, IntegrityError, connection, transaction
from django.db.models import JSONField, Q, QuerySet
from django.utils import timezone
from rest_framework.exceptions import ValidationError

from accounts.models import User
from tasks import caching, recurrence, reminders
from tasks.models import MAX_LISTS_PER_USER, Reminder, Task, TaskList
from tasks.positions import position_after, position_between, positions_for
from tasks.signals import ListChange, TaskChange, lists_changed, tasks_changed, tasks_written


def task_create(*, user: User, data: dict[str, Any]) -> Task:
    """A new task of `user` with the validated `data`, at the end of its sibling group.

    `data` may name `list_id` and `parent_id`; a bad one is a ValidationError (400) naming it.
    """
    now = timezone.now()
    with transaction.atomic():
        owners = lock_owners([user.pk])
        task = Task(user=user, created_at=now)
        data = dict(data)
        list_id, parent_id = place(user_id=user.pk, task=None, data=data)
        for name, value in data.items():
            setattr(task, name, value)
        task.list_id, task.parent_id = list_id, parent_id
        task.position = end_of_group(user.pk, list_id, parent_id)
        task.reminders = resolve_reminders(task.reminders, task.due_at)
        derive_columns(task, now, completion_written=True)
        if task.recurrence:
            task.series_start = task.due_at
        task.save(force_insert=True)
        arm_reminders([task], now)
        spawned = []
        if task.recurrence:
            task.series_id = task.pk  # the first task of its series
            spawned = spawn_next_occurrences([task], now) if task.completed else []
            Task.objects.filter(pk=task.pk).update(
                series_id=task.series_id, next_occurrence_id=task.next_occurrence_id
            )
        announce(
            [TaskChange(user_id=user.pk, task_id=t.pk) for t in [task, *spawned]],
            webhook_owners=owners,
        )
    return task


def task_update(*, task: Task, data: dict[str, Any], if_match: str | None = None) -> Task:
    """Write `data` (validated fields) to `task`; only those columns and the derived ones.

    A concurrent write to a column this one does not name survives it. Raises
    `Task.DoesNotExist` when the task was deleted meanwhile, ValidationError for a bad
    `list_id`/`parent_id`, `PreconditionFailed` for a stale `if_match`.
    """
    with transaction.atomic():
        owners = lock_owners([task.user_id])
        # Read again under the owner's lock: the rules below compare with the task as it is.
        task = lock(task, if_match)
        changes = write_task(task, dict(data))
        announce(changes, webhook_owners=owners)
    return task


def task_complete(
    *, task: Task, completed: bool | None = None, if_match: str | None = None
) -> Task:
    """Set `completed`, or flip it when `completed` is None; under a row lock, so two
    concurrent toggles flip the task twice rather than once. Setting the value the task
    already has writes nothing (its `updated_at` and ETag stay)."""
    with transaction.atomic():
        owners = lock_owners([task.user_id])
        task = lock(task, if_match)
        if completed is not None and task.completed == completed:
            return task
        changes = write_task(
            task, {"completed": not task.completed if completed is None else completed}
        )
        announce(changes, webhook_owners=owners)
    return task


def task_delete(*, task: Task, if_match: str | None = None) -> None:
    """Delete `task` and its subtasks."""
    with transaction.atomic():
        owners = lock_owners([task.user_id])
        if if_match is not None:
            task = lock(task, if_match)
        subtasks = list(Task.objects.filter(parent_id=task.pk).values_list("pk", flat=True))
        if not Task.objects.filter(pk=task.pk).delete()[0]:
            raise Task.DoesNotExist()
        announce(
            [
                TaskChange(user_id=task.user_id, task_id=pk, deleted=True)
                for pk in [task.pk, *subtasks]
            ],
            webhook_owners=owners,
        )


def task_move(
    *,
    task: Task,
    before: int | None = None,
    after: int | None = None,
    group: dict[str, int | None] | None = None,
    if_match: str | None = None,
) -> Task:
    """Place `task` just before the sibling `before`, just after `after`, or (neither) at the
    end of its group; `group` (`list_id` and/or `parent_id`) moves it into another group first,
    under the rules of `place`. Writes this task's `position` (and, for a parent that changes
    list, its subtasks' list) and no other row. A neighbour that is not in the target group is
    a ValidationError naming `before`/`after`.
    """
    with transaction.atomic():
        owners = lock_owners([task.user_id])
        task = lock(task, if_match)
        data: dict[str, Any] = dict(group or {})
        # The target group first (write_task checks and applies it again), so the neighbour
        # is looked for among the right siblings.
        list_id, parent_id = place(user_id=task.user_id, task=task, data=dict(data))
        siblings = Task.objects.filter(
            user_id=task.user_id, list_id=list_id, parent_id=parent_id
        ).exclude(pk=task.pk)
        position = neighbour_position(siblings, before=before, after=after)
        changes = write_task(task, data, position=position)
        announce(changes, webhook_owners=owners)
    return task


def tasks_set_completed(*, queryset: QuerySet[Task], completed: bool) -> int:
    """Complete (or reopen) the tasks of `queryset`, of any owners; returns how many changed.

    Completing also completes the pending subtasks of those tasks (and counts them). Tasks
    already in the wanted state are left alone, so their `completed_at` and `updated_at` keep
    telling the truth. The tasks are locked, then changed in one UPDATE.
    """
    with transaction.atomic():
        owners = lock_owners(queryset.order_by().values_list("user_id", flat=True))
        chosen = queryset.order_by().values("pk")
        targets = Q(pk__in=chosen) | Q(parent__in=chosen) if completed else Q(pk__in=chosen)
        tasks = list(
            Task.objects.filter(targets)
            .exclude(completed=completed)
            .select_for_update()
            .order_by("pk")
        )
        now = timezone.now()
        Task.objects.filter(pk__in=[task.pk for task in tasks]).update(
            completed=completed, completed_at=now if completed else None, updated_at=now
        )
        spawned = spawn_next_occurrences(tasks, now) if completed else []
        if spawned:
            Task.objects.bulk_update(
                [task for task in tasks if task.next_occurrence_id], ["next_occurrence_id"]
            )
        announce(
            [TaskChange(user_id=t.user_id, task_id=t.pk) for t in [*tasks, *spawned]],
            webhook_owners=owners,
        )
    return len(tasks)


def tasks_delete(*, queryset: QuerySet[Task]) -> int:
    """Delete the tasks of `queryset`, of any owners, and their subtasks; returns how many
    were deleted, subtasks included."""
    with transaction.atomic():
        owners = lock_owners(queryset.order_by().values_list("user_id", flat=True))
        chosen = queryset.order_by().values("pk")
        rows = list(
            Task.objects.filter(Q(pk__in=chosen) | Q(parent__in=chosen))
            .select_for_update()
            .order_by()
            .values_list("pk", "user_id")
        )
        Task.objects.filter(pk__in=[pk for pk, _ in rows]).delete()
        announce(
            [TaskChange(user_id=owner, task_id=pk, deleted=True) for pk, owner in rows],
            webhook_owners=owners,
        )
    return len(rows)


def tasks_import(*, tasks: Iterable[Task]) -> int:
    """Insert many new tasks that carry their own history (`created_at`, `updated_at`), as
    `seed_demo` makes them; a completed one was completed at its last update. Each carries
    its `position` (and `list_id`/`parent_id`, which the caller has made consistent). COPY on
    PostgreSQL, several times faster than multi-row INSERTs for big loads; one transaction.
    Tasks without an id get one from `task_ids_reserve`.
    """
    tasks = list(tasks)
    missing = [task for task in tasks if task.pk is None]
    for task, pk in zip(missing, task_ids_reserve(count=len(missing)), strict=True):
        task.pk = pk
    for task in tasks:
        derive_columns(task, task.updated_at, completion_written=True)
    with transaction.atomic():
        if connection.vendor == "postgresql":
            copy_tasks(tasks)
        else:
            Task.objects.bulk_create(tasks, batch_size=1000)
        # The owners' caches were invalidated by the trigger, and an import is nothing live
        # streams need to hear of; what must commit with it (webhook deliveries) is told.
        written([TaskChange(user_id=task.user_id, task_id=task.pk) for task in tasks])
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
    `next_occurrence_id` for the caller to save, each with pending copies of the completed
    task's subtasks. Returns the new tasks (subtask copies included)."""
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
    # Each new occurrence goes to the end of its group; several may share one group.
    last: dict[tuple, str | None] = {}
    for _, new in pairs:
        group = (new.user_id, new.list_id, new.parent_id)
        if group not in last:
            last[group] = end_of_group(*group)
        else:
            last[group] = position_after(last[group])
        new.position = last[group]
    Task.objects.bulk_create([new for _, new in pairs])
    arm_reminders([new for _, new in pairs], now)
    for task, new in pairs:
        task.next_occurrence_id = new.pk
    copies = copy_subtasks(pairs, now)
    return [new for _, new in pairs] + copies


def next_occurrence(task: Task, due_at: datetime, now: datetime) -> Task:
    return Task(
        user_id=task.user_id,
        title=task.title,
        description=task.description,
        priority=task.priority,
        tags=list(task.tags),
        due_at=due_at,
        list_id=task.list_id,
        parent_id=task.parent_id,
        recurrence=task.recurrence,
        timezone=task.timezone,
        series_id=task.series_id,
        series_start=task.series_start,
        # Relative reminders only: a fixed time belongs to the occurrence it was set on.
        reminders=reminders.resolve(
            [reminder for reminder in task.reminders if reminders.is_relative(reminder)], due_at
        ),
        created_at=now,
        updated_at=now,
    )


def resolve_reminders(given: list[dict[str, Any]], due_at: datetime | None) -> list[dict]:
    """`given` (parsed or stored reminders) as the task stores them, for this `due_at`."""
    try:
        return reminders.resolve(given, due_at)
    except DjangoValidationError as error:
        raise field_error("reminders", error.messages[0]) from None


def arm_reminders(tasks: list[Task], now: datetime) -> None:
    """Schedule the reminders of new `tasks` that fire after `now` (one query, none without)."""
    Reminder.objects.bulk_create(
        Reminder(task_id=task.pk, fire_at=fire_at)
        for task in tasks
        for fire_at in reminders.fire_times(task.reminders)
        if fire_at > now
    )


def schedule_reminders(task: Task, now: datetime) -> None:
    """Bring the schedule of `task` in step with its (just written) `reminders`: a row whose
    time is still wanted stays as it is, one that is not is dropped, and a wanted time
    without a row is armed if it is after `now` (a past one never fires)."""
    wanted = Counter(reminders.fire_times(task.reminders))
    stale = []
    for pk, fire_at in Reminder.objects.filter(task_id=task.pk).values_list("pk", "fire_at"):
        if wanted[fire_at] > 0:
            wanted[fire_at] -= 1
        else:
            stale.append(pk)
    if stale:
        Reminder.objects.filter(pk__in=stale).delete()
    Reminder.objects.bulk_create(
        Reminder(task_id=task.pk, fire_at=fire_at) for fire_at in wanted.elements() if fire_at > now
    )


def copy_subtasks(pairs: list[tuple[Task, Task]], now: datetime) -> list[Task]:
    """Pending copies of each completed task's subtasks under its new occurrence, in their
    order (one query to read them, one to insert)."""
    new_parent = {task.pk: new for task, new in pairs}
    subtasks = Task.objects.filter(parent_id__in=list(new_parent)).order_by("parent_id", "position")
    copies: list[Task] = []
    by_parent: dict[int, list[Task]] = {}
    for subtask in subtasks:
        by_parent.setdefault(subtask.parent_id, []).append(subtask)
    for parent_id, children in by_parent.items():
        parent = new_parent[parent_id]
        for child, position in zip(children, positions_for(len(children)), strict=True):
            copies.append(
                Task(
                    user_id=child.user_id,
                    title=child.title,
                    description=child.description,
                    priority=child.priority,
                    tags=list(child.tags),
                    list_id=parent.list_id,
                    parent_id=parent.pk,
                    position=position,
                    created_at=now,
                    updated_at=now,
                )
            )
    return Task.objects.bulk_create(copies)


def lists_import(*, lists: Iterable[TaskList]) -> list[TaskList]:
    """Insert many new lists that carry their positions (seed_demo); one transaction. The
    caller keeps names unique per user; the constraint refuses a duplicate all the same."""
    with transaction.atomic():
        created = TaskList.objects.bulk_create(list(lists), batch_size=1000)
        written(
            [ListChange(user_id=task_list.user_id, list_id=task_list.pk) for task_list in created]
        )
    return created


def task_ids_reserve(*, count: int) -> list[int]:
    """`count` ids for tasks that `tasks_import` will insert, so that an import can name
    parents within itself. PostgreSQL draws them from the id sequence; on SQLite (one
    development process) they follow the largest id."""
    if count <= 0:
        return []
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)",
                [Task._meta.db_table, count],
            )
            return [row[0] for row in cursor.fetchall()]
    start = (Task.objects.order_by("-pk").values_list("pk", flat=True).first() or 0) + 1
    return list(range(start, start + count))


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


def lock(task: Task, if_match: str | None) -> Task:
    """The task as it is now, locked until the transaction ends, checked against `if_match`.
    Only a task of `task.user_id` is found: `task` may be a reference (`task_reference`) that
    was never read, and is then read here for the first time."""
    current = Task.objects.select_for_update().get(pk=task.pk, user_id=task.user_id)
    caching.check_if_match(if_match, current)
    return current


def task_reference(*, user: User, task_id: int) -> Task:
    """A task of `user` named by id and not read: for a write that reads it under its lock
    anyway (`task_complete`, `task_move`), which saves reading it twice. A task that is not
    `user`'s, or none, is then a `Task.DoesNotExist` (404)."""
    return Task(pk=task_id, user_id=user.pk)


def lock_owners(user_ids: Iterable[str] | QuerySet) -> set[str]:
    """Lock the owners' user rows until the transaction ends, in id order (see the module
    docstring: it serialises each user's writes and fixes the lock order). `user_ids` may be
    a values_list queryset, which is then a subquery of the one locking query.

    Returns those of the owners who have an active webhook, for `announce`: read in the
    locking query, and webhooks change under this lock too, so it stays true until the
    transaction ends."""
    ids = user_ids if isinstance(user_ids, QuerySet) else sorted(set(user_ids))
    rows = (
        User.objects.select_for_update()
        .filter(pk__in=ids)
        .order_by("pk")
        .values_list("pk", "has_active_webhooks")
    )
    return {pk for pk, has_active_webhooks in rows if has_active_webhooks}


def field_error(field: str, message: str) -> ValidationError:
    return ValidationError({field: [message]})


def place(
    *, user_id: str, task: Task | None, data: dict[str, Any]
) -> tuple[int | None, int | None]:
    """The (list_id, parent_id) that `task` (None: a new task) gets from `data`, checked
    against the owner's rows as they are now (call under `lock_owners`). Removes both keys
    from `data`. Raises a ValidationError naming `parent_id` for a missing, foreign, nested
    or own parent and for a task with subtasks becoming a subtask, and naming `list_id` for a
    missing or foreign list or one other than the parent's.
    """
    has_list, has_parent = "list_id" in data, "parent_id" in data
    list_id = data.pop("list_id", task.list_id if task else None)
    parent_id = data.pop("parent_id", task.parent_id if task else None)
    if parent_id is None:
        if has_list and list_id is not None:
            if not TaskList.objects.filter(user_id=user_id, pk=list_id).exists():
                raise field_error("list_id", "No such list.")
        return list_id, None
    if has_parent:
        if task is not None and parent_id == task.pk:
            raise field_error("parent_id", "A task cannot be its own parent.")
        parent = (
            Task.objects.filter(user_id=user_id, pk=parent_id)
            .values_list("parent_id", "list_id")
            .first()
        )
        if parent is None:
            raise field_error("parent_id", "No such task.")
        if parent[0] is not None:
            raise field_error("parent_id", "That task is a subtask; subtasks have no subtasks.")
        if task is not None and Task.objects.filter(parent_id=task.pk).exists():
            raise field_error("parent_id", "This task has subtasks, so it cannot be a subtask.")
        parent_list = parent[1]
    else:
        # An existing subtask staying under its parent: it is in its parent's list already.
        parent_list = task.list_id if task else None
    if has_list and list_id != parent_list:
        raise field_error("list_id", "A subtask is always in its parent's list.")
    return parent_list, parent_id


def end_of_group(user_id: str, list_id: int | None, parent_id: int | None) -> str:
    """A position after every task of the sibling group (call under `lock_owners`)."""
    siblings = Task.objects.filter(user_id=user_id, list_id=list_id, parent_id=parent_id)
    return position_after(
        in_order(siblings, descending=True).values_list("position", flat=True).first()
    )


def in_order(siblings: QuerySet, *, descending: bool = False) -> QuerySet:
    """One sibling group (tasks, or a user's lists) in position order, so that PostgreSQL
    reads a row at either end from the index and stops there. A task group is found by
    `list_id IS NULL` or `parent_id IS NULL`, which the planner does not take as fixing those
    columns: ordered by position alone, it sorted the whole group on every create. Naming the
    group's columns too matches task_user_group_position_idx (user, list, parent, position)."""
    columns = ("list_id", "parent_id", "position") if siblings.model is Task else ("position",)
    return siblings.order_by(*(f"-{column}" if descending else column for column in columns))


def neighbour_position(siblings: QuerySet, *, before: int | None, after: int | None) -> str:
    """A position just before the row `before` of `siblings`, just after `after`, or after
    all of them; `siblings` excludes the row being placed. Raises a ValidationError naming
    `before`/`after` when that row is not among `siblings`."""
    anchor_id, field = (before, "before") if before is not None else (after, "after")
    if anchor_id is None:
        last = in_order(siblings, descending=True).values_list("position", flat=True).first()
        return position_after(last)
    anchor = siblings.filter(pk=anchor_id).values_list("position", flat=True).first()
    if anchor is None:
        raise field_error(field, "Not one of the items of the group it is placed in.")
    if before is not None:
        previous = (
            in_order(siblings.filter(position__lt=anchor), descending=True)
            .values_list("position", flat=True)
            .first()
        )
        return position_between(previous, anchor)
    following = (
        in_order(siblings.filter(position__gt=anchor)).values_list("position", flat=True).first()
    )
    return position_between(anchor, following)


def write_task(task: Task, data: dict[str, Any], position: str | None = None) -> list[TaskChange]:
    """Apply `data` to the (locked) `task` with placement, subtask and completion rules; the
    changes to announce. `position`: where a move puts it (else the end of its group, when
    its group changes)."""
    old_list, old_parent, was_completed = task.list_id, task.parent_id, task.completed
    list_id, parent_id = place(user_id=task.user_id, task=task, data=data)
    data.update(series_changes(task, data))
    if "reminders" in data or ("due_at" in data and task.reminders):
        data["reminders"] = resolve_reminders(
            data.get("reminders", task.reminders), data.get("due_at", task.due_at)
        )
    fields = set(data)
    for name, value in data.items():
        setattr(task, name, value)
    task.list_id, task.parent_id = list_id, parent_id
    if (list_id, parent_id) != (old_list, old_parent):
        fields |= {"list_id", "parent_id", "position"}
        task.position = end_of_group(task.user_id, list_id, parent_id)
    if position is not None:
        fields.add("position")
        task.position = position
    spawned = spawn_next_occurrences([task]) if task.completed and not was_completed else []
    if spawned:
        fields.add("next_occurrence_id")
    save_changes(task, fields)
    if "reminders" in fields:
        schedule_reminders(task, task.updated_at)
    changes = [TaskChange(user_id=t.user_id, task_id=t.pk) for t in [task, *spawned]]
    if parent_id is not None:
        return changes  # a subtask has no subtasks of its own
    subtasks = Task.objects.filter(parent_id=task.pk)
    now = task.updated_at
    if list_id != old_list:
        moved = list(subtasks.values_list("pk", flat=True))
        if moved:
            Task.objects.filter(pk__in=moved).update(list_id=list_id, updated_at=now)
        changes += [TaskChange(user_id=task.user_id, task_id=pk) for pk in moved]
    if task.completed and not was_completed:
        finished = list(subtasks.filter(completed=False).values_list("pk", flat=True))
        if finished:
            Task.objects.filter(pk__in=finished).update(
                completed=True, completed_at=now, updated_at=now
            )
        changes += [TaskChange(user_id=task.user_id, task_id=pk) for pk in finished]
    return changes


def announce(
    changes: list[TaskChange],
    lists: list[ListChange] | None = None,
    *,
    webhook_owners: set[str] | None = None,
) -> None:
    """The hook of every write (point 5 of the module docstring): call it inside the write's
    transaction, after its last statement, with what `lock_owners` returned."""
    lists = lists or []
    written([*changes, *lists], webhook_owners)
    if changes:
        transaction.on_commit(lambda: tasks_changed.send(sender=Task, changes=changes))
    if lists:
        transaction.on_commit(lambda: lists_changed.send(sender=TaskList, changes=lists))


def written(changes: list[TaskChange | ListChange], webhook_owners: set[str] | None = None) -> None:
    """`tasks_written`, once per write that changed anything (tasks/signals.py)."""
    if changes:
        tasks_written.send(sender=Task, changes=changes, webhook_owners=webhook_owners)


def list_create(*, user: User, data: dict[str, Any]) -> TaskList:
    """A new list of `user` at the end of their lists. A name the user already has (ignoring
    case) or a 501st list is a ValidationError (400)."""
    now = timezone.now()
    with transaction.atomic():
        owners = lock_owners([user.pk])
        lists = TaskList.objects.filter(user=user)
        if lists.count() >= MAX_LISTS_PER_USER:
            raise field_error(
                "name", f"You have {MAX_LISTS_PER_USER} lists, the most there can be."
            )
        last = in_order(lists, descending=True).values_list("position", flat=True).first()
        task_list = TaskList(
            user=user, **data, position=position_after(last), created_at=now, updated_at=now
        )
        save_list(task_list, force_insert=True)
        announce([], [ListChange(user_id=user.pk, list_id=task_list.pk)], webhook_owners=owners)
    return task_list


def list_update(
    *, task_list: TaskList, data: dict[str, Any], if_match: str | None = None
) -> TaskList:
    """Write `data` (validated `name`/`color`) to the list. Raises `TaskList.DoesNotExist`
    when it was deleted meanwhile."""
    with transaction.atomic():
        owners = lock_owners([task_list.user_id])
        task_list = lock_list(task_list, if_match)
        for name, value in data.items():
            setattr(task_list, name, value)
        task_list.updated_at = timezone.now()
        save_list(task_list, update_fields={*data, "updated_at"})
        announce(
            [],
            [ListChange(user_id=task_list.user_id, list_id=task_list.pk)],
            webhook_owners=owners,
        )
    return task_list


def list_delete(*, task_list: TaskList, if_match: str | None = None) -> None:
    """Delete the list, its tasks and their subtasks."""
    with transaction.atomic():
        owners = lock_owners([task_list.user_id])
        task_list = lock_list(task_list, if_match)
        tasks = list(Task.objects.filter(list_id=task_list.pk).values_list("pk", flat=True))
        task_list.delete()
        announce(
            [TaskChange(user_id=task_list.user_id, task_id=pk, deleted=True) for pk in tasks],
            [ListChange(user_id=task_list.user_id, list_id=task_list.pk, deleted=True)],
            webhook_owners=owners,
        )


def list_move(
    *,
    task_list: TaskList,
    before: int | None = None,
    after: int | None = None,
    if_match: str | None = None,
) -> TaskList:
    """Place the list just before the list `before`, after `after`, or at the end; writes
    this list's `position` only."""
    with transaction.atomic():
        owners = lock_owners([task_list.user_id])
        task_list = lock_list(task_list, if_match)
        siblings = TaskList.objects.filter(user_id=task_list.user_id).exclude(pk=task_list.pk)
        task_list.position = neighbour_position(siblings, before=before, after=after)
        task_list.updated_at = timezone.now()
        save_list(task_list, update_fields={"position", "updated_at"})
        announce(
            [],
            [ListChange(user_id=task_list.user_id, list_id=task_list.pk)],
            webhook_owners=owners,
        )
    return task_list


def lock_list(task_list: TaskList, if_match: str | None) -> TaskList:
    current = TaskList.objects.select_for_update().get(pk=task_list.pk)
    caching.check_if_match(if_match, current)
    return current


def save_list(task_list: TaskList, **kwargs: Any) -> None:
    try:
        with transaction.atomic():
            task_list.save(**kwargs)
    except IntegrityError:
        # The one constraint a valid list can break: the name, unique per user ignoring case.
        raise field_error("name", "You already have a list with this name.") from None


def copy_tasks(tasks: list[Task]) -> None:
    """PostgreSQL's COPY of every column (ids reserved by `task_ids_reserve`), JSON columns
    as JSON text."""
    fields = list(Task._meta.concrete_fields)
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
