"""Background work of the notifications app, run by Celery workers (config/celery.py): firing
due reminders, and sending pushes (thin wrappers over notifications/push.py, where that
behaviour lives and is tested without a worker)."""

import logging
import time
from datetime import UTC, datetime, timedelta

from celery import shared_task
from django.db import connection, transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from notifications import push
from notifications.signals import reminder_fired
from tasks.datetimes import rfc3339
from tasks.models import Reminder, Task
from tasks.serializers import TaskSerializer

logger = logging.getLogger(__name__)

# A reminder more than this late (no worker ran) is dropped rather than fired.
LATE_LIMIT = timedelta(hours=1)
BATCH_SIZE = 500
# One run stops claiming new batches after this long, well within the task's soft time limit;
# the next run (beat starts one every REMINDERS_FIRE_EVERY_SECONDS) goes on.
RUN_SECONDS = 30


@shared_task(name="notifications.fire_due_reminders")
def fire_due_reminders() -> int:
    """Fire every reminder that is due (`fire_at` now or earlier), in batches of BATCH_SIZE;
    returns how many fired. Beat starts it every few seconds, on every beat process.

    Safe to run any number of times at once and to kill at any moment: each batch is one
    transaction that claims its reminders by deleting their schedule rows (`claim`), which
    only one transaction can do, and sends `reminder_fired` for each inside it, so a batch
    and its deliveries commit together or not at all. A run killed mid-batch leaves that
    batch's rows to the next run. Dropped without firing: a reminder more than LATE_LIMIT
    late, and one whose task is completed when it comes due (a deleted task takes its rows
    along). Never fires one before its `fire_at`.
    """
    fired = 0
    stop_at = time.monotonic() + RUN_SECONDS
    while True:
        count, more = fire_batch(timezone.now())
        fired += count
        if not more or time.monotonic() > stop_at:
            return fired


def fire_batch(now: datetime, size: int = BATCH_SIZE) -> tuple[int, bool]:
    """Claim and fire up to `size` reminders due at `now`, in one transaction; how many fired,
    and whether more may be due. Three queries whatever the batch holds, plus what the
    receivers of `reminder_fired` write."""
    with transaction.atomic():
        claimed = claim(now, size)
        if not claimed:
            return 0, False
        tasks = Task.objects.filter(pk__in={task_id for task_id, _ in claimed}, completed=False)
        answers = {task.pk: (task.user_id, TaskSerializer(task).data) for task in tasks}
        fired = 0
        for task_id, fire_at in sorted(claimed, key=lambda row: row[1]):
            if task_id not in answers or fire_at < now - LATE_LIMIT:
                continue
            user_id, answer = answers[task_id]
            payload = {"type": "reminder", "task": answer, "fire_at": rfc3339(fire_at)}
            reminder_fired.send(sender=Reminder, user_id=user_id, payload=payload)
            fired += 1
    if fired < len(claimed):
        logger.info(
            "Dropped %d reminders (task completed, or over an hour late).", len(claimed) - fired
        )
    return fired, len(claimed) == size


def claim(now: datetime, size: int) -> list[tuple[int, datetime]]:
    """Delete up to `size` schedule rows due at `now`, soonest first, and return their
    (task id, fire_at). A row is deleted by one transaction only, so concurrent claimers
    never share one. PostgreSQL skips the rows another claimer holds (SKIP LOCKED) instead of
    waiting for it; SQLite runs one writer at a time anyway."""
    table = Reminder._meta.db_table
    skip_locked = " FOR UPDATE SKIP LOCKED" if connection.vendor == "postgresql" else ""
    with connection.cursor() as cursor:
        cursor.execute(
            f"DELETE FROM {table} WHERE id IN (SELECT id FROM {table} WHERE fire_at <= %s "
            f"ORDER BY fire_at LIMIT %s{skip_locked}) RETURNING task_id, fire_at",
            [connection.ops.adapt_datetimefield_value(now), size],
        )
        return [(task_id, aware(fire_at)) for task_id, fire_at in cursor.fetchall()]


def aware(value: datetime | str) -> datetime:
    """A raw cursor's datetime: aware from PostgreSQL, UTC text from SQLite."""
    if isinstance(value, str):
        return parse_datetime(value).replace(tzinfo=UTC)
    return value.astimezone(UTC)


@shared_task(name="notifications.send_push")
def send_push(message_id: int) -> None:
    """Send one queued push (`push.deliver`); a failure worth another try queues this task
    again after the backoff delay. Safe to run twice: a message is sent at most once per
    claim, and never again once marked sent."""
    delivery = push.deliver(message_id)
    if delivery.retry_in is not None:
        send_push.apply_async((message_id,), countdown=delivery.retry_in)


@shared_task(name="notifications.sweep_push_messages")
def sweep_push_messages() -> None:
    """Every minute (CELERY_BEAT_SCHEDULE): queue again the pushes whose task was lost, give
    up those past their TTL and forget old finished ones (`push.sweep`)."""
    for message_id in push.sweep():
        send_push.delay(message_id)
