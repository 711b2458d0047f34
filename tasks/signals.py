"""What the write path tells the rest of the service after a change has committed.

Apps that react to changes (the change feed's listeners, live events, reminders, webhooks)
connect to `tasks_changed`; tasks knows nothing of them. Receivers run after the commit, in
the writer's process and request: they must be quick, and must not fail the write (it has
already happened).
"""

from dataclasses import dataclass

from django.dispatch import Signal


@dataclass(frozen=True)
class TaskChange:
    """One task written (created or updated) or deleted, and whose it is."""

    user_id: str
    task_id: int
    deleted: bool = False


@dataclass(frozen=True)
class ListChange:
    """One list written (created, renamed, moved) or deleted, and whose it is."""

    user_id: str
    list_id: int
    deleted: bool = False


# Sent with `changes: list[TaskChange]`, once per committed write.
tasks_changed = Signal()
# Sent with `changes: list[ListChange]`, once per committed write of lists.
lists_changed = Signal()
