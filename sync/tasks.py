"""Background work of the sync app, run by Celery workers (config/celery.py)."""

from celery import shared_task
from django.utils import timezone

from sync import live


@shared_task(name="sync.purge_fired_reminders")
def purge_fired_reminders() -> int:
    """Delete the fired reminders older than live.FIRED_REMINDER_RETENTION, which no stream
    reads any more; returns how many. Safe to run twice or at once."""
    return live.purge_fired_reminders(before=timezone.now() - live.FIRED_REMINDER_RETENTION)
