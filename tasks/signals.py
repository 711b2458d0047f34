"""What the write path tells the rest of the service about a change, during its transaction
and after it has committed.

Apps that react to changes (the change feed's listeners, live events, reminders, webhooks)
connect to these; tasks knows nothing of them.

- `tasks_written` is sent inside the write's transaction, once per write, after its rows are
  written and while its owners' user rows are locked (which serialises each owner's writes,
  so what a receiver reads of that owner is exactly the state right after this write).
  Receivers record what must commit with the write (an outbox) and must not call the outside
  world: an exception rolls the write back. Imports send it too.
- `tasks_changed` and `lists_changed` are sent after the commit, in the writer's process and
  request: receivers must be quick, and must not fail the write (it has already happened).
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


# Sent with `changes: list[TaskChange | ListChange]`, inside each write's transaction, and
# `webhook_owners: set[str] | None`: those of the changes' owners who have an active webhook,
# read under their lock (None from imports, which do not know: a receiver then looks).
tasks_written = Signal()
# Sent with `changes: list[TaskChange]`, once per committed write.
tasks_changed = Signal()
# Sent with `changes: list[ListChange]`, once per committed write of lists.
lists_changed = Signal()
